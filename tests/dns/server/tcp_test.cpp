// The server's TCP side (RFC 7766), over real loopback connections.

#include "test_client.hpp"

#include <future>
#include <memory>

using namespace cairn;
using namespace cairn::dns;
using namespace cairn::dns::test;

namespace {

ServerOptions one_worker(std::chrono::milliseconds idle = 10s, unsigned max_connections = 1024) {
    return {.listen = {address("127.0.0.1:0")},
            .workers = 1,
            .tcp_max_connections = max_connections,
            .tcp_idle_timeout = idle};
}

} // namespace

TEST_CASE("tcp: several queries in one write are all answered, in order") {
    Server server(one_worker(), echo_factory());
    REQUIRE(server.start());
    auto s = tcp_connect(server.bound_addresses()[0]);
    Bytes pipelined;
    for (std::uint16_t id = 1; id <= 10; ++id) {
        auto f = framed(make_query(id));
        pipelined.insert(pipelined.end(), f.begin(), f.end());
    }
    send_all(s, pipelined);
    for (std::uint16_t id = 1; id <= 10; ++id) {
        auto answer = tcp_receive(s);
        REQUIRE(answer);
        CHECK(id_of(*answer) == id);
        CHECK(((*answer)[2] & 0x80) != 0);
    }
    CHECK(server.stats().tcp_queries == 10);
    CHECK(server.stats().tcp_connections == 1);
}

TEST_CASE("tcp: a length prefix and a message split across writes") {
    Server server(one_worker(), echo_factory());
    REQUIRE(server.start());
    auto s = tcp_connect(server.bound_addresses()[0]);
    auto f = framed(make_query(77));
    send_all(s, {f[0]});
    // Half a prefix is no message: nothing comes back yet.
    CHECK_FALSE(s.readable(50ms));
    send_all(s, Bytes(f.begin() + 1, f.begin() + 6));
    CHECK_FALSE(s.readable(50ms));
    send_all(s, Bytes(f.begin() + 6, f.end()));
    auto answer = tcp_receive(s);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 77);
    CHECK(answer->size() == f.size() - 2);
}

TEST_CASE("tcp: a silent connection is closed after the idle timeout, an active one is not") {
    Server server(one_worker(400ms), echo_factory());
    REQUIRE(server.start());
    auto start = Clock::now();
    auto silent = tcp_connect(server.bound_addresses()[0]);
    auto active = tcp_connect(server.bound_addresses()[0]);
    // The active one queries every 50 ms for longer than the timeout.
    for (std::uint16_t id = 0; id < 12; ++id) {
        send_all(active, framed(make_query(id)));
        auto answer = tcp_receive(active);
        REQUIRE(answer);
        CHECK(id_of(*answer) == id);
        std::this_thread::sleep_for(50ms);
    }
    CHECK(closed_by_peer(silent, 3s));
    CHECK(Clock::now() - start >= 350ms);
    CHECK(server.stats().tcp_timeouts >= 1);
    send_all(active, framed(make_query(99)));
    auto last = tcp_receive(active);
    REQUIRE(last);
    CHECK(id_of(*last) == 99);
}

TEST_CASE("tcp: at the cap, the least recently active idle connection makes room") {
    Server server(one_worker(10s, 2), echo_factory());
    REQUIRE(server.start());
    auto bound = server.bound_addresses()[0];
    auto a = tcp_connect(bound);
    send_all(a, framed(make_query(1)));
    REQUIRE(tcp_receive(a));
    auto b = tcp_connect(bound);
    send_all(b, framed(make_query(2)));
    REQUIRE(tcp_receive(b));
    // a is the older; touch b again so the order is clear.
    send_all(b, framed(make_query(3)));
    REQUIRE(tcp_receive(b));

    auto c = tcp_connect(bound);
    send_all(c, framed(make_query(4)));
    auto answer = tcp_receive(c);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 4);
    CHECK(closed_by_peer(a, 3s));
    send_all(b, framed(make_query(5)));
    auto still = tcp_receive(b);
    REQUIRE(still);
    CHECK(id_of(*still) == 5);
    CHECK(server.stats().tcp_evicted == 1);
    CHECK(server.stats().tcp_connections == 2);
}

