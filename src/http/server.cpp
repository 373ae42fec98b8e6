#include "http/server.hpp"

#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "core/log.hpp"
#include "core/metrics_text.hpp"
#include "core/tcp_listener.hpp"
#include "core/tcp_stream.hpp"
#include "core/timeouts.hpp"

namespace cairn::http {

namespace {

constexpr std::size_t read_buffer_bytes = 64 << 10;
// Pieces of a streamed body queued per turn of the loop; each is made only
// when the connection is not backlogged.
constexpr int pieces_per_turn = 4;

} // namespace

// One accepted connection. Its callbacks never free it themselves: they mark
// it `dead` and the server frees it when the call returns (Server::Impl::settle).
struct Connection final : TcpStream::Handler {
    Connection(Server::Impl& s, const ServerOptions& options, WriteBudget& budget);
    ~Connection();

    std::span<char> read_buffer() override;
    void on_read(std::size_t n) override;
    void on_end() override;
    void on_written() override;
    void on_error(int uv_error) override;

    Server::Impl& server;
    TcpStream stream;
    RequestParser parser;
    TimeoutEntry timeout{this};
    WriteBudget& budget;
    std::string pending; // bytes read and not parsed yet
    std::size_t pending_at = 0;
    std::size_t charged = 0; // input bytes counted in the budget
    std::vector<Request> batch;
    std::function<bool(std::string&)> body_stream; // a streamed body being sent
    bool stream_chunked = false;
    bool stream_keep_alive = false;
    bool peer_done = false;      // the client sent FIN
    bool finishing = false;      // the last answer is queued; FIN follows
    bool waiting = false;        // stopped while the memory budget was spent
    bool awaiting_reply = false; // a deferred reply is outstanding
    bool in_answer = false;      // inside the handler's call
    bool dead = false;
    // What a Reply holds: this connection, null once it is gone.
    std::shared_ptr<Connection*> self = std::make_shared<Connection*>(this);

    [[nodiscard]] bool idle_output() const {
        return stream.queued_bytes() == 0 && !body_stream && pending_at >= pending.size();
    }
    // Keeps the budget's count of this connection's input up to date.
    void charge_input() {
        std::size_t now = pending.size() - pending_at + parser.buffered_bytes();
        if (now > charged)
            budget.charge(now - charged);
        else
            budget.refund(charged - now);
        charged = now;
    }
};

struct Server::Impl {
    Loop& loop;
    ServerOptions options;
    DeferringHandler handler;
    ContinueCheck continue_check;
    WriteBudget budget;
    TimeoutQueue idle;
    TimeoutSet timeouts;
    std::unique_ptr<TcpListener> listener;
    std::unordered_map<Connection*, std::unique_ptr<Connection>> connections;
    ServerStats stats;
    std::vector<char> read_buffer = std::vector<char>(read_buffer_bytes);
    bool budget_waiters = false;

    Impl(Loop& l, ServerOptions o, DeferringHandler h, ContinueCheck c)
        : loop(l)
        , options(std::move(o))
        , handler(std::move(h))
        , continue_check(std::move(c))
        , budget(options.memory_budget_bytes)
        , idle(options.idle_timeout)
        , timeouts(l) {
        timeouts.add(idle,
                     [this](TimeoutEntry& e) { on_timeout(*static_cast<Connection*>(e.item)); });
    }

    void restart_timer(Connection& c) {
        idle.start(c.timeout, loop.now_ms());
        timeouts.schedule();
    }

    // Frees a connection marked dead, and lets connections that waited for
    // the budget go on when it has room again.
    void settle(Connection& c) {
        if (c.dead) connections.erase(&c);
        wake_waiters();
    }

    void wake_waiters() {
        if (!budget_waiters || budget.spent()) return;
        budget_waiters = false;
        std::vector<Connection*> waiting;
        for (auto& [raw, _] : connections)
            if (raw->waiting) waiting.push_back(raw);
        for (Connection* c : waiting) {
            c->waiting = false;
            c->stream.read_start(); // re-evaluated now that the budget has room
            pump(*c);
        }
        for (Connection* c : waiting)
            if (c->dead) connections.erase(c);
    }

    void on_connection() {
        bool over = listener->at_cap();
        auto owned = std::make_unique<Connection>(*this, options, budget);
        Connection& c = *owned;
        if (!listener->accept(c.stream)) return;
        connections.emplace(&c, std::move(owned));
        if (over) {
            ++stats.connections_rejected;
            send(c, Response::error(503, "too many connections"), false, false, true);
            finish(c);
            settle(c);
            return;
        }
        ++stats.connections_accepted;
        restart_timer(c);
        c.stream.read_start();
    }

    void on_timeout(Connection& c) {
        // Waiting for its own deferred reply (a write's commit) is not idle:
        // the timer starts again when the reply is sent.
        if (c.awaiting_reply && !c.finishing) return;
        ++stats.timeouts;
        // An unfinished request with nothing queued before it hears why;
        // anything else (idle, answers not read, a FIN not answered) closes.
        if (!c.finishing && c.idle_output() && c.parser.mid_request()) {
            log::debug("http.timeout", {{"partial", true}});
            send(c, Response::error(408, "request not completed in time"), false, false, true);
            finish(c);
        } else {
            c.dead = true;
        }
        settle(c);
    }

