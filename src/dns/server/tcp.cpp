#include "dns/server/tcp.hpp"

#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <string_view>
#include <vector>

#include <netinet/in.h>

#include "core/log.hpp"
#include "core/tcp_stream.hpp"
#include "dns/server/query_log.hpp"
#include "dns/server/stats.hpp"
#include "dns/server/tcp_frame.hpp"

namespace cairn::dns {

namespace {

constexpr std::size_t max_answer = 65535;
// Room for several answers per write; flushed before an answer might not fit.
constexpr std::size_t out_capacity = 4 * (2 + max_answer);
constexpr int listen_backlog = 1024;

using Framed = std::vector<std::uint8_t>; // length prefix and message

Framed frame(std::span<const std::uint8_t> message) {
    Framed f(2 + message.size());
    f[0] = static_cast<std::uint8_t>(message.size() >> 8);
    f[1] = static_cast<std::uint8_t>(message.size());
    std::memcpy(f.data() + 2, message.data(), message.size());
    return f;
}

} // namespace

// Deferred answers on their way from the completing thread to the loop.
struct TcpInbox {
    struct Done {
        std::uint64_t connection = 0;
        std::uint64_t seq = 0;
        Framed answer; // empty: given up
    };

    std::mutex mutex;
    bool open = true;       // false once the server's loop no longer takes them
    Async* wake = nullptr;  // the server's, while open
    std::vector<Done> done; // in arrival order

    void post(Done d) noexcept {
        std::lock_guard lock(mutex);
        if (!open) return;
        try {
            done.push_back(std::move(d));
        } catch (const std::exception&) {
            return; // the connection waits for it until it is closed
        }
        wake->send();
    }
    void close() {
        std::lock_guard lock(mutex);
        open = false;
        wake = nullptr;
        done.clear();
    }
};

namespace {

class TcpPending final : public PendingAnswer {
public:
    TcpPending(std::shared_ptr<TcpInbox> inbox, std::uint64_t connection, std::uint64_t seq)
        : inbox_(std::move(inbox))
        , connection_(connection)
        , seq_(seq) {}
    ~TcpPending() override {
        if (!done_) inbox_->post({connection_, seq_, {}});
    }
    void complete(std::span<const std::uint8_t> answer) noexcept override {
        if (done_) return;
        done_ = true;
        Framed framed;
        if (!answer.empty() && answer.size() <= max_answer) {
            try {
                framed = frame(answer);
            } catch (const std::exception&) {
                framed.clear();
            }
        }
        inbox_->post({connection_, seq_, std::move(framed)});
    }

private:
    std::shared_ptr<TcpInbox> inbox_;
    std::uint64_t connection_;
    std::uint64_t seq_;
    bool done_ = false;
};

} // namespace

// One accepted connection. Its callbacks never free it: they mark it `dead`
// and the server frees it when the call returns (TcpServer::settle).
class TcpConnection final : public TcpStream::Handler {
public:
    TcpConnection(TcpServer& s, const TcpLimits& limits)
        : server(s)
        , stream(s.loop_, *this, {limits.max_queued_bytes, limits.max_queued_bytes / 2}) {}
    ~TcpConnection() {
        if (counted) server.remove(*this);
    }

    std::span<char> read_buffer() override {
        try {
            auto space = frames.writable();
            return {reinterpret_cast<char*>(space.data()), space.size()};
        } catch (const std::exception&) {
            return {}; // the read fails with UV_ENOBUFS and the connection closes
        }
    }
    void on_read(std::size_t n) override { server.on_read(*this, n); }
    void on_end() override { server.on_end(*this); }
    void on_written() override { server.on_written(*this); }
    void on_error(int) override {
        dead = true;
        server.settle(*this);
    }