TEST_CASE("tcp: the client's half-close still gets every answer, then EOF") {
    Server server(one_worker(), echo_factory());
    REQUIRE(server.start());
    auto s = tcp_connect(server.bound_addresses()[0]);
    Bytes pipelined;
    for (std::uint16_t id = big_id; id < big_id + 5; ++id) {
        auto f = framed(make_query(id));
        pipelined.insert(pipelined.end(), f.begin(), f.end());
    }
    send_all(s, pipelined);
    ::shutdown(s.fd(), SHUT_WR);
    for (int i = 0; i < 5; ++i) {
        auto answer = tcp_receive(s);
        REQUIRE(answer);
        CHECK(answer->size() == big_answer_size);
    }
    CHECK(closed_by_peer(s, 3s));
}

TEST_CASE("tcp: a client that does not read is not read from either") {
    Server server(one_worker(), echo_factory());
    REQUIRE(server.start());
    // A small receive window, so answers back up in the server quickly.
    auto s = tcp_connect(server.bound_addresses()[0], 4096);
    Bytes burst;
    constexpr int count = 2000; // 60 MB of answers if all were read
    for (int i = 0; i < count; ++i) {
        auto f = framed(make_query(static_cast<std::uint16_t>(big_id + i % 0x0fff)));
        burst.insert(burst.end(), f.begin(), f.end());
    }
    ::fcntl(s.fd(), F_SETFL, O_NONBLOCK);
    std::size_t sent = 0;
    // Send what the kernel takes; the server must stop reading long before all of it.
    auto deadline = Clock::now() + 2s;
    while (sent < burst.size() && Clock::now() < deadline) {
        ssize_t n = ::send(s.fd(), burst.data() + sent, burst.size() - sent, MSG_NOSIGNAL);
        if (n > 0)
            sent += static_cast<std::size_t>(n);
        else
            std::this_thread::sleep_for(5ms);
    }
    // Wait until the server's count settles.
    std::uint64_t last = 0;
    wait_until(
        [&] {
            auto now = server.stats().tcp_queries;
            bool settled = now == last && now > 0;
            last = now;
            std::this_thread::sleep_for(100ms);
            return settled;
        },
        5s);
    CHECK(last > 0);
    CHECK(last < count / 2);
}

TEST_CASE("tcp: stop() writes the answers already queued before closing") {
    auto options = one_worker();
    options.stop_grace = 30s; // a generous grace: the client reads slowly through a small window
    Server server(options, echo_factory());
    REQUIRE(server.start());
    auto s = tcp_connect(server.bound_addresses()[0], 65536);
    constexpr int count = 300; // 9 MB of answers: more than the socket buffers hold
    Bytes pipelined;
    for (int i = 0; i < count; ++i) {
        auto f = framed(make_query(static_cast<std::uint16_t>(big_id + i)));
        pipelined.insert(pipelined.end(), f.begin(), f.end());
    }
    send_all(s, pipelined);
    // The server has answered (some) once bytes come back; only then stop.
    REQUIRE(s.readable(3s));
    REQUIRE(wait_until([&] { return server.stats().responses >= 5; }));
    auto queued = server.stats().responses;
    auto stopped = std::async(std::launch::async, [&] { server.stop(); });
    int received = 0;
    while (auto answer = tcp_receive(s)) {
        CHECK(answer->size() == big_answer_size);
        ++received;
    }
    // The server's FIN came after the last answer; closing our side lets
    // stop() finish.
    CHECK(closed_by_peer(s, 1s));
    ::shutdown(s.fd(), SHUT_RDWR);
    CHECK(stopped.wait_for(5s) == std::future_status::ready);
    // Every answer the server produced arrived whole; the stream ended at a
    // message boundary (tcp_receive fails on a partial one, which would have
    // left received short).
    CHECK(received == static_cast<int>(server.stats().responses));
    CHECK(received >= static_cast<int>(queued));
}

