// The server on a real loopback socket: the loop runs on a thread, the test
// is an ordinary blocking client. Every wait has a deadline.

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/loop.hpp"
#include "http/server.hpp"

using namespace cairn;
using namespace cairn::http;
using namespace std::chrono_literals;

namespace {

Response echo(const Request& r) {
    if (r.path == "/throw") throw std::runtime_error("boom");
    return Response::text(200, r.method + " " + r.path + " " + r.body);
}

// A Server on its own loop thread.
class Running {
public:
    explicit Running(ServerOptions options, Handler handler = echo, ContinueCheck check = {})
        : async_(loop_, [this] { loop_.stop(); })
        , server_(loop_, std::move(options), std::move(handler), std::move(check))
        , read_stats_(loop_, [this] {
            std::lock_guard lock(mutex_);
            copy_ = server_.stats();
            copied_ = asked_;
            copied_cv_.notify_all();
        }) {
        auto ok = server_.start();
        REQUIRE(ok);
        port_ = server_.local_address().port();
        thread_ = std::thread([this] { loop_.run(); });
    }
    ~Running() {
        async_.send();
        thread_.join();
    }
    std::uint16_t port() const { return port_; }
    // Only after the loop stopped.
    const ServerStats& stats() const { return server_.stats(); }
    // The counters now, from any thread: the loop (whose they are) copies
    // them; waits at most 2 s for it.
    ServerStats stats_now() {
        std::unique_lock lock(mutex_);
        std::uint64_t asked = ++asked_;
        read_stats_.send();
        REQUIRE(copied_cv_.wait_for(lock, 2s, [&] { return copied_ >= asked; }));
        return copy_;
    }

private:
    Loop loop_;
    Async async_;
    Server server_;
    std::mutex mutex_;
    std::condition_variable copied_cv_;
    ServerStats copy_;
    std::uint64_t asked_ = 0, copied_ = 0;
    Async read_stats_;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

ServerOptions options() {
    ServerOptions o;
    o.listen = *parse_socket_address("127.0.0.1:0");
    o.idle_timeout = 2000ms;
    return o;
}

class Client {
public:
    explicit Client(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~Client() { ::close(fd_); }
    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
    void small_window() {
        int size = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    // Everything until the server closes (or the deadline).
    std::string rest(std::chrono::milliseconds deadline = 5000ms) {
        auto until = std::chrono::steady_clock::now() + deadline;
        while (fill(until)) {
        }
        return std::exchange(buffer_, {});
    }

    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return; // the server may have closed; reading tells
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // One response (status and body), or nullopt on EOF / deadline.
    std::optional<std::pair<int, std::string>>
    response(std::chrono::milliseconds deadline = 5000ms) {
        auto until = std::chrono::steady_clock::now() + deadline;
        for (;;) {
            auto end = buffer_.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::string head = buffer_.substr(0, end);
                std::size_t length = 0;
                auto cl = head.find("Content-Length: ");
                if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
                if (buffer_.size() >= end + 4 + length) {
                    int status = std::stoi(head.substr(9, 3));
                    std::string body = buffer_.substr(end + 4, length);
                    buffer_.erase(0, end + 4 + length);
                    if (status == 100) continue;
                    return std::pair{status, body};
                }
            }
            if (!fill(until)) return std::nullopt;
        }
    }

    // True when the server closes the connection before the deadline.
    bool closed(std::chrono::milliseconds deadline = 5000ms) {
        auto until = std::chrono::steady_clock::now() + deadline;
        while (fill(until)) buffer_.clear();
        return eof_;
    }

private:
    bool fill(std::chrono::steady_clock::time_point until) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buffer_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    std::string buffer_;
    bool eof_ = false;
};

} // namespace

TEST_CASE("keep-alive: several requests on one connection") {
    Running s(options());
    Client c(s.port());
    for (int i = 0; i < 3; ++i) {
        c.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
        auto r = c.response();
        REQUIRE(r);
        CHECK(r->first == 200);
        CHECK(r->second == "GET /x ");
    }
}

TEST_CASE("pipelining: answers in order") {
    Running s(options());
    Client c(s.port());
    c.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPUT /2 HTTP/1.1\r\nHost: x\r\nContent-Length: "
           "3\r\n\r\nabcGET /3 "
           "HTTP/1.1\r\nHost: x\r\n\r\n");
    auto a = c.response(), b = c.response(), d = c.response();
    REQUIRE((a && b && d));
    CHECK(a->second == "GET /1 ");
    CHECK(b->second == "PUT /2 abc");
    CHECK(d->second == "GET /3 ");
}

TEST_CASE("Connection: close is honoured") {
    Running s(options());
    Client c(s.port());
    c.send("GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->first == 200);
    CHECK(c.closed());
}

TEST_CASE("limits: 431 for big headers, 413 for a big body before it is sent, 400 for garbage") {
    Running s(options());
    {
        Client c(s.port());
        c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
        auto r = c.response();
        REQUIRE(r);
        CHECK(r->first == 431);
        CHECK(c.closed());
    }
    {
        Client c(s.port());
        c.send("PUT /v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n");
        auto r = c.response();
        REQUIRE(r);
        CHECK(r->first == 413);
        CHECK(c.closed());
    }
    {
        Client c(s.port());
        c.send("HELLO\r\n\r\n");
        auto r = c.response();
        REQUIRE(r);
        CHECK(r->first == 400);
        CHECK(c.closed());
    }
    // Still serving.
    Client c(s.port());
    c.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->first == 200);
}

TEST_CASE("Expect: 100-continue gets 100 Continue, then the answer") {
    Running s(options());
    Client c(s.port());
    c.send("PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    // The helper skips the 100; send the body once it could have arrived.
    c.send("ok");
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->second == "PUT /e ok");
}

TEST_CASE("a slow client that never finishes its headers gets 408 and is closed") {
    auto o = options();
    o.idle_timeout = 200ms;
    Running s(o);
    Client c(s.port());
    c.send("GET /slow HTTP/1.1\r\nHost: a\r\n");
    auto start = std::chrono::steady_clock::now();
    // Trickling more header bytes does not reset the clock.
    for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(50ms);
        c.send("X-More: y\r\n");
    }
    auto r = c.response(3000ms);
    REQUIRE(r);
    CHECK(r->first == 408);
    CHECK(c.closed());
    CHECK(std::chrono::steady_clock::now() - start < 2000ms);
}

