// least_loaded (docs/discovery.md): reported loads, recent answers, power of
// two choices among equal loads. A seeded random source and a fake clock:
// no sockets, no sleeping.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dns/answer/balance.hpp"
#include "registry/recent_answers.hpp"

#include "instance_store.hpp"

using namespace cairn;
using namespace cairn::dns;
using registry::Endpoint;
using registry::Instance;
using registry::Policy;

namespace {

test::InstanceStore store;

Endpoint make(std::string id, std::optional<std::uint32_t> load) {
    Instance i = test::web_instance(std::move(id));
    test::add_passing_check(i).state.load = load;
    return store.add(std::move(i));
}

// A service as the snapshot holds it: its endpoints and their pool (whose
// recent-answer counters the queries share).
struct Service {
    std::vector<Endpoint> group;
    registry::GroupPools pools;

    explicit Service(const std::vector<std::optional<std::uint32_t>>& loads) {
        for (std::size_t k = 0; k < loads.size(); ++k) {
            std::string id = std::to_string(k); // not "i" + ...: GCC 12 -O3 -Wrestrict
            id.insert(id.begin(), 'i');
            group.push_back(make(id, loads[k]));
        }
        pools = registry::build_group_pools(group, nullptr);
    }

    // One query at `now_ms`, as an answer makes it: the endpoints in answer
    // order (indexes into group), the first one counted as a recent answer.
    std::vector<std::size_t> query(Balancer& b, std::uint64_t now_ms, std::size_t want = 0) {
        b.set_now_ms(now_ms);
        REQUIRE(b.start(Policy::least_loaded, group, pools.any, want == 0 ? group.size() : want, 0,
                        ClientKey{}));
        std::vector<std::size_t> out;
        while (const Endpoint* e = b.next())
            out.push_back(static_cast<std::size_t>(e - group.data()));
        if (!out.empty()) b.count_first();
        return out;
    }
};

// Ten instances; the least-loaded half is i0..i4.
const std::vector<std::optional<std::uint32_t>> ten_loads = {12, 15,  20,  30,  50,
                                                             80, 100, 200, 300, 500};

} // namespace

TEST_CASE("least_loaded: a fresh client gets the lowest reported load") {
    Service s(ten_loads);
    Balancer b(7);
    int lowest_first = 0;
    constexpr int queries = 1000;
    for (int q = 0; q < queries; ++q) {
        // Clients a second apart: the earlier answers no longer count.
        auto order = s.query(b, 10'000 + std::uint64_t(q) * 1'000);
        REQUIRE(order.size() == 10);
        lowest_first += order[0] == 0;
    }
    CHECK(lowest_first * 100 > 90 * queries);
    CHECK(lowest_first == queries); // with nothing recent, the order is exact
}

TEST_CASE("least_loaded: 200 clients at once spread over the least-loaded half") {
    Service s(ten_loads);
    Balancer b(11);
    std::map<std::size_t, int> first;
    for (int q = 0; q < 200; ++q) ++first[s.query(b, 50'000)[0]];
    MESSAGE("first records of 200 at once: i0 " << first[0] << ", i1 " << first[1] << ", i2 "
                                                << first[2] << ", i3 " << first[3] << ", i4 "
                                                << first[4]);
    for (const auto& [index, count] : first) CHECK(index < 5); // only the least-loaded half
    CHECK(first.size() == 5);                                  // and all of it
    int most = 0;
    for (const auto& [index, count] : first) most = std::max(most, count);
    CHECK(most < 100); // no instance takes half of the burst
    // Loads plus recent answers end level: 12 + n0 ~ 15 + n1 ~ ... ~ 50 + n4.
    CHECK(first[0] > first[4]);

    SUBCASE("a second later the burst no longer counts") {
        CHECK(s.query(b, 51'001)[0] == 0);
    }
}

TEST_CASE("least_loaded: equal loads are spread by power of two choices") {
    std::vector<std::optional<std::uint32_t>> loads(100, 0);
    Service s(loads);
    Balancer b(3);
    std::map<std::size_t, int> first;
    for (int q = 0; q < 200; ++q) ++first[s.query(b, 5'000)[0]];
    int most = 0;
    for (const auto& [index, count] : first) most = std::max(most, count);
    // Two answers per instance on average; the better of two choices keeps
    // the busiest at a few (a plain random pick would reach 6 or more).
    MESSAGE("equal loads: 200 at once reached " << first.size() << " of 100, at most " << most);
    CHECK(most <= 5);
    CHECK(first.size() >= 70);
}

TEST_CASE("least_loaded: load order after the first, unreported last, none = random") {
    Service s({40, std::nullopt, 10, 30, std::nullopt, 20});
    Balancer b(5);
    auto order = s.query(b, 1'000'000);
    REQUIRE(order.size() == 6);
    CHECK(order[0] == 2);
    CHECK(order[1] == 5);
    CHECK(order[2] == 3);
    CHECK(order[3] == 0);
    std::set<std::size_t> tail{order[4], order[5]};
    CHECK(tail == std::set<std::size_t>{1, 4});

    // The second pick after the first was moved by recent answers: the
    // skipped one is not listed twice.
    Service busy({10, 11, 12});
    for (int q = 0; q < 3; ++q) busy.query(b, 2'000'000);
    auto later = busy.query(b, 2'000'000);
    CHECK(std::set<std::size_t>(later.begin(), later.end()).size() == 3);

    Service unknown({std::nullopt, std::nullopt, std::nullopt, std::nullopt});
    std::map<std::size_t, int> first;
    for (int q = 0; q < 4000; ++q) ++first[unknown.query(b, 3'000'000 + q * 1000)[0]];
    REQUIRE(first.size() == 4);
    for (const auto& [index, count] : first) CHECK(count > 800);
}

TEST_CASE("least_loaded: a query looks at a bounded number of loads") {
    // 20,000 distinct loads and a long burst: the first pick never goes
    // past the first max_load_levels loads.
    std::vector<std::optional<std::uint32_t>> loads;
    for (std::uint32_t k = 0; k < 20'000; ++k) loads.push_back(k);
    Service s(loads);
    Balancer b(9);
    for (int q = 0; q < 5'000; ++q) {
        auto order = s.query(b, 7'000, 5);
        REQUIRE(order.size() == 5);
        CHECK(order[0] < max_load_levels);
    }
}

TEST_CASE("recent answers: count for one window, fade out over the next") {
    registry::RecentAnswers r;
    CHECK(r.estimate(1'000) == 0);
    for (int k = 0; k < 10; ++k) r.add(1'000);
    CHECK(r.estimate(1'000) == 10);
    CHECK(r.estimate(1'499) == 10);
    std::uint32_t fading = r.estimate(1'500 + registry::recent_window_ms / 2);
    CHECK(fading >= 4);
    CHECK(fading <= 6);
    CHECK(r.estimate(1'000 + 3 * registry::recent_window_ms) == 0);
    r.add(1'600); // the next window: the old count moves to "previous"
    CHECK(r.estimate(1'600) >= 1 + 6);
    registry::RecentAnswers copy = r; // a rebuilt snapshot starts from zero
    CHECK(copy.estimate(1'600) == 0);
}
