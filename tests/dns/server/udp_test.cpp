// The server's UDP side and its lifecycle, over real loopback sockets.

#include "test_client.hpp"

#include <set>

using namespace cairn;
using namespace cairn::dns;
using namespace cairn::dns::test;

TEST_CASE("udp: a burst of queries is answered, each one") {
    Server server({.listen = {address("127.0.0.1:0")}, .workers = 1}, echo_factory());
    REQUIRE(server.start());
    REQUIRE(server.bound_addresses().size() == 1);
    CHECK(server.bound_addresses()[0].port() != 0);

    auto s = udp_socket(server.bound_addresses()[0]);
    constexpr int count = 200; // several recvmmsg batches
    for (int i = 0; i < count; ++i) send_all(s, make_query(static_cast<std::uint16_t>(i)));
    std::set<std::uint16_t> ids;
    for (int i = 0; i < count; ++i) {
        auto answer = udp_receive(s);
        if (!answer) break;
        REQUIRE(answer->size() >= 12);
        CHECK(((*answer)[2] & 0x80) != 0);
        ids.insert(id_of(*answer));
    }
    CHECK(ids.size() == count);
    auto stats = server.stats();
    CHECK(stats.udp_queries == count);
    CHECK(stats.responses == count);
    CHECK(stats.dropped == 0);
    // Stopping wakes the reader through the socket's shut read side; that
    // wakeup is not a datagram and is not counted as one.
    server.stop();
    stats = server.stats();
    CHECK(stats.udp_queries == count);
    CHECK(stats.dropped == 0);
}

TEST_CASE("udp: what the responder refuses is counted as dropped and not answered") {
    Server server({.listen = {address("127.0.0.1:0")}, .workers = 1}, echo_factory());
    REQUIRE(server.start());
    auto s = udp_socket(server.bound_addresses()[0]);
    send_all(s, {1, 2, 3});
    CHECK(wait_until([&] { return server.stats().dropped == 1; }));
    CHECK_FALSE(udp_receive(s, 100ms));
    // And it keeps serving.
    send_all(s, make_query(7));
    auto answer = udp_receive(s);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 7);
}

TEST_CASE("udp and tcp on ::1") {
    Server server({.listen = {address("[::1]:0")}, .workers = 1}, echo_factory());
    auto started = server.start();
    if (!started && started.error().message.find("Cannot assign") != std::string::npos) {
        MESSAGE("no IPv6 loopback here: " << started.error().message);
        return;
    }
    REQUIRE(started);
    auto bound = server.bound_addresses()[0];
    CHECK(bound.family() == AF_INET6);

    auto u = udp_socket(bound);
    send_all(u, make_query(42));
    auto answer = udp_receive(u);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 42);

    auto t = tcp_connect(bound);
    send_all(t, framed(make_query(43)));
    auto tcp_answer = tcp_receive(t);
    REQUIRE(tcp_answer);
    CHECK(id_of(*tcp_answer) == 43);
}

TEST_CASE("several addresses and workers share the same ports") {
    Server server({.listen = {address("127.0.0.1:0"), address("127.0.0.2:0")}, .workers = 3},
                  echo_factory());
    REQUIRE(server.start());
    CHECK(server.worker_count() == 3);
    REQUIRE(server.bound_addresses().size() == 2);
    // Many source ports spread over the workers' SO_REUSEPORT sockets.
    int answered = 0;
    for (const auto& bound : server.bound_addresses()) {
        for (int i = 0; i < 16; ++i) {
            auto s = udp_socket(bound);
            send_all(s, make_query(static_cast<std::uint16_t>(i)));
            if (auto a = udp_receive(s); a && id_of(*a) == i) ++answered;
        }
    }
    CHECK(answered == 32);
    CHECK(server.stats().udp_queries == 32);
}

TEST_CASE("start fails naming an address already in use") {
    // A socket without SO_REUSEPORT holds the port, so ours cannot share it.
    Socket holder(AF_INET, SOCK_DGRAM);
    auto any = address("127.0.0.1:0");
    REQUIRE(::bind(holder.fd(), any.sa(), any.size()) == 0);
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    REQUIRE(::getsockname(holder.fd(), reinterpret_cast<sockaddr*>(&local), &len) == 0);
    auto taken = SocketAddress::from(reinterpret_cast<sockaddr*>(&local));

    Server server({.listen = {taken}, .workers = 2}, echo_factory());
    auto started = server.start();
    REQUIRE_FALSE(started);
    CHECK(started.error().message.find(taken.to_string()) != std::string::npos);
    CHECK(started.error().message.find("udp") != std::string::npos);
    server.stop(); // harmless when not started
}

TEST_CASE("a second server on a port the first one serves fails instead of sharing it") {
    Server first({.listen = {address("127.0.0.1:0")}, .workers = 2}, echo_factory());
    REQUIRE(first.start());
    SocketAddress taken = first.bound_addresses()[0];

    Server second({.listen = {taken}, .workers = 1}, echo_factory());
    auto started = second.start();
    REQUIRE_FALSE(started);
    CHECK(started.error().message.find(taken.to_string()) != std::string::npos);
    CHECK(started.error().message.find("in use") != std::string::npos);
}

TEST_CASE("stop is idempotent, the destructor stops, and the ports are free afterwards") {
    SocketAddress bound;
    {
        Server server({.listen = {address("127.0.0.1:0")}, .workers = 2}, echo_factory());
        REQUIRE(server.start());
        bound = server.bound_addresses()[0];
        server.stop();
        server.stop();
    }
    {
        Server again({.listen = {bound}, .workers = 1}, echo_factory());
        REQUIRE(again.start());
        auto s = udp_socket(bound);
        send_all(s, make_query(9));
        CHECK(udp_receive(s));
    } // destructor stops it
    Server third({.listen = {bound}, .workers = 1}, echo_factory());
    CHECK(third.start());
}

TEST_CASE("udp on a wildcard address answers from the address the query was sent to") {
    // Bound to 0.0.0.0, queried at 127.0.0.2 from a socket connected to it:
    // the connected client drops a reply from any other source (127.0.0.1,
    // the kernel's choice without IP_PKTINFO).
    Server server({.listen = {address("0.0.0.0:0")}, .workers = 1}, echo_factory());
    REQUIRE(server.start());
    auto target = address("127.0.0.2:" + std::to_string(server.bound_addresses()[0].port()));
    auto s = udp_socket(target);
    send_all(s, make_query(5));
    auto answer = udp_receive(s);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 5);
}
