// The socket wrappers on real loopback sockets (suite "sockets").
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "core/loop.hpp"
#include "core/tcp_listener.hpp"
#include "core/tcp_stream.hpp"
#include "core/timeouts.hpp"
#include "core/udp_socket.hpp"

using namespace cairn;
using namespace std::chrono_literals;

namespace {

SocketAddress loopback() {
    return *parse_socket_address("127.0.0.1:0");
}

// A stream end that records what it gets and can echo or answer.
struct Peer final : TcpStream::Handler {
    explicit Peer(Loop& loop, TcpStream::Limits limits = {}, WriteBudget* budget = nullptr)
        : stream(loop, *this, limits, budget) {}

    std::span<char> read_buffer() override { return {buffer, sizeof buffer}; }
    void on_read(std::size_t n) override {
        received.append(buffer, n);
        if (echo) (void)stream.write(std::span<const char>(buffer, n));
        if (on_data) on_data(*this);
    }
    void on_end() override {
        ended = true;
        if (on_finished) on_finished(*this);
    }
    void on_written() override { ++written; }
    void on_error(int e) override { error = e; }

    TcpStream stream;
    char buffer[4096];
    std::string received;
    bool echo = false;
    bool ended = false;
    int error = 0;
    int written = 0;
    std::function<void(Peer&)> on_data;
    std::function<void(Peer&)> on_finished;
};

// Runs the loop until `done` or a bounded number of iterations.
template <class F>
bool run_until(Loop& loop, F done, int max_iterations = 20000) {
    for (int i = 0; i < max_iterations && !done(); ++i) uv_run(loop.get(), UV_RUN_NOWAIT);
    return done();
}

} // namespace

TEST_CASE("a listener hands out streams, a client connects, bytes go both ways") {
    Loop loop;
    std::vector<std::unique_ptr<Peer>> accepted;
    TcpListener listener(loop, 8, [&] {
        accepted.push_back(std::make_unique<Peer>(loop));
        REQUIRE(listener.accept(accepted.back()->stream));
        accepted.back()->echo = true;
        accepted.back()->stream.read_start();
    });
    REQUIRE(listener.listen(loopback()));
    Peer client(loop);
    int connected = 1;
    client.stream.connect(listener.local_address(), 2000ms, [&](int status) {
        connected = status;
        client.stream.read_start();
        CHECK(client.stream.write(std::span<const char>("hello", 5)) == 0);
    });
    CHECK(run_until(loop, [&] { return client.received == "hello"; }));
    CHECK(connected == 0);
    CHECK(listener.open_connections() == 1);
    CHECK(accepted.front()->stream.peer().host() == "127.0.0.1");
    accepted.clear();
    CHECK(listener.open_connections() == 0);
    CHECK(run_until(loop, [&] { return client.ended; }));
}

TEST_CASE(
    "a stream whose peer does not read is backlogged, stops reading, and resumes when drained") {
    Loop loop;
    std::unique_ptr<Peer> server;
    TcpListener listener(loop, 8, [&] {
        server = std::make_unique<Peer>(loop, TcpStream::Limits{64 << 10, 16 << 10});
        REQUIRE(listener.accept(server->stream));
        server->stream.read_start();
    });
    REQUIRE(listener.listen(loopback()));
    Peer client(loop);
    client.stream.connect(listener.local_address(), 2000ms, [](int) {});
    REQUIRE(run_until(loop, [&] { return server != nullptr; }));
    // Write until the kernel buffers are full and the queue passes the limit.
    std::string block(64 << 10, 'x');
    std::size_t sent = 0;
    for (int i = 0; i < 400 && !server->stream.backlogged(); ++i) {
        REQUIRE(server->stream.write(std::span<const char>(block)) == 0);
        sent += block.size();
    }
    REQUIRE(server->stream.backlogged());
    CHECK(server->stream.queued_bytes() > (64u << 10));
    client.stream.read_start();
    CHECK(run_until(loop, [&] { return client.received.size() == sent; }));
    CHECK_FALSE(server->stream.backlogged());
    CHECK(server->stream.queued_bytes() == 0);
    CHECK(server->written > 0);
}

TEST_CASE("a write budget shared by streams backlogs them all once spent") {
    Loop loop;
    WriteBudget budget(1000);
    Peer a(loop, {}, &budget), b(loop, {}, &budget);
    budget.charge(1000);
    CHECK(a.stream.backlogged());
    CHECK(b.stream.backlogged());
    budget.refund(1);
    CHECK_FALSE(a.stream.backlogged());
}

TEST_CASE("at the cap the owner refuses, and the refused client sees the connection end") {
    Loop loop;
    std::vector<std::unique_ptr<Peer>> accepted;
    int refused = 0;
    TcpListener listener(loop, 1, [&] {
        if (listener.at_cap()) {
            ++refused;
            listener.refuse();
            return;
        }
        accepted.push_back(std::make_unique<Peer>(loop));
        REQUIRE(listener.accept(accepted.back()->stream));
    });
    REQUIRE(listener.listen(loopback()));
    Peer first(loop), second(loop);
    first.stream.connect(listener.local_address(), 2000ms, [&](int) { first.stream.read_start(); });
    REQUIRE(run_until(loop, [&] { return accepted.size() == 1; }));
    second.stream.connect(listener.local_address(), 2000ms,
                          [&](int) { second.stream.read_start(); });
    CHECK(run_until(loop, [&] { return second.ended || second.error != 0; }));
    CHECK(refused == 1);
    CHECK(listener.open_connections() == 1);
    CHECK_FALSE(first.ended);
}

