#include "dns/server/tcp.hpp"

#include <exception>

#include "core/log.hpp"
#include "dns/server/tcp_frame.hpp"
#include "dns/server/worker.hpp"

namespace cairn::dns {

namespace {

constexpr std::size_t max_answer = 65535;
// Room for several answers per write; flushed before an answer might not fit.
constexpr std::size_t out_capacity = 4 * (2 + max_answer);
// Write slots kept for reuse per connection, so that a steady stream of
// answers allocates nothing.
constexpr std::size_t spare_slots = 2;

} // namespace

// One queued write: the bytes must live until libuv's callback.
struct WriteSlot {
    uv_write_t req{};
    TcpConnection* connection = nullptr;
    std::vector<std::uint8_t> data;
};

class TcpConnection {
public:
    explicit TcpConnection(TcpServer& s) : server(s) { handle.data = this; }

    enum class Reading : std::uint8_t { active, paused, done };

    uv_tcp_t handle{};
    TcpServer& server;
    FrameBuffer frames;
    sockaddr_storage peer{};
    TcpConnection* older = nullptr;
    TcpConnection* newer = nullptr;
    std::uint64_t last_active_ms = 0;
    std::size_t queued_bytes = 0;
    unsigned writes_in_flight = 0;
    Reading reading = Reading::active;
    bool shutting_down = false;
    bool closing = false;
    uv_shutdown_t shutdown_req{};
    std::vector<std::unique_ptr<WriteSlot>> spare;

    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }

    static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept
    {
        auto* c = static_cast<TcpConnection*>(h->data);
        try {
            auto space = c->frames.writable();
            *buf = uv_buf_init(reinterpret_cast<char*>(space.data()), static_cast<unsigned>(space.size()));
        } catch (const std::exception&) {
            *buf = uv_buf_init(nullptr, 0); // read_cb gets UV_ENOBUFS and closes
        }
    }

    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept
    {
        auto* c = static_cast<TcpConnection*>(s->data);
        try {
            c->server.on_read(*c, nread);
        } catch (const std::exception& e) {
            log::warn("dns.tcp connection failed", {{"error", e.what()}});
            c->server.close(*c);
        }
    }

    static void on_shutdown(uv_shutdown_t* req, int status) noexcept
    {
        auto* c = static_cast<TcpConnection*>(req->handle->data);
        c->server.on_shutdown(*c, status);
    }

    // After the shutdown, bytes the client still sends go to the server's
    // scratch space and are dropped.
    static void on_discard_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept
    {
        auto* c = static_cast<TcpConnection*>(h->data);
        *buf = uv_buf_init(reinterpret_cast<char*>(c->server.out_.get()), static_cast<unsigned>(out_capacity));
    }

    static void on_discard_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept
    {
        auto* c = static_cast<TcpConnection*>(s->data);
        if (nread < 0)
            c->server.close(*c);
    }

    static void on_written(uv_write_t* req, int status) noexcept
    {
        auto* slot = static_cast<WriteSlot*>(req->data);
        auto* c = slot->connection;
        try {
            c->server.on_written(*c, slot, status);
        } catch (const std::exception& e) {
            log::warn("dns.tcp connection failed", {{"error", e.what()}});
            c->server.close(*c);
        }
    }
};

TcpServer::TcpServer(Loop& loop, Responder& responder, WorkerStats& stats, TcpLimits limits)
    : loop_(loop), responder_(responder), stats_(stats), limits_(limits),
      idle_timer_(std::make_unique<Timer>(loop)), grace_timer_(std::make_unique<Timer>(loop)),
      out_(new std::uint8_t[out_capacity])
{
    if (limits_.max_connections == 0)
        limits_.max_connections = 1;
}

TcpServer::~TcpServer() = default;

bool TcpServer::listen(UniqueFd fd)
{
    auto* listener = new uv_tcp_t;
    uv_tcp_init(loop_.get(), listener);
    listener->data = this;
    auto close_listener = [](uv_tcp_t* l) {
        uv_close(reinterpret_cast<uv_handle_t*>(l), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    };
    if (int rc = uv_tcp_open(listener, fd.get()); rc != 0) {
        log::error("dns.tcp open failed", {{"error", uv_strerror(rc)}});
        close_listener(listener);
        return false;
    }
    (void)fd.release(); // the handle owns it now
    if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener), 1024, on_connection); rc != 0) {
        log::error("dns.tcp listen failed", {{"error", uv_strerror(rc)}});
        close_listener(listener);
        return false;
    }
    listeners_.push_back(listener);
    return true;
}

void TcpServer::on_connection(uv_stream_t* listener, int status) noexcept
{
    auto* self = static_cast<TcpServer*>(listener->data);
    if (status < 0) {
        log::warn("dns.tcp accept error", {{"error", uv_strerror(status)}});
        return;
    }
    try {
        self->accept(listener);
    } catch (const std::exception& e) {
        log::warn("dns.tcp accept failed", {{"error", e.what()}});
    }
}