TEST_CASE("an idle keep-alive connection is closed without a response") {
    auto o = options();
    o.idle_timeout = 150ms;
    Running s(o);
    Client c(s.port());
    c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(c.response());
    CHECK(c.closed(3000ms));
}

TEST_CASE("over the connection cap: 503") {
    auto o = options();
    o.max_connections = 2;
    Running s(o);
    Client a(s.port()), b(s.port());
    a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(a.response());
    REQUIRE(b.response()); // both are accepted by now
    Client c(s.port());
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->first == 503);
    CHECK(c.closed());
    a.send("GET /a2 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto again = a.response();
    REQUIRE(again);
    CHECK(again->first == 200);
}

TEST_CASE("a handler that throws gives 500 and the connection goes on") {
    Running s(options());
    Client c(s.port());
    c.send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    auto a = c.response(), b = c.response();
    REQUIRE((a && b));
    CHECK(a->first == 500);
    CHECK(b->first == 200);
}

TEST_CASE("a client that half-closes after its request still gets the answer") {
    Running s(options());
    Client c(s.port());
    c.send("GET /h HTTP/1.1\r\nHost: x\r\n\r\n");
    c.shutdown_write();
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->second == "GET /h ");
}

namespace {

// A server whose handler defers "/later" by `delay` (as a durable write
// waits for its commit) and answers everything else at once.
class Deferring {
public:
    explicit Deferring(std::chrono::milliseconds delay = 50ms, ServerOptions o = options())
        : async_(loop_, [this] { loop_.stop(); })
        , timer_(loop_)
        , server_(loop_, o, [this, delay](const Request& r, Reply reply) {
            calls_.push_back(r.path);
            if (r.path != "/later") {
                reply(Response::text(200, "now " + r.body));
                return;
            }
            timer_.start(delay, 0ms, [this, reply, body = r.body] {
                calls_.push_back("reply");
                reply(Response::text(200, "later " + body));
                reply(Response::text(500, "a second reply is ignored"));
            });
        }) {
        REQUIRE(server_.start());
        port_ = server_.local_address().port();
        thread_ = std::thread([this] { loop_.run(); });
    }
    ~Deferring() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        async_.send();
        thread_.join();
    }
    std::uint16_t port() const { return port_; }
    // Only after stop().
    const std::vector<std::string>& calls() const { return calls_; }

private:
    Loop loop_;
    Async async_;
    Timer timer_;
    std::vector<std::string> calls_;
    Server server_;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

} // namespace