    TcpServer& server;
    TcpStream stream;
    FrameBuffer frames;
    TimeoutEntry idle{this};
    TimeoutEntry query{this};
    TimeoutEntry turn{this};
    TcpServer::ClientKey client;
    std::uint64_t id = 0;
    // Answers in query order from the first deferred one on: each waits for
    // those before it. Empty while nothing is deferred.
    struct Held {
        std::uint64_t seq = 0;
        bool ready = false;
        Framed answer;
    };
    std::deque<Held> held;
    std::uint64_t next_seq = 0;
    bool counted = false;   // in the server's counters and per-client count
    bool peer_done = false; // the client sent FIN
    bool dead = false;
};

std::size_t TcpServer::ClientKeyHash::operator()(const ClientKey& k) const noexcept {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(k.bytes.data()), k.bytes.size()));
}

TcpServer::ClientKey TcpServer::key_of(const SocketAddress& peer) {
    ClientKey k;
    if (peer.family() == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(peer.sa());
        std::memcpy(k.bytes.data(), &a->sin6_addr, 16);
    } else if (peer.family() == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(peer.sa());
        k.bytes[10] = k.bytes[11] = 0xff; // as ::ffff:a.b.c.d
        std::memcpy(k.bytes.data() + 12, &a->sin_addr, 4);
    }
    return k;
}

TcpServer::TcpServer(Loop& loop, Responder& responder, WorkerStats& stats, TcpLimits limits)
    : loop_(loop)
    , responder_(responder)
    , stats_(stats)
    , limits_(limits)
    , idle_(limits.idle_timeout)
    , query_(limits.query_timeout)
    , ready_(std::chrono::milliseconds(1))
    , timeouts_(std::make_unique<TimeoutSet>(loop))
    , turn_timer_(std::make_unique<Timer>(loop))
    , grace_timer_(std::make_unique<Timer>(loop))
    , out_(new std::uint8_t[out_capacity]) {
    inbox_ = std::make_shared<TcpInbox>();
    wake_ = std::make_unique<Async>(loop, [this] { on_completions(); });
    inbox_->wake = wake_.get();
    if (limits_.max_held == 0) limits_.max_held = 1;
    if (limits_.max_connections == 0) limits_.max_connections = 1;
    if (limits_.max_per_client == 0) limits_.max_per_client = 1;
    if (limits_.queries_per_turn == 0) limits_.queries_per_turn = 1;
    auto expire = [this](TimeoutEntry& e) {
        auto& c = *static_cast<TcpConnection*>(e.item);
        stats_.add(stats_.tcp_timeouts);
        c.dead = true;
        settle(c);
    };
    timeouts_->add(idle_, expire);
    timeouts_->add(query_, expire);
    listener_ =
        std::make_unique<TcpListener>(loop, limits_.max_connections, [this] { on_connection(); });
}

TcpServer::~TcpServer() {
    inbox_->close();
    listener_.reset();
    connections_.clear();
}

bool TcpServer::listen(UniqueFd fd) {
    if (auto r = listener_->adopt(fd.release(), listen_backlog); !r) {
        log::error("dns.tcp listen failed", {{"error", r.error().message}});
        return false;
    }
    return true;
}

void TcpServer::on_connection() {
    if (stopping_) {
        listener_->refuse();
        return;
    }
    try {
        auto owned = std::make_unique<TcpConnection>(*this, limits_);
        if (!listener_->accept(owned->stream)) return;
        admit(std::move(owned));
    } catch (const std::exception& e) {
        log::warn("dns.tcp accept failed", {{"error", e.what()}});
    }
}

void TcpServer::admit(std::unique_ptr<TcpConnection> owned) {
    TcpConnection& c = *owned;
    c.client = key_of(c.stream.peer());
    unsigned& mine = per_client_[c.client];
    if (mine >= limits_.max_per_client) {
        // This address has its share: closing at once tells it sooner than
        // leaving it in the backlog.
        stats_.add(stats_.dropped);
        if (mine == 0) per_client_.erase(c.client);
        return;
    }
    ++mine;
    c.counted = true;
    c.id = next_id_++;
    by_id_.emplace(c.id, &c);
    connections_.emplace(&c, std::move(owned));
    stats_.add(stats_.tcp_connections);
    stats_.add(stats_.tcp_accepted);
    // Over the cap: the connection that has waited longest for a complete
    // query makes room (the new one is not in the idle queue yet).
    if (listener_->open_connections() > limits_.max_connections) {
        if (TimeoutEntry* oldest = idle_.oldest()) {
            auto& victim = *static_cast<TcpConnection*>(oldest->item);
            stats_.add(stats_.tcp_evicted);
            victim.dead = true;
            connections_.erase(&victim);
        }
    }
    idle_.start(c.idle, loop_.now_ms());
    if (timeouts_) timeouts_->schedule();
    c.stream.read_start();
}

