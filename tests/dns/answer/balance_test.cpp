// Statistical tests of the load-balancing policies: thousands of simulated
// queries with a seeded random source, no sockets, no sleeping.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns/answer/balance.hpp"
#include "dns/wire/query.hpp"

#include "instance_store.hpp"

using namespace cairn;
using namespace cairn::dns;
using registry::Endpoint;
using registry::Instance;
using registry::Policy;

namespace {

test::InstanceStore store;

Endpoint make(std::string id, std::uint32_t weight = 1, std::uint32_t latency_us = 0) {
    Instance i = test::web_instance(std::move(id), weight);
    if (latency_us != 0) test::add_passing_check(i).state.latency_us = latency_us;
    return store.add(std::move(i));
}

std::vector<const Endpoint*> pointers(const std::vector<Endpoint>& instances) {
    std::vector<const Endpoint*> out;
    for (const auto& i : instances) out.push_back(&i);
    return out;
}

// Orders `items` as an answer would: the balancer chooses from a pool of
// copies of them (built as the snapshot builds it) until it has `limit`
// (0: all); `items` becomes the chosen ones, in answer order.
void order(Balancer& b, Policy policy, std::vector<const Endpoint*>& items, std::size_t limit,
           const registry::RotationCounter& rotation, const ClientKey& client) {
    std::vector<Endpoint> group;
    for (const Endpoint* e : items) group.push_back(*e);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    std::size_t want = limit == 0 ? items.size() : std::min(limit, items.size());
    REQUIRE(b.start(policy, group, pools.any, want,
                    policy == Policy::round_robin ? rotation.next() : 0, client));
    std::vector<const Endpoint*> out;
    while (const Endpoint* e = b.next())
        out.push_back(items[static_cast<std::size_t>(e - group.data())]);
    items = out;
}

ClientKey key_for_ipv4(std::uint32_t host_order) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(host_order);
    return client_key(reinterpret_cast<const sockaddr*>(&sin), nullptr);
}

} // namespace

TEST_CASE("weighted: a 90/10 split holds in the first record") {
    std::vector<Endpoint> instances{make("canary", 10), make("stable", 90)};
    Balancer b(42);
    registry::RotationCounter rotation;
    int stable_first = 0;
    constexpr int queries = 10'000;
    for (int q = 0; q < queries; ++q) {
        auto items = pointers(instances);
        order(b, Policy::weighted, items, 0, rotation, ClientKey{});
        CHECK_MESSAGE(items.size() == 2, "all instances stay in the answer");
        if (items[0]->instance->id == "stable") ++stable_first;
    }
    double share = static_cast<double>(stable_first) / queries;
    CHECK(share > 0.88);
    CHECK(share < 0.92);
}

TEST_CASE("weighted: first-record shares follow the weights with several instances and a limit") {
    std::vector<Endpoint> instances{make("a", 1), make("b", 2), make("c", 3), make("d", 4)};
    Balancer b(7);
    registry::RotationCounter rotation;
    std::map<std::string, int> first;
    constexpr int queries = 20'000;
    for (int q = 0; q < queries; ++q) {
        auto items = pointers(instances);
        order(b, Policy::weighted, items, 1, rotation, ClientKey{});
        ++first[items[0]->instance->id];
    }
    for (auto [id, weight] :
         std::vector<std::pair<std::string, double>>{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}) {
        double expected = weight / 10.0;
        double share = static_cast<double>(first[id]) / queries;
        CHECK_MESSAGE(std::abs(share - expected) < 0.015, id, " share ", share, " expected ",
                      expected);
    }
}

