// Deferred answers (Responder::deferred) over real loopback sockets: sent
// later from the socket and address the query came to, and over TCP in the
// order of the connection's queries.

#include "test_client.hpp"

#include <deque>
#include <mutex>

using namespace cairn;
using namespace cairn::dns;
using namespace cairn::dns::test;

namespace {

// What the test holds: the deferred queries and their pending answers.
struct Deferred {
    Bytes query;
    std::unique_ptr<PendingAnswer> pending;
};

struct Parked {
    std::mutex mutex;
    std::deque<Deferred> items;

    std::size_t size() {
        std::lock_guard lock(mutex);
        return items.size();
    }
    // The parked query with this id, taken out.
    std::optional<Deferred> take(std::uint16_t id) {
        std::lock_guard lock(mutex);
        for (auto it = items.begin(); it != items.end(); ++it)
            if (id_of(it->query) == id) {
                Deferred d = std::move(*it);
                items.erase(it);
                return d;
            }
        return std::nullopt;
    }
};

// Echoes now, except queries with an odd id: those are parked.
class ParkingResponder final : public Responder {
public:
    explicit ParkingResponder(Parked& parked)
        : parked_(parked) {}
    std::size_t respond(std::span<const std::uint8_t> query, const Client& client,
                        std::span<std::uint8_t> out) noexcept override {
        if (query.size() >= 12 && (query[1] & 1) != 0 && client.deferrer != nullptr) {
            auto pending = client.deferrer->defer();
            if (!pending) return 0;
            std::lock_guard lock(parked_.mutex);
            parked_.items.push_back({Bytes(query.begin(), query.end()), std::move(pending)});
            return Responder::deferred;
        }
        return echo_.respond(query, client, out);
    }

private:
    Parked& parked_;
    EchoResponder echo_;
};

// The echo answer to a parked query.
Bytes echoed(const Deferred& d) {
    Bytes answer = d.query;
    answer[2] |= 0x80;
    return answer;
}

ServerOptions options(std::string_view listen = "127.0.0.1:0") {
    return {.listen = {address(listen)}, .workers = 1};
}

} // namespace

TEST_CASE("deferred udp: the answer comes later, from the address the query went to") {
    Parked parked;
    // A wildcard socket: the answer must name its source address.
    Server server(options("0.0.0.0:0"), [&] { return std::make_unique<ParkingResponder>(parked); });
    REQUIRE(server.start());
    auto to = address("127.0.0.2:" + std::to_string(server.bound_addresses()[0].port()));
    auto s = udp_socket(to); // connected: takes datagrams from `to` only
    send_all(s, make_query(11));
    REQUIRE(wait_until([&] { return parked.size() == 1; }));
    CHECK_FALSE(udp_receive(s, 50ms));
    send_all(s, make_query(12)); // even: answered at once
    auto now = udp_receive(s);
    REQUIRE(now);
    CHECK(id_of(*now) == 12);

    auto d = parked.take(11);
    REQUIRE(d);
    // From another thread, as a forwarder would.
    std::thread([&] { d->pending->complete(echoed(*d)); }).join();
    auto later = udp_receive(s);
    REQUIRE(later);
    CHECK(id_of(*later) == 11);
    CHECK(*later == echoed(*d));
    REQUIRE(wait_until([&] { return server.stats().responses == 2; }));
    auto stats = server.stats();
    CHECK(stats.deferred == 1);
    CHECK(stats.answers[0].by_rcode[0] == 2);
    CHECK(stats.dropped == 0);
}

TEST_CASE("deferred udp: a pending answer given up sends nothing and counts a drop") {
    Parked parked;
    Server server(options(), [&] { return std::make_unique<ParkingResponder>(parked); });
    REQUIRE(server.start());
    auto s = udp_socket(server.bound_addresses()[0]);
    send_all(s, make_query(13));
    REQUIRE(wait_until([&] { return parked.size() == 1; }));
    parked.take(13).reset();
    CHECK(wait_until([&] { return server.stats().dropped == 1; }));
    CHECK_FALSE(udp_receive(s, 50ms));
}