    void write(Connection& c, std::string&& bytes, bool yield = false) {
        if (c.dead) return;
        int rc = yield ? c.stream.queue(std::move(bytes)) : c.stream.write(std::move(bytes));
        if (rc != 0) c.dead = true;
    }

    void finish(Connection& c) {
        if (c.finishing || c.dead) return;
        c.finishing = true;
        c.pending.clear();
        c.pending_at = 0;
        c.charge_input();
        restart_timer(c); // a client that never closes its side is cut off
        if (c.stream.finish() != 0) c.dead = true;
    }

    void send(Connection& c, Response r, bool keep_alive, bool head_only, bool http_1_1) {
        std::size_t cls = static_cast<std::size_t>(r.status / 100);
        if (cls < stats.responses.size()) ++stats.responses[cls];
        if (head_only) {
            write(c, serialize_head(r, keep_alive));
            return;
        }
        if (!r.body_stream) {
            write(c, serialize(r, keep_alive));
            return;
        }
        // HTTP/1.0 has no chunks: the body ends when the connection does.
        c.stream_chunked = http_1_1;
        c.stream_keep_alive = keep_alive && http_1_1;
        write(c, serialize_head(r, c.stream_keep_alive, c.stream_chunked));
        c.body_stream = std::move(r.body_stream);
    }

    // Makes and queues pieces of the body being streamed while the
    // connection has room. True when the body is complete.
    bool produce(Connection& c) {
        for (int i = 0; i < pieces_per_turn && !c.dead; ++i) {
            if (c.stream.backlogged()) return false;
            std::string piece;
            bool more = false;
            try {
                more = c.body_stream(piece);
            } catch (const std::exception& e) {
                log::error("http.stream_failed", {{"error", e.what()}});
                c.dead = true; // the status line is out: closing is all that is left
                return false;
            }
            if (c.stream_chunked) {
                std::string framed;
                if (!piece.empty()) framed = fmt::format("{:x}\r\n{}\r\n", piece.size(), piece);
                if (!more) framed += "0\r\n\r\n";
                write(c, std::move(framed), true);
            } else {
                write(c, std::move(piece), true);
            }
            if (!more) {
                c.body_stream = nullptr;
                if (!c.stream_keep_alive) finish(c);
                return !c.finishing;
            }
        }
        return false; // more to come, after the loop has turned
    }

    // Whatever the handler does, one bad request must not take the server down.
    void handle(const Request& request, const Reply& reply) noexcept {
        try {
            handler(request, reply);
            return;
        } catch (const std::exception& e) {
            log::error("http.handler_exception", {{"path", request.path}, {"error", e.what()}});
        } catch (...) {
            log::error("http.handler_exception", {{"path", request.path}});
        }
        reply(Response::error(500, "internal error"));
    }

    // Hands one request to the handler. False when the connection cannot go
    // on with the next one now (its reply is deferred, or it is done with).
    bool answer(Connection& c, Request& request) {
        ++stats.requests;
        restart_timer(c);
        // HEAD is GET without the body (RFC 9110 9.3.2), on every route.
        bool head = request.method == "HEAD";
        if (head) request.method = "GET";
        c.awaiting_reply = true;
        std::weak_ptr<Connection*> weak = c.self;
        auto done = std::make_shared<bool>(false);
        bool keep_alive = request.keep_alive, http_1_1 = request.http_1_1;
        // A deferred reply arrives from outside any callback of this
        // connection, so it settles the connection itself.
        c.in_answer = true;
        handle(request, [this, weak, done, keep_alive, head, http_1_1](Response response) {
            auto self = weak.lock();
            if (*done || !self || *self == nullptr) return;
            *done = true;
            replied(**self, std::move(response), keep_alive, head, http_1_1);
        });
        c.in_answer = false;
        return !c.awaiting_reply && !c.finishing && !c.dead;
    }

    void replied(Connection& c, Response response, bool keep_alive, bool head, bool http_1_1) {
        c.awaiting_reply = false;
        bool keep = keep_alive && !response.close;
        send(c, std::move(response), keep, head, http_1_1);
        if (!keep && !c.body_stream) finish(c);
        if (c.in_answer) return; // answered at once: pump() goes on with the next one
        restart_timer(c);
        pump(c);
        settle(c);
    }

    // Asked for 100 Continue: refuse before the body when the handler says so.
    bool expect_continue(Connection& c) {
        if (continue_check)
            if (auto refusal = continue_check(c.parser.current())) {
                send(c, std::move(*refusal), false, false, true);
                finish(c);
                return false;
            }
        write(c, "HTTP/1.1 100 Continue\r\n\r\n");
        return !c.dead;
    }

