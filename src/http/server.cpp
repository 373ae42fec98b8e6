#include "http/server.hpp"

#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "core/log.hpp"

namespace cairn::http {

namespace {

// A client that sends requests but does not read the answers stops being
// read once this much is queued for it.
constexpr std::size_t max_queued_write_bytes = 1 << 20;
constexpr std::size_t read_buffer_bytes = 64 << 10;

} // namespace

// One accepted socket and its idle timer. Both handles are closed together
// and the memory is freed when the second close callback has run (libuv's
// lifetime rule, see core/loop.hpp).
struct Connection {
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    Server::Impl* server = nullptr; // null once the server is gone
    RequestParser parser;
    std::vector<Request> batch;
    std::deque<Request> waiting; // parsed, not yet handed to the handler
    bool awaiting_reply = false; // a deferred reply is outstanding
    // What a Reply holds: the connection, null once it is closing.
    std::shared_ptr<Connection*> self = std::make_shared<Connection*>(this);
    int open_handles = 2;
    unsigned writes_in_flight = 0;
    bool closing = false;
    bool close_after_write = false;
    bool partial = false; // bytes of an unfinished request were read
    bool reading = false;
    bool processing = false; // inside process(): a reply given there needs no new turn
    std::optional<Response> pending_error; // a parse error, sent after the requests before it

    explicit Connection(const ParserLimits& limits)
        : parser(limits) {}
};

struct WriteRequest {
    uv_write_t req{};
    std::string data;
    Connection* conn = nullptr;
};

struct Server::Impl {
    Loop& loop;
    ServerOptions options;
    DeferringHandler handler;
    uv_tcp_t* listener = nullptr;
    std::unordered_set<Connection*> connections;
    ServerStats stats;
    std::vector<char> read_buffer = std::vector<char>(read_buffer_bytes);

    Impl(Loop& l, ServerOptions o, DeferringHandler h)
        : loop(l)
        , options(std::move(o))
        , handler(std::move(h)) {}

    static void on_handle_closed(uv_handle_t* h) {
        auto* c = static_cast<Connection*>(h->data);
        if (--c->open_handles == 0) delete c;
    }