TEST_CASE(
    "tcp: a query trickled byte by byte is cut off at the query timeout, not reset by each byte") {
    auto options = one_worker(10s);
    options.tcp_query_timeout = 300ms;
    Server server(options, echo_factory());
    REQUIRE(server.start());
    auto slow = tcp_connect(server.bound_addresses()[0]);
    auto f = framed(make_query(7));
    auto start = Clock::now();
    // One byte every 50 ms: the whole query would take over a second.
    bool closed = false;
    for (std::size_t i = 0; i < f.size() && !closed; ++i) {
        ssize_t n = ::send(slow.fd(), f.data() + i, 1, MSG_NOSIGNAL);
        closed = n != 1 || closed_by_peer(slow, 50ms);
    }
    CHECK((closed || closed_by_peer(slow, 2s)));
    auto took = Clock::now() - start;
    CHECK(took >= 250ms);
    CHECK(took < 2s);
    CHECK(server.stats().tcp_timeouts >= 1);
}

TEST_CASE(
    "tcp: at the cap, the connection that has waited longest for a complete query is evicted") {
    auto options = one_worker(10s, 3);
    options.tcp_query_timeout = 10s;
    Server server(options, echo_factory());
    REQUIRE(server.start());
    auto bound = server.bound_addresses()[0];
    // Two slow clients: a length prefix and one byte, then nothing.
    auto drip1 = tcp_connect(bound);
    send_all(drip1, Bytes{0, 40, 1});
    auto drip2 = tcp_connect(bound);
    send_all(drip2, Bytes{0, 40, 1});
    auto good = tcp_connect(bound);
    send_all(good, framed(make_query(1)));
    REQUIRE(tcp_receive(good));
    // A new client: the oldest dripper makes room, not the client that completes queries.
    auto fresh = tcp_connect(bound);
    send_all(fresh, framed(make_query(2)));
    auto answer = tcp_receive(fresh);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 2);
    CHECK(closed_by_peer(drip1, 3s));
    send_all(good, framed(make_query(3)));
    auto again = tcp_receive(good);
    REQUIRE(again);
    CHECK(id_of(*again) == 3);
    CHECK(server.stats().tcp_evicted == 1);
}

TEST_CASE("tcp: one client address gets at most tcp_max_per_client connections") {
    auto options = one_worker();
    options.tcp_max_per_client = 2;
    Server server(options, echo_factory());
    REQUIRE(server.start());
    auto bound = server.bound_addresses()[0];
    auto a = std::make_unique<Socket>(tcp_connect(bound));
    auto b = tcp_connect(bound);
    send_all(*a, framed(make_query(1)));
    REQUIRE(tcp_receive(*a));
    send_all(b, framed(make_query(2)));
    REQUIRE(tcp_receive(b));
    auto c = tcp_connect(bound);
    CHECK(closed_by_peer(c, 3s));
    // When one closes, the address may connect again.
    a.reset();
    REQUIRE(wait_until([&] { return server.stats().tcp_connections == 1; }));
    auto d = tcp_connect(bound);
    send_all(d, framed(make_query(4)));
    auto answer = tcp_receive(d);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 4);
}

namespace {

// Echoes, taking 1 ms for each query whose id is below 5000: a burst of
// those is work the server must interleave with other clients' queries.
class SlowResponder final : public Responder {
public:
    std::size_t respond(std::span<const std::uint8_t> query, const Client& client,
                        std::span<std::uint8_t> out) noexcept override {
        if (query.size() >= 2 && (query[0] << 8 | query[1]) < 5000)
            std::this_thread::sleep_for(1ms);
        return echo_.respond(query, client, out);
    }

private:
    EchoResponder echo_;
};

} // namespace

TEST_CASE("tcp: one client's pipelined burst does not hold back another client's query") {
    Server server(one_worker(), [] { return std::make_unique<SlowResponder>(); });
    REQUIRE(server.start());
    auto bound = server.bound_addresses()[0];
    auto greedy = tcp_connect(bound, 1 << 20);
    auto other = tcp_connect(bound);
    Bytes burst;
    for (int i = 0; i < 2000; ++i) { // two seconds of work
        auto f = framed(make_query(static_cast<std::uint16_t>(i)));
        burst.insert(burst.end(), f.begin(), f.end());
    }
    send_all(greedy, burst);
    REQUIRE(wait_until([&] { return server.stats().tcp_queries > 0; }));
    auto asked = Clock::now();
    send_all(other, framed(make_query(9999)));
    auto answer = tcp_receive(other);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 9999);
    // Answered within a few turns of the greedy client, not after its burst.
    CHECK(Clock::now() - asked < 500ms);
    CHECK(server.stats().tcp_queries < 1500);
}