TEST_CASE("round_robin rotates evenly") {
    std::vector<Endpoint> instances{make("a"), make("b"), make("c")};
    Balancer b(1);
    registry::RotationCounter rotation;
    std::map<std::string, int> first;
    for (int q = 0; q < 3000; ++q) {
        auto items = pointers(instances);
        order(b, Policy::round_robin, items, 0, rotation, ClientKey{});
        ++first[items[0]->instance->id];
        // The order is a rotation of the original: b follows a, c follows b.
        for (std::size_t i = 0; i < items.size(); ++i) {
            const Endpoint* next = items[(i + 1) % items.size()];
            const Endpoint* expected =
                &instances[(static_cast<std::size_t>(items[i] - &instances[0]) + 1) % 3];
            CHECK(next == expected);
        }
    }
    CHECK(first["a"] == 1000);
    CHECK(first["b"] == 1000);
    CHECK(first["c"] == 1000);
}

TEST_CASE("random: every instance comes first about equally often") {
    std::vector<Endpoint> instances{make("a"), make("b"), make("c"), make("d")};
    Balancer b(99);
    registry::RotationCounter rotation;
    std::map<std::string, int> first;
    for (int q = 0; q < 20'000; ++q) {
        auto items = pointers(instances);
        order(b, Policy::random, items, 2, rotation, ClientKey{});
        CHECK(items[0] != items[1]);
        ++first[items[0]->instance->id];
    }
    for (const auto& [id, count] : first)
        CHECK_MESSAGE(std::abs(count - 5000) < 300, id, " ", count);
}

TEST_CASE(
    "affinity: stable per client, spread evenly, and only the removed instance's clients move") {
    std::vector<Endpoint> instances{make("a"), make("b"), make("c"), make("d")};
    Balancer b(5);
    registry::RotationCounter rotation;
    constexpr std::uint32_t clients = 4000;
    std::vector<const Endpoint*> chosen(clients);
    std::map<std::string, int> load;
    for (std::uint32_t c = 0; c < clients; ++c) {
        ClientKey key = key_for_ipv4(0x0a000000u + c);
        auto items = pointers(instances);
        order(b, Policy::affinity, items, 0, rotation, key);
        chosen[c] = items[0];
        ++load[items[0]->instance->id];
        // Asking again, in another input order, gives the same answer.
        auto again = pointers(instances);
        std::reverse(again.begin(), again.end());
        order(b, Policy::affinity, again, 0, rotation, key);
        CHECK(again == items);
    }
    for (const auto& [id, count] : load)
        CHECK_MESSAGE(std::abs(count - 1000) < 120, id, " ", count);

    // Take "b" away.
    std::vector<const Endpoint*> without_b{&instances[0], &instances[2], &instances[3]};
    int moved = 0;
    for (std::uint32_t c = 0; c < clients; ++c) {
        auto items = without_b;
        order(b, Policy::affinity, items, 0, rotation, key_for_ipv4(0x0a000000u + c));
        if (chosen[c]->instance->id == "b") {
            CHECK(items[0]->instance->id != "b");
            ++moved;
        } else {
            CHECK(items[0] == chosen[c]); // everyone else stays
        }
    }
    CHECK(moved == load["b"]);
}

TEST_CASE("affinity respects weights") {
    std::vector<Endpoint> instances{make("small", 1), make("big", 3)};
    Balancer b(5);
    registry::RotationCounter rotation;
    int big = 0;
    constexpr int clients = 8000;
    for (int c = 0; c < clients; ++c) {
        auto items = pointers(instances);
        order(b, Policy::affinity, items, 0, rotation,
              key_for_ipv4(0xc0a80000u + static_cast<std::uint32_t>(c)));
        big += items[0]->instance->id == "big";
    }
    CHECK(std::abs(static_cast<double>(big) / clients - 0.75) < 0.02);
}