TEST_CASE("deferred tcp: answers keep the order of the queries") {
    Parked parked;
    Server server(options(), [&] { return std::make_unique<ParkingResponder>(parked); });
    REQUIRE(server.start());
    auto s = tcp_connect(server.bound_addresses()[0]);
    Bytes pipelined;
    for (std::uint16_t id : {1, 2, 3, 4, 6}) {
        auto f = framed(make_query(id));
        pipelined.insert(pipelined.end(), f.begin(), f.end());
    }
    send_all(s, pipelined);
    REQUIRE(wait_until([&] { return parked.size() == 2; }));
    // 2, 4 and 6 are answered, but wait behind 1.
    CHECK_FALSE(s.readable(100ms));
    auto third = parked.take(3);
    REQUIRE(third);
    third->pending->complete(echoed(*third));
    CHECK_FALSE(s.readable(100ms));
    auto first = parked.take(1);
    REQUIRE(first);
    std::thread([&] { first->pending->complete(echoed(*first)); }).join();
    for (std::uint16_t id : {1, 2, 3, 4, 6}) {
        auto answer = tcp_receive(s);
        REQUIRE(answer);
        CHECK(id_of(*answer) == id);
    }
    // With nothing deferred, answers go out at once again.
    send_all(s, framed(make_query(8)));
    auto answer = tcp_receive(s);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 8);
    auto stats = server.stats();
    CHECK(stats.deferred == 2);
    CHECK(stats.responses == 6);
}

TEST_CASE("deferred tcp: an answer given up lets the ones behind it go") {
    Parked parked;
    Server server(options(), [&] { return std::make_unique<ParkingResponder>(parked); });
    REQUIRE(server.start());
    auto s = tcp_connect(server.bound_addresses()[0]);
    send_all(s, framed(make_query(5)));
    REQUIRE(wait_until([&] { return parked.size() == 1; }));
    send_all(s, framed(make_query(10)));
    CHECK_FALSE(s.readable(100ms));
    parked.take(5).reset();
    auto answer = tcp_receive(s);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 10);
    CHECK(wait_until([&] { return server.stats().dropped == 1; }));
}

TEST_CASE("deferred tcp: a half-closed connection gets its deferred answer before EOF") {
    Parked parked;
    Server server(options(), [&] { return std::make_unique<ParkingResponder>(parked); });
    REQUIRE(server.start());
    auto s = tcp_connect(server.bound_addresses()[0]);
    send_all(s, framed(make_query(7)));
    REQUIRE(wait_until([&] { return parked.size() == 1; }));
    ::shutdown(s.fd(), SHUT_WR);
    CHECK_FALSE(s.readable(100ms)); // no EOF while the answer is pending
    auto d = parked.take(7);
    d->pending->complete(echoed(*d));
    auto answer = tcp_receive(s);
    REQUIRE(answer);
    CHECK(id_of(*answer) == 7);
    CHECK(closed_by_peer(s, 2s));
}

TEST_CASE("deferred: pending answers outliving the server are harmless") {
    Parked parked;
    auto server = std::make_unique<Server>(
        options(), [&] { return std::make_unique<ParkingResponder>(parked); });
    REQUIRE(server->start());
    auto u = udp_socket(server->bound_addresses()[0]);
    auto t = tcp_connect(server->bound_addresses()[0]);
    send_all(u, make_query(21));
    send_all(t, framed(make_query(23)));
    REQUIRE(wait_until([&] { return parked.size() == 2; }));
    server->stop();
    server.reset();
    // Completed after the server is gone: nothing breaks.
    for (std::uint16_t id : {21, 23}) {
        auto d = parked.take(id);
        REQUIRE(d);
        d->pending->complete(echoed(*d));
    }
}