    // Parses and answers what is buffered, one request at a time, while the
    // connection has room for more answers.
    void pump(Connection& c) {
        while (!c.dead && !c.finishing && !c.awaiting_reply) {
            if (c.body_stream) {
                if (!produce(c)) break;
                continue;
            }
            if (c.stream.backlogged()) {
                c.waiting = true;
                budget_waiters = budget_waiters || budget.spent();
                break;
            }
            if (c.pending_at >= c.pending.size()) break;
            c.batch.clear();
            auto used =
                c.parser.parse_some(std::string_view(c.pending).substr(c.pending_at), c.batch);
            if (!used) {
                ++stats.parse_errors;
                log::debug("http.parse_error",
                           {{"status", used.error().status}, {"error", used.error().message}});
                send(c, Response::error(used.error().status, used.error().message), false, false,
                     true);
                finish(c);
                break;
            }
            c.pending_at += *used;
            if (c.parser.take_expect_continue() && !expect_continue(c)) break;
            for (Request& request : c.batch)
                if (!answer(c, request)) break;
        }
        if (c.pending_at >= c.pending.size()) {
            c.pending.clear();
            c.pending_at = 0;
            if (c.pending.capacity() > read_buffer_bytes) c.pending.shrink_to_fit();
        }
        c.charge_input();
        if (c.peer_done && c.idle_output()) finish(c);
    }

    void on_read(Connection& c, std::size_t n) {
        if (!c.finishing) {
            c.pending.append(read_buffer.data(), n);
            pump(c);
        }
        settle(c);
    }

    void on_end(Connection& c) {
        if (c.finishing) {
            c.dead = true; // our FIN was sent and the client closed too
        } else {
            // The client is done sending; what it asked for is still answered.
            c.peer_done = true;
            pump(c);
        }
        settle(c);
    }

    void on_written(Connection& c) {
        if (!c.finishing && c.idle_output())
            restart_timer(c); // everything asked for was read by the client
        pump(c);
        settle(c);
    }
};

Connection::Connection(Server::Impl& s, const ServerOptions& options, WriteBudget& b)
    : server(s)
    , stream(s.loop, *this, {options.max_queued_bytes, options.max_queued_bytes / 2}, &b)
    , parser(options.limits)
    , budget(b) {}

Connection::~Connection() {
    budget.refund(charged);
}

std::span<char> Connection::read_buffer() {
    return server.read_buffer;
}
void Connection::on_read(std::size_t n) {
    server.on_read(*this, n);
}
void Connection::on_end() {
    server.on_end(*this);
}
void Connection::on_written() {
    server.on_written(*this);
}
void Connection::on_error(int) {
    dead = true;
    server.settle(*this);
}

Server::Server(Loop& loop, ServerOptions options, Handler handler, ContinueCheck continue_check)
    : Server(loop, std::move(options),
             DeferringHandler(
                 [h = std::move(handler)](const Request& r, Reply reply) { reply(h(r)); }),
             std::move(continue_check)) {}

Server::Server(Loop& loop, ServerOptions options, DeferringHandler handler,
               ContinueCheck continue_check)
    : impl_(std::make_unique<Impl>(loop, std::move(options), std::move(handler),
                                   std::move(continue_check))) {}

Server::~Server() {
    impl_->listener.reset();
    impl_->connections.clear();
}

Result<void> Server::start() {
    impl_->listener =
        std::make_unique<TcpListener>(impl_->loop, impl_->options.max_connections,
                                      [impl = impl_.get()] { impl->on_connection(); });
    if (auto r = impl_->listener->listen(impl_->options.listen); !r)
        return fail("http: {}", r.error().message);
    log::info("http.listen", {{"addr", local_address().to_string()}});
    return {};
}

SocketAddress Server::local_address() const {
    if (!impl_->listener) return impl_->options.listen;
    return impl_->listener->local_address();
}

std::string format_metrics(const ServerStats& s, std::size_t open_connections) {
    MetricsText m;
    m.gauge("cairn_http_connections", "Open HTTP API connections.", open_connections);
    m.family("cairn_http_connections_total", "counter",
             "HTTP API connections accepted or rejected (over the cap).");
    m.sample("cairn_http_connections_total", s.connections_accepted, {{"result", "accepted"}});
    m.sample("cairn_http_connections_total", s.connections_rejected, {{"result", "rejected"}});
    m.counter("cairn_http_requests_total", "HTTP API requests handled.", s.requests);
    m.family("cairn_http_responses_total", "counter", "HTTP API responses by status class.");
    for (std::size_t c = 1; c < s.responses.size(); ++c)
        m.sample("cairn_http_responses_total", s.responses[c], {{"code", fmt::format("{}xx", c)}});
    m.counter("cairn_http_parse_errors_total", "Requests refused as malformed or over a limit.",
              s.parse_errors);
    m.counter("cairn_http_timeouts_total", "Connections closed by the idle timeout.", s.timeouts);
    return std::move(m).text();
}

std::size_t Server::connection_count() const {
    return impl_->connections.size();
}

const ServerStats& Server::stats() const {
    return impl_->stats;
}

std::size_t Server::buffered_bytes() const {
    return impl_->budget.used();
}

} // namespace cairn::http
