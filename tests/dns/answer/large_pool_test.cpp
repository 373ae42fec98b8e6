// The structures that keep a query's cost independent of the service's size
// (docs/discovery.md, "Large services"): the alias table of weighted pools,
// affinity's ring, the pools' distinct-key flags, and full answers from
// large services. Seeded random sources, bounded loops, no sockets.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns/answer/balance.hpp"
#include "registry/registry.hpp"

#include "asker.hpp"
#include "instance_store.hpp"

using namespace cairn;
using namespace cairn::dns;
using registry::Endpoint;
using registry::Instance;
using registry::Policy;

namespace {

test::InstanceStore store;

std::vector<Endpoint> group_of(std::size_t n, std::uint32_t (*weight)(std::size_t)) {
    std::vector<Endpoint> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        // "e" appended to: GCC 12 -O3 -Wrestrict false positive on "e" + string
        std::string id = "e";
        id += std::to_string(i);
        Instance inst = test::web_instance(std::move(id), weight(i));
        inst.address.family = 4;
        inst.address.bytes = {10, static_cast<std::uint8_t>(i >> 16),
                              static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        out.push_back(store.add(std::move(inst)));
    }
    return out;
}

std::uint32_t one(std::size_t) {
    return 1;
}

std::uint32_t one_to_four(std::size_t i) {
    return static_cast<std::uint32_t>(1 + i % 4);
}

ClientKey client(std::uint32_t host_order) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(host_order);
    return client_key(reinterpret_cast<const sockaddr*>(&sin), nullptr);
}

// The answer order for one query: positions into `group`.
std::vector<std::size_t> pick(Balancer& b, Policy policy, std::span<const Endpoint> group,
                              const registry::EndpointPool& pool, std::size_t want,
                              const ClientKey& key) {
    REQUIRE(b.start(policy, group, pool, want, 0, key));
    std::vector<std::size_t> out;
    while (const Endpoint* e = b.next()) out.push_back(static_cast<std::size_t>(e - group.data()));
    return out;
}

bool distinct(std::vector<std::size_t> v) {
    std::sort(v.begin(), v.end());
    return std::adjacent_find(v.begin(), v.end()) == v.end();
}

} // namespace