TEST_CASE("client_key: ECS prefix when present, cut to /24 and /56") {
    ClientSubnet ecs;
    ecs.family = 1;
    ecs.source_prefix = 32;
    ecs.address = {192, 0, 2, 77};
    ClientKey k = client_key(nullptr, &ecs);
    CHECK(k.family == 4);
    CHECK(k.prefix_bits == 24);
    CHECK(k.bytes[2] == 2);
    CHECK(k.bytes[3] == 0);

    ecs.source_prefix = 20;
    ecs.address = {192, 0, 0x2f, 0};
    k = client_key(nullptr, &ecs);
    CHECK(k.prefix_bits == 20);
    CHECK(k.bytes[2] == 0x20);

    ClientSubnet v6;
    v6.family = 2;
    v6.source_prefix = 64;
    v6.address.fill(0xff);
    k = client_key(nullptr, &v6);
    CHECK(k.family == 6);
    CHECK(k.prefix_bits == 56);
    CHECK(k.bytes[6] == 0xff);
    CHECK(k.bytes[7] == 0);

    // Two clients in one /24 share affinity through ECS.
    ClientSubnet one = ecs, two = ecs;
    one.source_prefix = two.source_prefix = 24;
    one.address = {198, 51, 100, 0};
    two.address = {198, 51, 100, 0};
    sockaddr_in peer1{}, peer2{};
    peer1.sin_family = peer2.sin_family = AF_INET;
    peer1.sin_addr.s_addr = htonl(0x7f000001);
    peer2.sin_addr.s_addr = htonl(0x7f000002);
    ClientKey k1 = client_key(reinterpret_cast<const sockaddr*>(&peer1), &one);
    ClientKey k2 = client_key(reinterpret_cast<const sockaddr*>(&peer2), &two);
    Endpoint i = make("x");
    CHECK(affinity_hash(i, k1) == affinity_hash(i, k2));
    ClientKey p1 = client_key(reinterpret_cast<const sockaddr*>(&peer1), nullptr);
    ClientKey p2 = client_key(reinterpret_cast<const sockaddr*>(&peer2), nullptr);
    CHECK(p1.prefix_bits == 32);
    CHECK(affinity_hash(i, p1) != affinity_hash(i, p2));
}

TEST_CASE("fastest: ascending latency, unmeasured last, all unmeasured = random") {
    std::vector<Endpoint> instances{make("slow", 1, 900), make("none"), make("fast", 1, 100),
                                    make("mid", 1, 400)};
    Balancer b(3);
    registry::RotationCounter rotation;
    auto items = pointers(instances);
    order(b, Policy::fastest, items, 0, rotation, ClientKey{});
    CHECK(items[0]->instance->id == "fast");
    CHECK(items[1]->instance->id == "mid");
    CHECK(items[2]->instance->id == "slow");
    CHECK(items[3]->instance->id == "none");

    std::vector<Endpoint> unmeasured{make("a"), make("b"), make("c")};
    std::map<std::string, int> first;
    for (int q = 0; q < 3000; ++q) {
        auto list = pointers(unmeasured);
        order(b, Policy::fastest, list, 0, rotation, ClientKey{});
        ++first[list[0]->instance->id];
    }
    for (const auto& [id, count] : first)
        CHECK_MESSAGE(std::abs(count - 1000) < 150, id, " ", count);
}

TEST_CASE("a limit keeps the chosen ones first and distinct") {
    std::vector<Endpoint> instances;
    for (int i = 0; i < 50; ++i) {
        std::string id = "i"; // not "i" + std::to_string(i): GCC 12 -O3 -Wrestrict false positive
        id += std::to_string(i);
        instances.push_back(make(id, static_cast<std::uint32_t>(i + 1)));
    }
    Balancer b(11);
    registry::RotationCounter rotation;
    for (Policy p : {Policy::random, Policy::round_robin, Policy::weighted, Policy::affinity,
                     Policy::fastest}) {
        auto items = pointers(instances);
        order(b, p, items, 5, rotation, key_for_ipv4(1));
        std::vector<const Endpoint*> sorted = items;
        std::sort(sorted.begin(), sorted.end());
        CHECK(std::unique(sorted.begin(), sorted.end()) == sorted.end()); // distinct
        CHECK(items.size() == 5);
    }
}