    void close(Connection* c) {
        if (c->closing) return;
        c->closing = true;
        *c->self = nullptr;
        connections.erase(c);
        c->server = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_handle_closed);
        uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_handle_closed);
    }

    void arm_timer(Connection* c) {
        uv_timer_start(
            &c->timer,
            [](uv_timer_t* t) {
                auto* conn = static_cast<Connection*>(t->data);
                if (conn->server) conn->server->on_timeout(conn);
            },
            static_cast<std::uint64_t>(options.idle_timeout.count()), 0);
    }

    void on_timeout(Connection* c) {
        if (c->awaiting_reply) {
            arm_timer(c); // the wait is ours, not the client's
            return;
        }
        ++stats.timeouts;
        if (c->partial && !c->close_after_write) {
            log::debug("http.timeout", {{"partial", true}});
            send(c, Response::error(408, "request not completed in time"), false);
            stop_reading(c);
            c->close_after_write = true;
            return;
        }
        close(c);
    }

    void send_raw(Connection* c, std::string data) {
        auto* w = new WriteRequest;
        w->data = std::move(data);
        w->conn = c;
        uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
        ++c->writes_in_flight;
        int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                          [](uv_write_t* req, int status) {
                              auto* wr = reinterpret_cast<WriteRequest*>(req);
                              Connection* conn = wr->conn;
                              delete wr;
                              --conn->writes_in_flight;
                              if (conn->server) conn->server->on_written(conn, status);
                          });
        if (rc != 0) {
            --c->writes_in_flight;
            delete w;
            close(c);
        }
    }

    void send(Connection* c, const Response& r, bool keep_alive) {
        std::size_t cls = static_cast<std::size_t>(r.status / 100);
        if (cls < stats.responses.size()) ++stats.responses[cls];
        send_raw(c, serialize(r, keep_alive));
    }

    void on_written(Connection* c, int status) {
        if (status != 0) {
            close(c);
            return;
        }
        if (c->close_after_write && c->writes_in_flight == 0 && !c->awaiting_reply) {
            close(c);
            return;
        }
        if (!c->reading && !c->close_after_write && !c->awaiting_reply &&
            uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&c->tcp)) <
                max_queued_write_bytes / 2)
            start_reading(c);
    }

    void stop_reading(Connection* c) {
        if (c->reading) uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
        c->reading = false;
    }

    void start_reading(Connection* c) {
        c->reading = true;
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&c->tcp),
            [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
                auto* conn = static_cast<Connection*>(h->data);
                if (!conn->server) {
                    *buf = uv_buf_init(nullptr, 0);
                    return;
                }
                auto& b = conn->server->read_buffer;
                *buf = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
            },
            [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                auto* conn = static_cast<Connection*>(s->data);
                if (conn->server) conn->server->on_read(conn, n, buf);
            });
    }

    // Whatever the handler does, one bad request must not take the server down.
    void handle(const Request& request, Reply reply) noexcept {
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

    // Hands the waiting requests to the handler, one at a time: a request
    // whose reply is deferred holds back the ones behind it.
    void process(Connection* c) {
        c->processing = true;
        while (!c->closing && !c->awaiting_reply && !c->waiting.empty()) {
            Request request = std::move(c->waiting.front());
            c->waiting.pop_front();
            ++stats.requests;
            c->awaiting_reply = true;
            bool keep_alive = request.keep_alive;
            std::weak_ptr<Connection*> weak = c->self;
            auto done = std::make_shared<bool>(false);
            handle(request, [weak, keep_alive, done](Response response) {
                auto self = weak.lock();
                if (*done || !self || !*self || !(*self)->server) return;
                *done = true;
                (*self)->server->replied(*self, response, keep_alive);
            });
        }
        c->processing = false;
        if (!c->closing && !c->awaiting_reply && c->pending_error) {
            auto error = std::move(*c->pending_error);
            c->pending_error.reset();
            send(c, error, false);
            stop_reading(c);
            c->close_after_write = true;
        }
    }

    void replied(Connection* c, const Response& response, bool request_keep_alive) {
        c->awaiting_reply = false;
        bool keep = request_keep_alive && !response.close;
        send(c, response, keep);
        arm_timer(c);
        if (!keep || c->close_after_write) {
            c->waiting.clear();
            c->pending_error.reset();
            stop_reading(c);
            c->close_after_write = true;
            return;
        }
        if (c->processing) return; // answered at once: process() goes on with the next one
        process(c);
        if (!c->closing && !c->awaiting_reply && !c->reading && !c->close_after_write &&
            uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&c->tcp)) <
                max_queued_write_bytes)
            start_reading(c);
    }

    void on_read(Connection* c, ssize_t n, const uv_buf_t* buf) {
        if (n == 0) return;
        if (n < 0) {
            // EOF or error: answers already queued still go out.
            stop_reading(c);
            if ((c->writes_in_flight > 0 || c->awaiting_reply) && n == UV_EOF)
                c->close_after_write = true;
            else
                close(c);
            return;
        }
        c->batch.clear();
        auto fed =
            c->parser.feed(std::string_view(buf->base, static_cast<std::size_t>(n)), c->batch);
        if (c->parser.take_expect_continue()) send_raw(c, "HTTP/1.1 100 Continue\r\n\r\n");
        for (Request& request : c->batch) c->waiting.push_back(std::move(request));
        if (!fed) {
            ++stats.parse_errors;
            log::debug("http.parse_error",
                       {{"status", fed.error().status}, {"error", fed.error().message}});
            // Answered after the requests before it.
            c->pending_error = Response::error(fed.error().status, fed.error().message);
            stop_reading(c);
        }
        process(c);
        if (c->closing || c->close_after_write) return;
        c->partial = c->parser.mid_request();
        // A deferred reply holds back what follows; stop reading until it comes.
        if (c->awaiting_reply || uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(
                                     &c->tcp)) > max_queued_write_bytes)
            stop_reading(c);
    }

    void on_connection(int status) {
        if (status != 0) {
            log::warn("http.accept_failed", {{"error", uv_strerror(status)}});
            return;
        }
        auto* c = new Connection(options.limits);
        uv_tcp_init(loop.get(), &c->tcp);
        uv_timer_init(loop.get(), &c->timer);
        c->tcp.data = c;
        c->timer.data = c;
        c->server = this;
        connections.insert(c);
        if (uv_accept(reinterpret_cast<uv_stream_t*>(listener),
                      reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
            close(c);
            return;
        }
        uv_tcp_nodelay(&c->tcp, 1);
        if (connections.size() > options.max_connections) {
            ++stats.connections_rejected;
            send(c, Response::error(503, "too many connections"), false);
            c->close_after_write = true;
            arm_timer(c);
            return;
        }
        ++stats.connections_accepted;
        arm_timer(c);
        start_reading(c);
    }
};