TEST_CASE("a deferred reply holds back the requests behind it, and answers stay in order") {
    Deferring s;
    Client c(s.port());
    c.send("PUT /later HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"
           "PUT /now HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nB"
           "PUT /later HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nC");
    auto a = c.response();
    auto b = c.response();
    auto d = c.response();
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(d);
    CHECK(a->second == "later A");
    CHECK(b->second == "now B");
    CHECK(d->second == "later C");
    s.stop();
    // The second request reached the handler only after the first was answered.
    CHECK(s.calls() == std::vector<std::string>{"/later", "reply", "/now", "/later", "reply"});
}

TEST_CASE("a connection that closes while its reply is deferred is dropped quietly") {
    Deferring s;
    {
        Client c(s.port());
        c.send("PUT /later HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA");
    }
    Client next(s.port());
    next.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = next.response();
    REQUIRE(r);
    CHECK(r->second == "now ");
}

TEST_CASE("a reply deferred past the idle timeout is still sent, and the connection goes on") {
    ServerOptions o = options();
    o.idle_timeout = 100ms;
    Deferring s(400ms, o);
    Client c(s.port());
    c.send("PUT /later HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA");
    auto a = c.response();
    REQUIRE(a);
    CHECK(a->second == "later A");
    c.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
    auto b = c.response();
    REQUIRE(b);
    CHECK(b->second == "now ");
}

TEST_CASE("a client that pipelines and never reads is not parsed past the queue limit") {
    auto o = options();
    o.max_queued_bytes = 64 << 10;
    auto handled = std::make_shared<std::atomic<int>>(0);
    Running s(o, [handled](const Request&) {
        ++*handled;
        return Response::text(200, std::string(256 << 10, 'x'));
    });
    Client c(s.port());
    std::string burst;
    for (int i = 0; i < 1000; ++i) burst += "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    c.send(burst); // 32 KB: the server reads it all, and parses only what it can answer
    // Its answers do not drain, so the server closes it at the idle timeout
    // (2 s); nothing is handled after that. Reading before it would let the
    // server go on, so the test watches the server's timeout counter instead.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (s.stats_now().timeouts == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    REQUIRE(s.stats_now().timeouts == 1);
    int last = handled->load();
    CHECK(last > 0);
    CHECK(last < 100); // 256 MB of answers if all were made; the kernel's buffers hold some
    // Reading now gets what the kernel held, then EOF.
    std::string rest = c.rest(5000ms);
    CHECK(rest.size() < 100u * (257 << 10));
    CHECK(c.closed(100ms));
    CHECK(handled->load() == last);
}

TEST_CASE("HEAD: GET's status and headers without the body; a streamed body comes chunked") {
    Running s(options(), [](const Request& r) {
        if (r.path != "/stream") return echo(r);
        Response resp = Response::json(200, "");
        int piece = 0;
        resp.body_stream = [piece](std::string& out) mutable {
            out += std::string(1000, static_cast<char>('a' + piece % 26));
            return ++piece < 100;
        };
        return resp;
    });
    Client c(s.port());
    c.send("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string both = c.rest(500ms);
    // HEAD's Content-Length is the GET body's, and the GET answer follows at once.
    CHECK(both.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(both.find("Content-Length: 7\r\n\r\nHTTP/1.1 200 OK") != std::string::npos);
    CHECK(both.ends_with("\r\n\r\nGET /x "));

    Client d(s.port());
    d.send("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string raw = d.rest();
    auto head_end = raw.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    CHECK(raw.substr(0, head_end).find("Transfer-Encoding: chunked") != std::string::npos);
    std::string body, chunks = raw.substr(head_end + 4);
    for (;;) {
        auto eol = chunks.find("\r\n");
        REQUIRE(eol != std::string::npos);
        std::size_t size = std::stoul(chunks.substr(0, eol), nullptr, 16);
        if (size == 0) break;
        body += chunks.substr(eol + 2, size);
        REQUIRE(chunks.substr(eol + 2 + size, 2) == "\r\n");
        chunks.erase(0, eol + 4 + size);
    }
    CHECK(body.size() == 100000);
    CHECK(body.substr(0, 3) == "aaa");
    CHECK(body.substr(99997) == "vvv");
}

TEST_CASE("Expect: 100-continue refused by the check: its answer and no 100") {
    Running s(options(), echo, [](const Request& head) -> std::optional<Response> {
        if (head.path == "/no") return Response::error(401, "no");
        return std::nullopt;
    });
    Client c(s.port());
    c.send("PUT /no HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    std::string raw = c.rest(2000ms);
    CHECK(raw.starts_with("HTTP/1.1 401 "));
    CHECK(raw.find("100 Continue") == std::string::npos);
    Client d(s.port());
    d.send("PUT /yes HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    CHECK(d.rest(500ms).starts_with("HTTP/1.1 100 Continue\r\n\r\n"));
}