void TcpServer::remove(TcpConnection& c) {
    by_id_.erase(c.id);
    stats_.sub(stats_.tcp_connections);
    auto it = per_client_.find(c.client);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

void TcpServer::settle(TcpConnection& c) {
    if (!c.dead) return;
    connections_.erase(&c);
    if (stopping_ && connections_.empty()) finish_stop();
}

void TcpServer::on_read(TcpConnection& c, std::size_t n) {
    c.frames.commit(n);
    process(c);
    settle(c);
}

void TcpServer::process(TcpConnection& c) {
    std::size_t used = 0;
    unsigned answered = 0;
    std::uint64_t now = loop_.now_ms();
    std::uint64_t start = latency_clock_ns();
    Client client{c.stream.peer().sa(), Transport::tcp, &deferrer_};
    while (!c.dead && !c.stream.backlogged() && c.frames.has_message() &&
           c.held.size() < limits_.max_held) {
        if (answered == limits_.queries_per_turn) {
            // The others get their turn first; not read until this one's comes.
            c.stream.read_stop();
            ready_.start_if_idle(c.turn, now);
            if (!turn_timer_->active())
                turn_timer_->start(std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                                   [this] { on_turns(); });
            break;
        }
        auto message = c.frames.next();
        ++answered;
        stats_.add(stats_.tcp_queries);
        idle_.start(c.idle, now);
        if (out_capacity - used < 2 + max_answer) {
            flush(c, used);
            used = 0;
        }
        deferrer_.current = &c;
        deferrer_.taken = false;
        std::size_t length =
            responder_.respond(*message, client, {out_.get() + used + 2, max_answer});
        if (length == Responder::deferred && deferrer_.taken) {
            stats_.add(stats_.deferred); // its place is in c.held
            continue;
        }
        if (length == 0 || length > max_answer) {
            stats_.add(stats_.dropped);
            continue;
        }
        std::uint8_t* answer = out_.get() + used + 2;
        stats_.count_answer(answer, length);
        stats_.count_latency(latency_clock_ns() - start);
        if (query_log_on()) log_query(client.address, Transport::tcp, *message, {answer, length});
        stats_.add(stats_.responses);
        if (!c.held.empty()) {
            // Behind a deferred answer: it waits for that one.
            try {
                c.held.push_back({c.next_seq++, true, frame({answer, length})});
            } catch (const std::exception&) {
                c.dead = true;
            }
            continue;
        }
        out_[used] = static_cast<std::uint8_t>(length >> 8);
        out_[used + 1] = static_cast<std::uint8_t>(length);
        used += 2 + length;
    }
    flush(c, used);
    if (c.dead || c.stream.finishing()) return;
    // The query clock runs from the first byte of a query until it is whole.
    if (c.frames.partial())
        query_.start_if_idle(c.query, now);
    else
        TimeoutQueue::cancel(c.query);
    if (timeouts_) timeouts_->schedule();
    if (c.held.size() >= limits_.max_held)
        c.stream.read_stop(); // until deliver() makes room
    else if (!c.turn.linked())
        c.stream.read_start();
    if (c.peer_done && !c.frames.has_message() && c.stream.queued_bytes() == 0 && c.held.empty())
        finish(c);
}

std::unique_ptr<PendingAnswer> TcpServer::Deferrer::defer() noexcept {
    TcpConnection* c = current;
    if (taken || c == nullptr) return nullptr;
    try {
        std::uint64_t seq = c->next_seq++;
        c->held.push_back({seq, false, {}});
        auto pending = std::make_unique<TcpPending>(server_.inbox_, c->id, seq);
        taken = true;
        return pending;
    } catch (const std::exception&) {
        // The slot, if pushed, stays unready: give it up here.
        if (!c->held.empty() && !c->held.back().ready) c->held.pop_back();
        return nullptr;
    }
}

void TcpServer::on_completions() {
    std::vector<TcpInbox::Done> done;
    {
        std::lock_guard lock(inbox_->mutex);
        done.swap(inbox_->done);
    }
    for (auto& d : done) {
        auto it = by_id_.find(d.connection);
        if (it == by_id_.end()) {
            stats_.add(stats_.dropped); // the connection is gone
            continue;
        }
        TcpConnection& c = *it->second;
        for (auto& h : c.held) {
            if (h.seq != d.seq || h.ready) continue;
            h.ready = true;
            if (d.answer.empty()) {
                stats_.add(stats_.dropped);
            } else {
                stats_.count_answer(d.answer.data() + 2, d.answer.size() - 2);
                stats_.add(stats_.responses);
                h.answer = std::move(d.answer);
            }
            break;
        }
        deliver(c);
        settle(c);
    }
}

void TcpServer::deliver(TcpConnection& c) {
    bool was_full = c.held.size() >= limits_.max_held;
    while (!c.dead && !c.held.empty() && c.held.front().ready) {
        Framed answer = std::move(c.held.front().answer);
        c.held.pop_front();
        if (answer.empty() || c.stream.finishing()) continue;
        if (c.stream.write(std::span<const char>(reinterpret_cast<const char*>(answer.data()),
                                                 answer.size())) != 0)
            c.dead = true;
    }
    if (c.dead || c.stream.finishing() || c.turn.linked()) return;
    // Queries read meanwhile, a pending FIN, or reading held back for room.
    if (was_full || c.held.empty()) process(c);
}

void TcpServer::flush(TcpConnection& c, std::size_t used) {
    if (used == 0 || c.dead) return;
    // Usually the socket takes it all at once: no copy, no callback.
    if (c.stream.write(std::span<const char>(reinterpret_cast<const char*>(out_.get()), used)) != 0)
        c.dead = true;
}

void TcpServer::on_turns() {
    // One turn for each connection waiting now; those that still have more
    // queue up again behind the connections read meanwhile.
    for (std::size_t n = ready_.size(); n > 0; --n) {
        TimeoutEntry* e = ready_.oldest();
        if (e == nullptr) break;
        TimeoutQueue::cancel(*e);
        auto& c = *static_cast<TcpConnection*>(e->item);
        process(c);
        settle(c);
    }
}

void TcpServer::on_end(TcpConnection& c) {
    if (c.stream.finishing() || c.frames.partial()) {
        c.dead = true; // our FIN is answered, or the client hung up inside a message
    } else {
        // The client is done sending; it may still be reading (RFC 7766 6.2.3).
        c.peer_done = true;
        process(c);
    }
    settle(c);
}

void TcpServer::on_written(TcpConnection& c) {
    if (!c.stream.finishing() && !c.turn.linked())
        process(c); // answers drained: go on with what was held back
    settle(c);
}

void TcpServer::finish(TcpConnection& c) {
    TimeoutQueue::cancel(c.query);
    TimeoutQueue::cancel(c.turn);
    c.frames.clear(); // queries not answered yet stay unanswered
    if (c.stream.finish() != 0) c.dead = true;
}

void TcpServer::stop() {
    if (stopping_) return;
    stopping_ = true;
    listener_->close();
    // Queries already answered are written; nothing more is read.
    std::vector<TcpConnection*> open;
    for (auto& [raw, _] : connections_) open.push_back(raw);
    for (TcpConnection* c : open) {
        finish(*c);
        TimeoutQueue::cancel(c->idle);
        if (c->dead) connections_.erase(c);
    }
    if (connections_.empty()) {
        finish_stop();
        return;
    }
    grace_timer_->start(limits_.stop_grace, std::chrono::milliseconds(0), [this] {
        connections_.clear();
        finish_stop();
    });
}

void TcpServer::finish_stop() {
    // Closing the timers and the inbox's wakeup lets the worker's loop end.
    inbox_->close();
    wake_.reset();
    timeouts_.reset();
    turn_timer_.reset();
    grace_timer_.reset();
}

} // namespace cairn::dns