Server::Server(Loop& loop, ServerOptions options, Handler handler)
    : Server(loop, std::move(options),
             DeferringHandler(
                 [h = std::move(handler)](const Request& r, Reply reply) { reply(h(r)); })) {}

Server::Server(Loop& loop, ServerOptions options, DeferringHandler handler)
    : impl_(std::make_unique<Impl>(loop, std::move(options), std::move(handler))) {}

Server::~Server() {
    if (impl_->listener) close_and_delete(impl_->listener);
    std::vector<Connection*> open(impl_->connections.begin(), impl_->connections.end());
    for (Connection* c : open) impl_->close(c);
}

Result<void> Server::start() {
    auto* l = new uv_tcp_t;
    uv_tcp_init(impl_->loop.get(), l);
    l->data = impl_.get();
    impl_->listener = l;
    if (int rc = uv_tcp_bind(l, impl_->options.listen.sa(), 0); rc != 0)
        return fail("http: cannot bind {}: {}", impl_->options.listen.to_string(), uv_strerror(rc));
    int rc = uv_listen(reinterpret_cast<uv_stream_t*>(l), 511, [](uv_stream_t* s, int status) {
        static_cast<Server::Impl*>(s->data)->on_connection(status);
    });
    if (rc != 0)
        return fail("http: cannot listen on {}: {}", impl_->options.listen.to_string(),
                    uv_strerror(rc));
    log::info("http.listen", {{"addr", local_address().to_string()}});
    return {};
}

SocketAddress Server::local_address() const {
    SocketAddress a;
    if (!impl_->listener) return impl_->options.listen;
    int len = sizeof a.storage;
    uv_tcp_getsockname(impl_->listener, reinterpret_cast<sockaddr*>(&a.storage), &len);
    return a;
}

std::string format_metrics(const ServerStats& s, std::size_t open_connections) {
    std::string out;
    out += "# HELP cairn_http_connections Open HTTP API connections.\n# TYPE "
           "cairn_http_connections gauge\n";
    out += fmt::format("cairn_http_connections {}\n", open_connections);
    out += "# HELP cairn_http_connections_total HTTP API connections accepted or rejected (over "
           "the cap).\n"
           "# TYPE cairn_http_connections_total counter\n";
    out += fmt::format("cairn_http_connections_total{{result=\"accepted\"}} {}\n",
                       s.connections_accepted);
    out += fmt::format("cairn_http_connections_total{{result=\"rejected\"}} {}\n",
                       s.connections_rejected);
    out += "# HELP cairn_http_requests_total HTTP API requests handled.\n# TYPE "
           "cairn_http_requests_total counter\n";
    out += fmt::format("cairn_http_requests_total {}\n", s.requests);
    out += "# HELP cairn_http_responses_total HTTP API responses by status class.\n"
           "# TYPE cairn_http_responses_total counter\n";
    for (std::size_t c = 1; c < s.responses.size(); ++c)
        out += fmt::format("cairn_http_responses_total{{code=\"{}xx\"}} {}\n", c, s.responses[c]);
    out += "# HELP cairn_http_parse_errors_total Requests refused as malformed or over a limit.\n"
           "# TYPE cairn_http_parse_errors_total counter\n";
    out += fmt::format("cairn_http_parse_errors_total {}\n", s.parse_errors);
    out += "# HELP cairn_http_timeouts_total Connections closed by the idle timeout.\n"
           "# TYPE cairn_http_timeouts_total counter\n";
    out += fmt::format("cairn_http_timeouts_total {}\n", s.timeouts);
    return out;
}

std::size_t Server::connection_count() const {
    return impl_->connections.size();
}

const ServerStats& Server::stats() const {
    return impl_->stats;
}

} // namespace cairn::http
