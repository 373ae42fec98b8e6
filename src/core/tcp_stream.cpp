#include "core/tcp_stream.hpp"

#include <vector>

#include <uv.h>

#include "core/loop.hpp"

namespace cairn {

namespace {

// Write slots kept for reuse per stream, so that a steady stream of writes
// allocates nothing; slots that grew past `max_spare_capacity` are freed.
constexpr std::size_t spare_slots = 2;
constexpr std::size_t max_spare_capacity = 256 << 10;

} // namespace

struct WriteSlot {
    uv_write_t req{};
    TcpStream::Box* box = nullptr;
    std::string data;
};

// The handle comes first, so the handle pointer is the Box pointer.
struct TcpStream::Box {
    uv_tcp_t tcp{};
    TcpStream* owner = nullptr; // null once the stream is closed
    uv_shutdown_t shutdown_req{};
    uv_connect_t connect_req{};
    std::vector<WriteSlot*> spare;

    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }

    static Box* of(uv_handle_t* h) { return static_cast<Box*>(h->data); }

    static void on_close(uv_handle_t* h) noexcept {
        Box* box = of(h);
        for (WriteSlot* s : box->spare) delete s;
        delete box;
    }

    static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
        Box* box = of(h);
        if (box->owner == nullptr) {
            *buf = uv_buf_init(nullptr, 0);
            return;
        }
        std::span<char> space = box->owner->handler_.read_buffer();
        *buf = uv_buf_init(space.data(), static_cast<unsigned>(space.size()));
    }

    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
        Box* box = of(reinterpret_cast<uv_handle_t*>(s));
        if (box->owner != nullptr) box->owner->on_read_result(nread);
    }

    // After finish(): what the peer still sends is dropped.
    static void on_discard_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) noexcept {
        static thread_local char sink[4096];
        *buf = uv_buf_init(sink, sizeof sink);
    }

    static void on_discard_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
        Box* box = of(reinterpret_cast<uv_handle_t*>(s));
        if (box->owner == nullptr || nread >= 0) return;
        TcpStream* owner = box->owner;
        if (nread == UV_EOF) {
            owner->ended_ = true;
            uv_read_stop(s);
            owner->handler_.on_end();
        } else {
            owner->fail(static_cast<int>(nread));
        }
    }

    static void on_write(uv_write_t* req, int status) noexcept {
        auto* slot = static_cast<WriteSlot*>(req->data);
        Box* box = slot->box;
        std::size_t bytes = slot->data.size();
        if (box->spare.size() < spare_slots && slot->data.capacity() <= max_spare_capacity) {
            slot->data.clear();
            box->spare.push_back(slot);
        } else {
            delete slot;
        }
        if (box->owner != nullptr) box->owner->on_written_slot(bytes, status);
    }

    static void on_shutdown(uv_shutdown_t* req, int status) noexcept {
        Box* box = of(reinterpret_cast<uv_handle_t*>(req->handle));
        if (box->owner != nullptr) box->owner->on_shutdown_done(status);
    }

    static void on_connect(uv_connect_t* req, int status) noexcept {
        Box* box = of(reinterpret_cast<uv_handle_t*>(req->handle));
        if (box->owner != nullptr) box->owner->on_connected(status);
    }
};

TcpStream::TcpStream(Loop& loop, Handler& handler, Limits limits, WriteBudget* budget)
    : handler_(handler)
    , limits_(limits)
    , budget_(budget)
    , box_(new Box) {
    if (limits_.resume_below_bytes > limits_.max_queued_bytes)
        limits_.resume_below_bytes = limits_.max_queued_bytes;
    uv_tcp_init(loop.get(), &box_->tcp);
    box_->tcp.data = box_;
    box_->owner = this;
    connect_timer_ = std::make_unique<Timer>(loop);
}

TcpStream::~TcpStream() {
    close();
}

void TcpStream::close() {
    if (box_ == nullptr) return;
    box_->owner = nullptr;
    if (budget_ != nullptr) budget_->refund(queued_);
    queued_ = 0;
    if (counter_) {
        --*counter_;
        counter_.reset();
    }
    // Writes still queued are cancelled (their callbacks run before the close
    // callback, with UV_ECANCELED, and find no owner).
    uv_close(reinterpret_cast<uv_handle_t*>(&box_->tcp), Box::on_close);
    box_ = nullptr;
    connect_timer_.reset();
}

void TcpStream::fail(int uv_error) {
    close();
    handler_.on_error(uv_error);
}

void TcpStream::accepted(std::shared_ptr<unsigned> counter) {
    counter_ = std::move(counter);
    ++*counter_;
    connect_timer_.reset(); // accepted streams never connect
    uv_tcp_nodelay(&box_->tcp, 1);
    int len = sizeof peer_.storage;
    uv_tcp_getpeername(&box_->tcp, reinterpret_cast<sockaddr*>(&peer_.storage), &len);
}

void TcpStream::connect(const SocketAddress& peer, std::chrono::milliseconds timeout,
                        std::function<void(int status)> done) {
    connect_done_ = std::move(done);
    peer_ = peer;
    if (box_ == nullptr || connect_timer_ == nullptr) {
        connect_done_(UV_EINVAL);
        return;
    }
    int rc = uv_tcp_connect(&box_->connect_req, &box_->tcp, peer.sa(), Box::on_connect);
    // A refusal at once is reported from the loop too, as connect errors always are.
    connect_timer_->start(rc == 0 ? timeout : std::chrono::milliseconds(0),
                          std::chrono::milliseconds(0), [this, rc] {
                              auto done_cb = std::move(connect_done_);
                              close();
                              done_cb(rc == 0 ? UV_ETIMEDOUT : rc);
                          });
}