TEST_CASE("finish writes what is queued, sends FIN, and ends when the peer closes") {
    Loop loop;
    std::unique_ptr<Peer> server;
    TcpListener listener(loop, 8, [&] {
        server = std::make_unique<Peer>(loop);
        REQUIRE(listener.accept(server->stream));
        server->on_data = [](Peer& p) {
            if (p.received.size() >= 4) {
                (void)p.stream.write(std::span<const char>("bye", 3));
                CHECK(p.stream.finish() == 0);
            }
        };
        server->stream.read_start();
    });
    REQUIRE(listener.listen(loopback()));
    Peer client(loop);
    client.on_finished = [](Peer& p) { p.stream.close(); };
    client.stream.connect(listener.local_address(), 2000ms, [&](int) {
        client.stream.read_start();
        (void)client.stream.write(std::span<const char>("ping", 4));
    });
    CHECK(run_until(loop, [&] { return client.ended; }));
    CHECK(client.received == "bye");
    CHECK(run_until(loop, [&] { return server->ended; }));
}

TEST_CASE("a stream may be destroyed from inside its own read callback") {
    Loop loop;
    std::unique_ptr<Peer> server;
    TcpListener listener(loop, 8, [&] {
        server = std::make_unique<Peer>(loop);
        REQUIRE(listener.accept(server->stream));
        server->on_data = [&](Peer&) { server.reset(); };
        server->stream.read_start();
    });
    REQUIRE(listener.listen(loopback()));
    Peer client(loop);
    client.stream.connect(listener.local_address(), 2000ms, [&](int) {
        client.stream.read_start();
        (void)client.stream.write(std::span<const char>("x", 1));
    });
    bool accepted_once = false;
    CHECK(run_until(loop, [&] {
        accepted_once = accepted_once || server != nullptr;
        return client.ended || client.error != 0;
    }));
    CHECK(server == nullptr);
    CHECK(listener.open_connections() == 0);
}

TEST_CASE("connect reports refusal, and a timeout that passes first") {
    Loop loop;
    // A port that was just free: nothing listens there.
    SocketAddress closed;
    {
        TcpListener probe(loop, 1, [] {});
        REQUIRE(probe.listen(loopback()));
        closed = probe.local_address();
    }
    Peer refused(loop);
    int status = 1;
    refused.stream.connect(closed, 2000ms, [&](int s) { status = s; });
    CHECK(run_until(loop, [&] { return status != 1; }));
    CHECK(status == UV_ECONNREFUSED);
    CHECK_FALSE(refused.stream.is_open());

    TcpListener listener(loop, 8, [&] { listener.refuse(); });
    REQUIRE(listener.listen(loopback()));
    Peer slow(loop);
    status = 1;
    // A 0 ms timer runs before the loop polls for the connect's completion.
    slow.stream.connect(listener.local_address(), 0ms, [&](int s) { status = s; });
    CHECK(run_until(loop, [&] { return status != 1; }));
    CHECK(status == UV_ETIMEDOUT);
}

TEST_CASE("udp sockets send and receive datagrams with the sender's address") {
    Loop loop;
    UdpSocket a(loop), b(loop);
    REQUIRE(a.bind(loopback()));
    REQUIRE(b.bind(loopback()));
    std::string got;
    SocketAddress from;
    REQUIRE(b.receive_start([&](std::span<const std::uint8_t> data, const SocketAddress& sender) {
        got.assign(reinterpret_cast<const char*>(data.data()), data.size());
        from = sender;
    }));
    std::string msg = "gossip";
    REQUIRE(
        a.send({reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()}, b.local_address()));
    CHECK(run_until(loop, [&] { return !got.empty(); }));
    CHECK(got == "gossip");
    CHECK(from == a.local_address());
}

TEST_CASE("a timeout set fires each expired entry once, on one timer") {
    Loop loop;
    TimeoutQueue short_queue(5ms), long_queue(20ms);
    TimeoutSet set(loop);
    std::vector<int> fired;
    set.add(short_queue, [&](TimeoutEntry& e) { fired.push_back(*static_cast<int*>(e.item)); });
    set.add(long_queue, [&](TimeoutEntry& e) { fired.push_back(*static_cast<int*>(e.item)); });
    int one = 1, two = 2, three = 3;
    TimeoutEntry a(&one), b(&two), c(&three);
    long_queue.start(a, set.now_ms());
    short_queue.start(b, set.now_ms());
    short_queue.start(c, set.now_ms());
    TimeoutQueue::cancel(c);
    set.schedule();
    loop.run(); // ends when nothing is left to fire
    CHECK(fired == std::vector<int>{2, 1});
}