// Large pools: the balancer takes only what the answer holds (k of n), and
// the choice must still follow the policy.
namespace {

std::vector<Endpoint> many(std::size_t n, std::uint32_t (*weight)(std::size_t) = nullptr) {
    std::vector<Endpoint> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(make("big-" + std::to_string(i), weight ? weight(i) : 1));
    return out;
}

} // namespace

TEST_CASE("20,000 instances: random covers every instance, evenly, k distinct per answer") {
    std::vector<Endpoint> group = many(20'000);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    Balancer b(2024);
    std::vector<int> seen(group.size());
    constexpr int queries = 40'000;
    constexpr std::size_t k = 30;
    for (int q = 0; q < queries; ++q) {
        REQUIRE(b.start(Policy::random, group, pools.any, k, 0, ClientKey{}));
        std::vector<std::size_t> answer;
        while (const Endpoint* e = b.next())
            answer.push_back(static_cast<std::size_t>(e - group.data()));
        REQUIRE(answer.size() == k);
        std::sort(answer.begin(), answer.end());
        CHECK(std::unique(answer.begin(), answer.end()) == answer.end());
        for (std::size_t i : answer) ++seen[i];
    }
    // 1.2 million picks over 20,000 instances: 60 each on average; every
    // instance shows up, none more than about twice its share.
    auto [low, high] = std::minmax_element(seen.begin(), seen.end());
    CHECK(*low > 20);
    CHECK(*high < 120);
}

TEST_CASE("random by draws (a pool of 4k or more): every ordered pair and every place even") {
    // 40 instances, answers of 10: drawn, a repeat drawn again. A uniform
    // ordered sample makes each (first, second) pair 1/1560 likely and each
    // instance 1/40 likely in every place, as the shuffle does.
    std::vector<Endpoint> group = many(40);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    Balancer b(4040);
    constexpr int queries = 156'000;
    constexpr std::size_t k = 10;
    std::vector<int> pairs(40 * 40), last(40);
    for (int q = 0; q < queries; ++q) {
        REQUIRE(b.start(Policy::random, group, pools.any, k, 0, ClientKey{}));
        std::vector<std::size_t> answer;
        while (const Endpoint* e = b.next())
            answer.push_back(static_cast<std::size_t>(e - group.data()));
        REQUIRE(answer.size() == k);
        ++pairs[answer[0] * 40 + answer[1]];
        ++last[answer[k - 1]];
        std::sort(answer.begin(), answer.end());
        CHECK(std::unique(answer.begin(), answer.end()) == answer.end());
    }
    // 100 per pair on average (Poisson: 1,560 of them stay within 55..150),
    // 3,900 per instance in the last place (within 5 %).
    for (std::size_t i = 0; i < 40; ++i) {
        CHECK(pairs[i * 40 + i] == 0);
        for (std::size_t j = 0; j < 40; ++j)
            if (i != j) {
                int n = pairs[i * 40 + j];
                CHECK_MESSAGE((n > 55 && n < 150), i, ",", j, " ", n);
            }
        CHECK_MESSAGE(std::abs(last[i] - 3900) < 195, i, " ", last[i]);
    }
}

TEST_CASE("20,000 instances: weighted keeps a 90/10 split in the first record") {
    // 90/10 by weight: 10,000 stable of weight 9, 10,000 canaries of weight 1.
    std::vector<Endpoint> group = many(20'000, [](std::size_t i) { return i % 2 ? 9u : 1u; });
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    Balancer b(77);
    int stable_first = 0, stable_all = 0, total = 0;
    constexpr int queries = 20'000;
    for (int q = 0; q < queries; ++q) {
        REQUIRE(b.start(Policy::weighted, group, pools.any, 30, 0, ClientKey{}));
        bool first = true;
        std::vector<const Endpoint*> answer;
        while (const Endpoint* e = b.next()) {
            bool stable = e->weight == 9;
            stable_first += first && stable;
            stable_all += stable;
            ++total;
            first = false;
            answer.push_back(e);
        }
        REQUIRE(answer.size() == 30);
        std::sort(answer.begin(), answer.end());
        CHECK(std::unique(answer.begin(), answer.end()) == answer.end());
    }
    double share = static_cast<double>(stable_first) / queries;
    CHECK(share > 0.89);
    CHECK(share < 0.91);
    // Later records too: k << n, so each draw is still about 90/10.
    CHECK(static_cast<double>(stable_all) / total > 0.89);
}

TEST_CASE("weighted: one heavy instance among many still ends every answer distinct") {
    // The heavy one is chosen at once; the rest must not loop on repeats.
    std::vector<Endpoint> group =
        many(1000, [](std::size_t i) { return i == 0 ? 1'000'000u : 1u; });
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    Balancer b(5);
    int heavy_first = 0;
    for (int q = 0; q < 500; ++q) {
        REQUIRE(b.start(Policy::weighted, group, pools.any, 40, 0, ClientKey{}));
        std::vector<const Endpoint*> answer;
        while (const Endpoint* e = b.next()) answer.push_back(e);
        REQUIRE(answer.size() == 40);
        heavy_first += answer[0] == &group[0];
        std::sort(answer.begin(), answer.end());
        CHECK(std::unique(answer.begin(), answer.end()) == answer.end());
    }
    CHECK(heavy_first > 490);
}

TEST_CASE("20,000 instances: round_robin rotates through all, fastest takes the lowest latencies") {
    std::vector<Endpoint> group = many(20'000);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    Balancer b(1);
    for (std::uint32_t step : {0u, 1u, 19'999u, 20'000u, 123'456u}) {
        REQUIRE(b.start(Policy::round_robin, group, pools.any, 3, step, ClientKey{}));
        for (std::size_t i = 0; i < 3; ++i) {
            const Endpoint* e = b.next();
            REQUIRE(e);
            CHECK(static_cast<std::size_t>(e - group.data()) == (step + i) % 20'000);
        }
        CHECK(b.next() == nullptr);
    }
    std::vector<Endpoint> timed;
    for (std::size_t i = 0; i < 20'000; ++i) { // latencies 20000..1 us, every 7th unmeasured
        std::string id = "t"; // not "t" + std::to_string(i): GCC 12 -O3 -Wrestrict false positive
        id += std::to_string(i);
        timed.push_back(make(id, 1, i % 7 ? static_cast<std::uint32_t>(20'000 - i) : 0));
    }
    registry::GroupPools timed_pools = registry::build_group_pools(timed, nullptr);
    REQUIRE(b.start(Policy::fastest, timed, timed_pools.any, 5, 0, ClientKey{}));
    std::uint32_t previous = 0;
    for (int i = 0; i < 5; ++i) {
        const Endpoint* e = b.next();
        REQUIRE(e);
        CHECK(e->latency_us > previous);
        CHECK(e->latency_us <= 6); // 2..6: latency 1 (i = 19,999) is unmeasured
        previous = e->latency_us;
    }
}

TEST_CASE("20,000 instances: affinity is stable per client and spreads the first record") {
    std::vector<Endpoint> group = many(20'000);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    Balancer b(9);
    std::map<const Endpoint*, int> first;
    for (std::uint32_t c = 0; c < 2000; ++c) {
        ClientKey key = key_for_ipv4(0x0a000000u + c);
        REQUIRE(b.start(Policy::affinity, group, pools.any, 10, 0, key));
        std::vector<const Endpoint*> one;
        while (const Endpoint* e = b.next()) one.push_back(e);
        REQUIRE(b.start(Policy::affinity, group, pools.any, 10, 0, key));
        std::vector<const Endpoint*> two;
        while (const Endpoint* e = b.next()) two.push_back(e);
        CHECK(one == two);
        ++first[one[0]];
    }
    CHECK(first.size() > 1800); // 2,000 clients over 20,000 instances: few collide
}
