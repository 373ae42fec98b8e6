// Profiles, scaling rules, local health and suspicion timeouts, checked
// against the values and cases of memberlist 0.2.2's own tests.
#include <doctest/doctest.h>

#include <algorithm>

#include "gossip/awareness.hpp"
#include "gossip/config.hpp"
#include "gossip/suspicion.hpp"
#include "gossip/util.hpp"

using namespace cairn::gossip;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("profiles carry memberlist's values") {
    const Config lan = lan_config();
    CHECK(lan.tcp_timeout == seconds(10));
    CHECK(lan.indirect_checks == 3);
    CHECK(lan.retransmit_mult == 4);
    CHECK(lan.suspicion_mult == 4);
    CHECK(lan.suspicion_max_timeout_mult == 6);
    CHECK(lan.push_pull_interval == seconds(30));
    CHECK(lan.probe_timeout == milliseconds(500));
    CHECK(lan.probe_interval == seconds(1));
    CHECK(lan.awareness_max_multiplier == 8);
    CHECK(lan.gossip_nodes == 3);
    CHECK(lan.gossip_interval == milliseconds(200));
    CHECK(lan.gossip_to_the_dead_time == seconds(30));
    CHECK(lan.udp_buffer_size == 1400);
    CHECK(lan.dead_node_reclaim_time == Duration{0});
    CHECK(lan.vsn() == Bytes{1, 5, 2, 0, 0, 0});

    const Config wan = wan_config();
    CHECK(wan.tcp_timeout == seconds(30));
    CHECK(wan.suspicion_mult == 6);
    CHECK(wan.push_pull_interval == seconds(60));
    CHECK(wan.probe_timeout == seconds(3));
    CHECK(wan.probe_interval == seconds(5));
    CHECK(wan.gossip_nodes == 4);
    CHECK(wan.gossip_interval == milliseconds(500));
    CHECK(wan.gossip_to_the_dead_time == seconds(60));
    CHECK(wan.indirect_checks == 3);

    const Config local = local_config();
    CHECK(local.tcp_timeout == seconds(1));
    CHECK(local.indirect_checks == 1);
    CHECK(local.retransmit_mult == 2);
    CHECK(local.suspicion_mult == 3);
    CHECK(local.push_pull_interval == seconds(15));
    CHECK(local.probe_timeout == milliseconds(200));
    CHECK(local.probe_interval == seconds(1));
    CHECK(local.gossip_interval == milliseconds(100));
    CHECK(local.gossip_to_the_dead_time == seconds(15));
    CHECK(local.gossip_nodes == 3);

    CHECK(profile_config("wan")->probe_interval == seconds(5));
    CHECK_FALSE(profile_config("LAN"));
}

TEST_CASE("retransmit limit is mult * ceil(log10(n+1))") {
    CHECK(retransmit_limit(3, 0) == 0);
    CHECK(retransmit_limit(3, 1) == 3);
    CHECK(retransmit_limit(3, 99) == 6);
    CHECK(retransmit_limit(4, 50) == 8);
    CHECK(retransmit_limit(4, 100) == 12);
}

TEST_CASE("suspicion timeout scales with log10(n)") {
    const std::pair<int, milliseconds> cases[] = {
        {5, milliseconds(1000)},   {10, milliseconds(1000)},  {50, milliseconds(1698)},
        {100, milliseconds(2000)}, {500, milliseconds(2698)}, {1000, milliseconds(3000)}};
    for (auto [n, expected] : cases) {
        CAPTURE(n);
        CHECK(suspicion_timeout(3, n, seconds(1)) / 3 == expected);
    }
}

TEST_CASE("push-pull interval doubles past 32 nodes and triples past 64") {
    for (int i = 0; i <= 32; ++i) CHECK(push_pull_scale(seconds(1), i) == seconds(1));
    for (int i = 33; i <= 64; ++i) CHECK(push_pull_scale(seconds(1), i) == seconds(2));
    for (int i = 65; i <= 128; ++i) CHECK(push_pull_scale(seconds(1), i) == seconds(3));
}

TEST_CASE("random choices replay from the seed and respect the filter") {
    Random a(42), b(42);
    std::vector<int> items{1, 2, 3, 4, 5, 6, 7, 8};
    auto x = items, y = items;
    a.shuffle(x);
    b.shuffle(y);
    CHECK(x == y);
    std::sort(x.begin(), x.end());
    CHECK(x == items);

    const auto picked = a.k_random(3, items, [](int v) { return v % 2 == 0; });
    CHECK(picked.size() == 3);
    for (int v : picked) CHECK(v % 2 == 1);
    // Fewer candidates than k: all of them, each once.
    const auto few = a.k_random(5, items, [](int v) { return v > 2; });
    CHECK(few.size() == 2);
    CHECK(a.offset(0) == 0);
    for (int i = 0; i < 100; ++i) CHECK(a.stagger(milliseconds(10)) < milliseconds(10));
}

TEST_CASE("awareness stays within [0, max-1] and scales timeouts") {
    Awareness aw(8);
    CHECK(aw.health_score() == 0);
    CHECK(aw.scale_timeout(seconds(1)) == seconds(1));
    aw.apply_delta(-1);
    CHECK(aw.health_score() == 0);
    aw.apply_delta(3);
    CHECK(aw.health_score() == 3);
    CHECK(aw.scale_timeout(seconds(1)) == seconds(4));
    aw.apply_delta(100);
    CHECK(aw.health_score() == 7);
    CHECK(aw.scale_timeout(milliseconds(500)) == seconds(4));
    aw.apply_delta(-2);
    CHECK(aw.health_score() == 5);
    aw.apply_delta(-100);
    CHECK(aw.health_score() == 0);
}

TEST_CASE("remaining suspicion time (memberlist's table)") {
    struct Case {
        int n, k;
        Duration elapsed, expected;
    };
    const Case cases[] = {
        {0, 3, seconds(0), seconds(30)},        {1, 3, seconds(2), seconds(14)},
        {2, 3, seconds(3), milliseconds(4810)}, {3, 3, seconds(4), seconds(-2)},
        {4, 3, seconds(5), seconds(-3)},        {5, 3, seconds(10), seconds(-8)},
    };
    for (const Case& c : cases) {
        CAPTURE(c.n);
        CHECK(remaining_suspicion_time(c.n, c.k, c.elapsed, seconds(2), seconds(30)) == c.expected);
    }
}

TEST_CASE("suspicion deadline shrinks with independent confirmations") {
    const TimePoint start{seconds(100)};
    const Duration min = milliseconds(500), max = seconds(2);

    Suspicion s("me", 3, min, max, start);
    CHECK(s.deadline() == start + max);
    CHECK_FALSE(s.confirm("me")); // the accuser never confirms
    CHECK(s.confirm("foo"));
    CHECK_FALSE(s.confirm("foo")); // once per peer
    CHECK(s.confirmations() == 1);
    CHECK(s.deadline() == start + milliseconds(1250));
    CHECK(s.confirm("bar"));
    CHECK(s.deadline() == start + milliseconds(811)); // memberlist tests this as ~810
    CHECK(s.confirm("baz"));
    CHECK(s.deadline() == start + min);
    CHECK_FALSE(s.confirm("zoo")); // k reached: no more news
    CHECK(s.confirmations() == 3);
    CHECK(s.deadline() == start + min);

    SUBCASE("with no confirmations expected the minimum applies at once") {
        Suspicion zero("me", 0, milliseconds(25), seconds(30), start);
        CHECK_FALSE(zero.confirm("foo"));
        CHECK(zero.deadline() == start + milliseconds(25));
    }
}