TEST_CASE("alias table: each endpoint's probability is its share of the weight") {
    std::vector<Endpoint> group = group_of(1000, [](std::size_t i) {
        return static_cast<std::uint32_t>(i == 0 ? 100'000 : 1 + (i * 7) % 13);
    });
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    const registry::EndpointPool& pool = pools.any;
    REQUIRE(pool.alias.size() == group.size());
    // P(i) = (keep_i + the rest of every column whose alias is i) / (n 2^32).
    std::vector<double> p(group.size());
    auto weight = [&](std::size_t i) { return std::max<std::uint32_t>(group[i].weight, 1); };
    for (std::size_t c = 0; c < pool.alias.size(); ++c) {
        double keep = pool.alias[c].keep / 0x1p32;
        p[c] += keep;
        p[pool.alias[c].alias] += 1 - keep;
        // A pick reads its weight from the column alone.
        CHECK(pool.alias[c].weight == weight(c));
        CHECK(pool.alias[c].alias_weight == weight(pool.alias[c].alias));
    }
    double total = static_cast<double>(pool.total_weight());
    for (std::size_t i = 0; i < group.size(); ++i)
        CHECK_MESSAGE(std::abs(p[i] / static_cast<double>(group.size()) -
                               std::max<std::uint32_t>(group[i].weight, 1) / total) < 1e-8,
                      "endpoint ", i);
}

TEST_CASE("weighted, 2,000 instances of weights 1 to 4: first records follow the weights") {
    std::vector<Endpoint> group = group_of(2000, one_to_four);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    Balancer b(31);
    std::map<std::uint32_t, int> first_by_weight;
    constexpr int queries = 40'000;
    for (int q = 0; q < queries; ++q) {
        auto answer = pick(b, Policy::weighted, group, pools.any, 31, ClientKey{});
        REQUIRE(answer.size() == 31);
        CHECK(distinct(answer));
        ++first_by_weight[group[answer[0]].weight];
    }
    // 500 instances of each weight: weight w has a share of w / 10.
    for (std::uint32_t w = 1; w <= 4; ++w) {
        double share = static_cast<double>(first_by_weight[w]) / queries;
        CHECK_MESSAGE(std::abs(share - w / 10.0) < 0.01, "weight ", w, " share ", share);
    }
}

TEST_CASE("affinity ring, 20,000 instances: the same answer on every agent, spread evenly") {
    std::vector<Endpoint> group = group_of(20'000, one);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    REQUIRE(!pools.any.ring.empty());
    // Another agent: its own copy of the endpoints, its own pools, its own seed.
    std::vector<Endpoint> other_group = group;
    registry::GroupPools other_pools = registry::build_group_pools(other_group, nullptr);
    Balancer here(1), there(2);
    std::vector<int> first(group.size());
    constexpr std::uint32_t clients = 100'000;
    for (std::uint32_t c = 0; c < clients; ++c) {
        ClientKey key = client(0x0a000000u + c);
        auto a = pick(here, Policy::affinity, group, pools.any, 40, key);
        REQUIRE(a.size() == 40);
        CHECK(distinct(a));
        if (c % 50 == 0) { // the other agent, and asking twice, on a sample
            CHECK(pick(there, Policy::affinity, other_group, other_pools.any, 40, key) == a);
            CHECK(pick(here, Policy::affinity, group, pools.any, 40, key) == a);
        }
        ++first[a[0]];
    }
    // 5 clients per instance on average; a hash ring with a window of 32
    // keeps the busiest instance within a few times that.
    CHECK(*std::max_element(first.begin(), first.end()) < 25);
    std::size_t never = static_cast<std::size_t>(std::count(first.begin(), first.end(), 0));
    CHECK(never < group.size() / 50); // Poisson(5) leaves e^-5 = 0.7% out
}

TEST_CASE("affinity ring: removing one instance moves few clients, adding it back restores them") {
    std::vector<Endpoint> group = group_of(2000, one_to_four);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    REQUIRE(!pools.any.ring.empty());
    Balancer b(3);
    constexpr std::uint32_t clients = 20'000;
    std::vector<std::vector<std::size_t>> before(clients);
    for (std::uint32_t c = 0; c < clients; ++c)
        before[c] = pick(b, Policy::affinity, group, pools.any, 10, client(0xc0a80000u + c));

    // Remove instance 777: the positions of the others shift down by one.
    constexpr std::size_t removed = 777;
    std::vector<Endpoint> smaller = group;
    smaller.erase(smaller.begin() + removed);
    registry::GroupPools smaller_pools = registry::build_group_pools(smaller, nullptr);
    auto original = [&](std::size_t p) { return p < removed ? p : p + 1; };
    int had_it = 0, had_it_first = 0, first_moved = 0, answer_changed = 0;
    for (std::uint32_t c = 0; c < clients; ++c) {
        auto now =
            pick(b, Policy::affinity, smaller, smaller_pools.any, 10, client(0xc0a80000u + c));
        for (auto& p : now) p = original(p);
        bool contained = std::find(before[c].begin(), before[c].end(), removed) != before[c].end();
        had_it += contained;
        answer_changed += now != before[c];
        had_it_first += before[c][0] == removed;
        first_moved += now[0] != before[c][0];
    }
    MESSAGE("had it first ", had_it_first, ", first moved ", first_moved, ", listed it ", had_it,
            ", answer changed ", answer_changed);
    // 20,000 clients over 2,000 instances (weights 1 to 4): about 10 had it
    // first and all of those move; beyond them, only clients whose window
    // held it can move (its place goes to the next instance on the ring,
    // which may rank first): a few times its share, not a reshuffle.
    CHECK(first_moved >= had_it_first);
    CHECK(first_moved <= 3 * had_it_first + 10);
    // Answers change only where the window held it: about 32 / 2,000.
    CHECK(answer_changed <= 2 * clients * 32 / 2000);

    // Back as it was: every client gets its old answer again.
    registry::GroupPools again = registry::build_group_pools(group, nullptr);
    for (std::uint32_t c = 0; c < clients; c += 7)
        CHECK(pick(b, Policy::affinity, group, again.any, 10, client(0xc0a80000u + c)) ==
              before[c]);
}

TEST_CASE("affinity ring: heavier instances are first for more clients") {
    std::vector<Endpoint> group = group_of(4000, one_to_four);
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    Balancer b(4);
    std::map<std::uint32_t, int> by_weight;
    constexpr std::uint32_t clients = 40'000;
    for (std::uint32_t c = 0; c < clients; ++c)
        ++by_weight[group[pick(b, Policy::affinity, group, pools.any, 5, client(c))[0]].weight];
    for (std::uint32_t w = 1; w <= 4; ++w) {
        double share = static_cast<double>(by_weight[w]) / clients;
        CHECK_MESSAGE(std::abs(share - w / 10.0) < 0.02, "weight ", w, " share ", share);
    }
}

TEST_CASE("pools say when their addresses (and ports) are distinct") {
    std::vector<Endpoint> group = group_of(300, one);
    CHECK(registry::build_group_pools(group, nullptr).any.distinct_addresses);
    group[7].address = group[3].address;
    registry::GroupPools pools = registry::build_group_pools(group, nullptr);
    CHECK_FALSE(pools.any.distinct_addresses);
    CHECK_FALSE(pools.any.distinct_address_ports); // the same port too
    group[7].port = group[3].port + 1;
    pools = registry::build_group_pools(group, nullptr);
    CHECK_FALSE(pools.any.distinct_addresses);
    CHECK(pools.any.distinct_address_ports);
}

TEST_CASE("2,000 instances, every policy: a UDP A answer fills 512 bytes with distinct records") {
    for (Policy policy : {Policy::random, Policy::round_robin, Policy::weighted, Policy::affinity,
                          Policy::fastest}) {
        Settings s;
        s.node_name = "agent-1";
        s.node_address.family = 4;
        s.node_address.bytes = {127, 0, 0, 1};
        s.policy = policy;
        test::Asker asker(nullptr, s);
        registry::Registry reg("agent-1");
        for (int i = 0; i < 2000; ++i) {
            Instance inst;
            inst.id = "w";
            inst.id += std::to_string(i);
            inst.service = "web";
            inst.weight = one_to_four(static_cast<std::size_t>(i));
            inst.address.family = 4;
            inst.address.bytes = {10, 9, static_cast<std::uint8_t>(i >> 8),
                                  static_cast<std::uint8_t>(i)};
            inst.port = 80;
            REQUIRE(reg.upsert_local(inst, 0));
        }
        asker.slot().store(reg.publish());
        for (int q = 0; q < 20; ++q) {
            test::Reply r = asker.ask("web.service.cairn.", rrtype::a);
            REQUIRE(r.pkt);
            CHECK(r.tc());
            // Header 12, question 19 + 4, then 16 bytes per A record.
            std::size_t fit = (512 - 12 - 23) / 16;
            CHECK(ldns_pkt_ancount(r.pkt.get()) == fit);
            CHECK(r.answer.size() == fit); // a set: a repeat would count once
        }
        test::Reply tcp = asker.ask("web.service.cairn.", rrtype::a, {}, Transport::tcp);
        CHECK(tcp.answer.size() == 2000);
        CHECK(ldns_pkt_ancount(tcp.pkt.get()) == 2000);
    }
}