void TcpStream::on_connected(int status) {
    connect_timer_.reset();
    auto done_cb = std::move(connect_done_);
    if (status != 0) {
        close();
        done_cb(status);
        return;
    }
    uv_tcp_nodelay(&box_->tcp, 1);
    done_cb(0);
}

bool TcpStream::backlogged() const {
    return queued_ > limits_.max_queued_bytes || (budget_ != nullptr && budget_->spent());
}

void TcpStream::read_start() {
    want_read_ = true;
    update_reading();
}

void TcpStream::read_stop() {
    want_read_ = false;
    update_reading();
}

void TcpStream::update_reading() {
    if (box_ == nullptr || finishing_) return;
    bool should = want_read_ && !ended_ && !backlogged();
    if (should && !reading_) {
        if (int rc = uv_read_start(box_->stream(), Box::on_alloc, Box::on_read); rc == 0)
            reading_ = true;
    } else if (!should && reading_) {
        uv_read_stop(box_->stream());
        reading_ = false;
    }
}

void TcpStream::on_read_result(long nread) {
    if (nread > 0) {
        handler_.on_read(static_cast<std::size_t>(nread));
        return;
    }
    if (nread == 0) return; // EAGAIN
    if (nread == UV_EOF) {
        ended_ = true;
        update_reading();
        handler_.on_end();
        return;
    }
    fail(static_cast<int>(nread));
}

// The part of `data` the socket did not take at once, or an error.
int TcpStream::try_write(std::span<const char>& data) {
    if (queued_ != 0) return 0; // behind queued bytes: order first
    uv_buf_t buf = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
    int n = uv_try_write(box_->stream(), &buf, 1);
    if (n < 0 && n != UV_EAGAIN) {
        close();
        return n;
    }
    if (n > 0) data = data.subspan(static_cast<std::size_t>(n));
    return 0;
}

int TcpStream::write(std::span<const char> data) {
    if (box_ == nullptr) return UV_EPIPE;
    if (int rc = try_write(data); rc != 0 || data.empty()) return rc;
    // Copied into a spare slot's string, whose capacity is reused.
    std::string copy;
    if (!box_->spare.empty()) copy = std::move(box_->spare.back()->data);
    copy.assign(data.data(), data.size());
    return enqueue(std::move(copy));
}

int TcpStream::write(std::string&& data) {
    if (box_ == nullptr) return UV_EPIPE;
    std::span<const char> rest(data);
    if (int rc = try_write(rest); rc != 0 || rest.empty()) return rc;
    data.erase(0, data.size() - rest.size());
    return enqueue(std::move(data));
}

int TcpStream::queue(std::string&& data) {
    if (box_ == nullptr) return UV_EPIPE;
    if (data.empty()) return 0;
    return enqueue(std::move(data));
}

int TcpStream::enqueue(std::string&& data) {
    WriteSlot* slot;
    if (!box_->spare.empty()) {
        slot = box_->spare.back();
        box_->spare.pop_back();
    } else {
        slot = new WriteSlot;
        slot->box = box_;
        slot->req.data = slot;
    }
    slot->data = std::move(data);
    std::size_t bytes = slot->data.size();
    uv_buf_t buf = uv_buf_init(slot->data.data(), static_cast<unsigned>(bytes));
    if (int rc = uv_write(&slot->req, box_->stream(), &buf, 1, Box::on_write); rc != 0) {
        box_->spare.push_back(slot);
        close();
        return rc;
    }
    queued_ += bytes;
    if (budget_ != nullptr) budget_->charge(bytes);
    update_reading();
    return 0;
}

void TcpStream::on_written_slot(std::size_t bytes, int status) {
    queued_ -= bytes < queued_ ? bytes : queued_;
    if (budget_ != nullptr) budget_->refund(bytes);
    if (status < 0) {
        fail(status);
        return;
    }
    if (queued_ <= limits_.resume_below_bytes) update_reading();
    handler_.on_written();
}

int TcpStream::finish() {
    if (box_ == nullptr) return UV_EPIPE;
    if (finishing_) return 0;
    if (reading_) uv_read_stop(box_->stream());
    reading_ = false;
    finishing_ = true;
    // libuv sends the FIN after the queued writes.
    if (int rc = uv_shutdown(&box_->shutdown_req, box_->stream(), Box::on_shutdown); rc != 0) {
        close();
        return rc;
    }
    return 0;
}

void TcpStream::on_shutdown_done(int status) {
    if (status < 0) {
        fail(status);
        return;
    }
    if (ended_) {
        handler_.on_end();
        return;
    }
    if (int rc = uv_read_start(box_->stream(), Box::on_discard_alloc, Box::on_discard_read);
        rc != 0)
        fail(rc);
}

SocketAddress TcpStream::local_address() const {
    SocketAddress a;
    if (box_ == nullptr) return a;
    int len = sizeof a.storage;
    uv_tcp_getsockname(&box_->tcp, reinterpret_cast<sockaddr*>(&a.storage), &len);
    return a;
}

} // namespace cairn