void TcpServer::accept(uv_stream_t* listener)
{
    auto* c = new TcpConnection(*this);
    uv_tcp_init(loop_.get(), &c->handle);
    auto discard = [](TcpConnection* dead) {
        uv_close(reinterpret_cast<uv_handle_t*>(&dead->handle),
                 [](uv_handle_t* h) { delete static_cast<TcpConnection*>(h->data); });
    };
    if (uv_accept(listener, c->stream()) != 0) {
        discard(c);
        return;
    }
    if (stopping_ || (open_ >= limits_.max_connections && !evict_one())) {
        // Full of busy connections: accepting and closing at once tells the
        // client sooner than leaving it in the backlog.
        stats_.add(stats_.dropped);
        discard(c);
        return;
    }
    int peer_len = sizeof c->peer;
    uv_tcp_getpeername(&c->handle, reinterpret_cast<sockaddr*>(&c->peer), &peer_len);
    uv_tcp_nodelay(&c->handle, 1);
    link(*c);
    ++open_;
    stats_.add(stats_.tcp_connections);
    stats_.add(stats_.tcp_accepted);
    if (!idle_timer_->active())
        arm_idle_timer();
    if (int rc = uv_read_start(c->stream(), TcpConnection::on_alloc, TcpConnection::on_read); rc != 0)
        close(*c);
}

bool TcpServer::evict_one()
{
    for (TcpConnection* c = oldest_; c != nullptr; c = c->newer) {
        if (c->writes_in_flight == 0 && c->frames.buffered() == 0) {
            stats_.add(stats_.tcp_evicted);
            close(*c);
            return true;
        }
    }
    return false;
}

void TcpServer::link(TcpConnection& c)
{
    c.last_active_ms = uv_now(loop_.get());
    c.older = newest_;
    c.newer = nullptr;
    if (newest_ != nullptr)
        newest_->newer = &c;
    else
        oldest_ = &c;
    newest_ = &c;
}

void TcpServer::unlink(TcpConnection& c)
{
    (c.older != nullptr ? c.older->newer : oldest_) = c.newer;
    (c.newer != nullptr ? c.newer->older : newest_) = c.older;
    c.older = c.newer = nullptr;
}

void TcpServer::touch(TcpConnection& c)
{
    if (newest_ != &c) {
        unlink(c);
        link(c);
    } else {
        c.last_active_ms = uv_now(loop_.get());
    }
}

// The timer is armed for the oldest connection's deadline only. Activity moves
// a connection to the newest end without re-arming; when the timer fires early
// for a connection that was active since, it re-arms for the new oldest.
void TcpServer::arm_idle_timer()
{
    if (oldest_ == nullptr || idle_timer_ == nullptr)
        return;
    std::uint64_t now = uv_now(loop_.get());
    std::uint64_t deadline = oldest_->last_active_ms + static_cast<std::uint64_t>(limits_.idle_timeout.count());
    auto delay = std::chrono::milliseconds(deadline > now ? deadline - now : 0);
    idle_timer_->start(delay, std::chrono::milliseconds(0), [this] { on_idle_timer(); });
}

void TcpServer::on_idle_timer()
{
    std::uint64_t now = uv_now(loop_.get());
    auto timeout = static_cast<std::uint64_t>(limits_.idle_timeout.count());
    while (oldest_ != nullptr && now - oldest_->last_active_ms >= timeout) {
        stats_.add(stats_.tcp_timeouts);
        close(*oldest_);
    }
    arm_idle_timer();
}

void TcpServer::on_read(TcpConnection& c, ssize_t nread)
{
    if (c.closing)
        return;
    if (nread > 0) {
        c.frames.commit(static_cast<std::size_t>(nread));
        touch(c);
        process(c);
        return;
    }
    if (nread == 0)
        return; // EAGAIN
    if (nread == UV_EOF && c.frames.buffered() == 0) {
        // The client is done sending; it may still be reading (RFC 7766 6.2.3).
        uv_read_stop(c.stream());
        c.reading = TcpConnection::Reading::done;
        if (c.writes_in_flight == 0)
            close(c);
        return;
    }
    close(c); // an error, or EOF inside a message
}

void TcpServer::process(TcpConnection& c)
{
    std::size_t used = 0;
    Client client{reinterpret_cast<const sockaddr*>(&c.peer), Transport::tcp};
    while (c.queued_bytes < limits_.max_queued_bytes) {
        auto message = c.frames.next();
        if (!message)
            break;
        stats_.add(stats_.tcp_queries);
        if (out_capacity - used < 2 + max_answer) {
            write(c, out_.get(), used);
            used = 0;
            if (c.closing)
                return;
        }
        std::size_t length = responder_.respond(*message, client, {out_.get() + used + 2, max_answer});
        if (length == 0 || length > max_answer) {
            stats_.add(stats_.dropped);
            continue;
        }
        stats_.count_answer(out_.get() + used + 2, length);
        out_[used] = static_cast<std::uint8_t>(length >> 8);
        out_[used + 1] = static_cast<std::uint8_t>(length);
        used += 2 + length;
        stats_.add(stats_.responses);
    }
    write(c, out_.get(), used);
    if (c.closing)
        return;
    // Too much unwritten: read no more until the client catches up.
    bool backlogged = c.queued_bytes >= limits_.max_queued_bytes;
    if (backlogged && c.reading == TcpConnection::Reading::active) {
        uv_read_stop(c.stream());
        c.reading = TcpConnection::Reading::paused;
    } else if (!backlogged && c.reading == TcpConnection::Reading::paused && !stopping_) {
        c.reading = TcpConnection::Reading::active;
        if (uv_read_start(c.stream(), TcpConnection::on_alloc, TcpConnection::on_read) != 0)
            close(c);
    }
}

void TcpServer::write(TcpConnection& c, const std::uint8_t* data, std::size_t length)
{
    if (length == 0 || c.closing)
        return;
    if (c.writes_in_flight == 0) {
        // Usually the socket takes it all at once: no copy, no callback.
        uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data)),
                                   static_cast<unsigned>(length));
        int n = uv_try_write(c.stream(), &buf, 1);
        if (n == static_cast<int>(length))
            return;
        if (n < 0 && n != UV_EAGAIN) {
            close(c);
            return;
        }
        if (n > 0) {
            data += n;
            length -= static_cast<std::size_t>(n);
        }
    }
    std::unique_ptr<WriteSlot> slot;
    if (!c.spare.empty()) {
        slot = std::move(c.spare.back());
        c.spare.pop_back();
    } else {
        slot = std::make_unique<WriteSlot>();
        slot->connection = &c;
        slot->req.data = slot.get();
    }
    slot->data.assign(data, data + length);
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(slot->data.data()), static_cast<unsigned>(length));
    if (uv_write(&slot->req, c.stream(), &buf, 1, TcpConnection::on_written) != 0) {
        close(c);
        return; // slot freed here; libuv never saw it
    }
    slot.release(); // on_written takes it back
    ++c.writes_in_flight;
    c.queued_bytes += length;
}

void TcpServer::on_written(TcpConnection& c, WriteSlot* raw_slot, int status)
{
    std::unique_ptr<WriteSlot> slot(raw_slot);
    --c.writes_in_flight;
    c.queued_bytes -= slot->data.size();
    if (c.spare.size() < spare_slots && slot->data.capacity() <= out_capacity)
        c.spare.push_back(std::move(slot));
    if (c.closing)
        return;
    if (status < 0) {
        close(c);
        return;
    }
    touch(c);
    if (c.shutting_down)
        return; // on_shutdown follows the last write
    if (c.reading == TcpConnection::Reading::done) {
        if (c.writes_in_flight == 0)
            close(c);
        return;
    }
    if (c.reading == TcpConnection::Reading::paused && c.queued_bytes < limits_.max_queued_bytes / 2)
        process(c);
}

void TcpServer::close(TcpConnection& c)
{
    if (c.closing)
        return;
    c.closing = true;
    unlink(c);
    --open_;
    stats_.sub(stats_.tcp_connections);
    // Pending writes are cancelled (their callbacks run first, with
    // UV_ECANCELED); the connection is freed in the close callback.
    uv_close(reinterpret_cast<uv_handle_t*>(&c.handle),
             [](uv_handle_t* h) { delete static_cast<TcpConnection*>(h->data); });
    if (stopping_ && open_ == 0)
        finish_stop();
}

void TcpServer::shutdown(TcpConnection& c)
{
    if (c.closing || c.shutting_down)
        return;
    c.shutting_down = true;
    uv_read_stop(c.stream());
    c.reading = TcpConnection::Reading::done;
    c.frames.clear(); // queries not answered yet stay unanswered
    // libuv shuts down after the queued writes are done.
    if (uv_shutdown(&c.shutdown_req, c.stream(), TcpConnection::on_shutdown) != 0)
        close(c);
}

void TcpServer::on_shutdown(TcpConnection& c, int status)
{
    if (c.closing)
        return;
    if (status < 0 ||
        uv_read_start(c.stream(), TcpConnection::on_discard_alloc, TcpConnection::on_discard_read) != 0)
        close(c);
}

void TcpServer::stop()
{
    if (stopping_)
        return;
    stopping_ = true;
    for (uv_tcp_t* l : listeners_)
        uv_close(reinterpret_cast<uv_handle_t*>(l), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listeners_.clear();
    // Queries already answered are written; nothing more is read.
    for (TcpConnection* c = oldest_; c != nullptr;) {
        TcpConnection* next = c->newer;
        shutdown(*c);
        c = next;
    }
    if (open_ == 0) {
        finish_stop();
        return;
    }
    grace_timer_->start(limits_.stop_grace, std::chrono::milliseconds(0), [this] {
        while (oldest_ != nullptr)
            close(*oldest_);
    });
}

void TcpServer::finish_stop()
{
    idle_timer_.reset();
    grace_timer_.reset();
}

} // namespace cairn::dns
