// The membership engine in a simulated cluster: convergence, failure
// detection, refutation, partitions, loss, slowness, leave and name
// conflicts, all in simulated time (see sim.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "core/log.hpp"
#include "sim.hpp"

using namespace cairn::gossip;
using namespace cairn::gossip::sim;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

std::vector<std::size_t> range(std::size_t from, std::size_t to) {
    std::vector<std::size_t> v(to - from);
    std::iota(v.begin(), v.end(), from);
    return v;
}

double secs(Duration d) {
    return std::chrono::duration<double>(d).count();
}

// n agents, each joining agent 0 within the first second; runs until all see
// all alive or `limit` passes.
std::optional<TimePoint> start_cluster(Cluster& c, std::size_t n, Duration limit = seconds(60)) {
    cairn::log::set_level(cairn::log::Level::error);
    c.add("node-0");
    for (std::size_t i = 1; i < n; ++i) {
        c.run_for(milliseconds(1000 / n));
        c.add("node-" + std::to_string(i));
        c.join(i, 0);
    }
    const auto all = range(0, n);
    return c.run_until([&] { return c.all_see(all, all, NodeState::alive); }, limit);
}

// The detection bound of a profile at n nodes: a probe interval to reach the
// node, one for the probe itself, the longest suspicion, and a few gossip
// rounds to spread the verdict.
Duration detection_bound(const Config& p, int n) {
    const Duration min = suspicion_timeout(p.suspicion_mult, n, p.probe_interval);
    return 2 * p.probe_interval + p.suspicion_max_timeout_mult * min + 10 * p.gossip_interval;
}

std::size_t deaths(Cluster& c) {
    std::size_t d = 0;
    for (std::size_t i = 0; i < c.size(); ++i)
        for (const auto& e : c.agent(i).events->leaves) {
            if (e.state != NodeState::dead) continue;
            ++d;
            MESSAGE(c.agent(i).name, " saw ", e.node, " dead");
        }
    return d;
}

} // namespace

TEST_CASE("three agents join and see each other alive") {
    Cluster c(lan_config(), 1);
    const TimePoint start = c.now();
    auto t = start_cluster(c, 3, seconds(10));
    REQUIRE(t);
    MESSAGE("3 agents converged after ", secs(*t - start), " s");
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(c.ml(i).num_members() == 3);
        CHECK(c.ml(i).join_successes() == (i == 0 ? 0u : 1u));
    }
    CHECK(c.partial_reads >= 4); // both halves of both joins
    // Probing keeps them alive and healthy.
    c.run_for(seconds(30));
    CHECK(c.all_see(range(0, 3), range(0, 3), NodeState::alive));
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(c.ml(i).health_score() == 0);
        CHECK(c.ml(i).stats().probes > 20);
        CHECK(c.ml(i).stats().probes_failed == 0);
    }
}

TEST_CASE("50 agents converge, and a killed one is detected dead by all") {
    constexpr std::size_t n = 50;
    Cluster c(lan_config(), 2);
    const TimePoint start = c.now();
    auto t = start_cluster(c, n, seconds(60));
    REQUIRE(t);
    MESSAGE("50 agents (lan) converged ", secs(*t - start), " s after the first started");
    // memberlist alone needs a push-pull round for the last pairs (tens of
    // seconds); the join announcement makes it the time of the last join.
    CHECK(*t - start < seconds(3));
    for (std::size_t i = 0; i < n; ++i) CHECK(c.ml(i).num_members() == n);

    c.run_for(seconds(10));
    CHECK(deaths(c) == 0);

    const std::size_t victim = 17;
    c.kill(victim);
    const TimePoint killed = c.now();
    const auto others = range(0, n);
    auto seen_dead = [&] {
        for (std::size_t i : others)
            if (i != victim && c.view(i, c.agent(victim).name) != NodeState::dead) return false;
        return true;
    };
    const Duration bound = detection_bound(lan_config(), n);
    auto dead_at = c.run_until(seen_dead, bound);
    REQUIRE(dead_at);
    MESSAGE("killed agent dead everywhere after ", secs(*dead_at - killed), " s (bound ",
            secs(bound), " s)");

    // Nobody else died on the way, and the victim left every member list.
    for (std::size_t i = 0; i < n; ++i) {
        if (i == victim) continue;
        for (const auto& e : c.agent(i).events->leaves) CHECK(e.node == c.agent(victim).name);
        CHECK(c.ml(i).num_members() == n - 1);
    }

    SUBCASE("restarted, it comes back with a higher incarnation") {
        c.restart(victim);
        c.join(victim, 0);
        auto back =
            c.run_until([&] { return c.all_see(others, others, NodeState::alive); }, seconds(30));
        REQUIRE(back);
        MESSAGE("restarted agent alive everywhere after ", secs(*back - *dead_at), " s");
        for (std::size_t i = 0; i < n; ++i)
            if (i != victim) CHECK(c.ml(i).find(c.agent(victim).name)->incarnation > 1);
    }
}

TEST_CASE("a suspected agent that is alive refutes with a higher incarnation") {
    constexpr std::size_t n = 50;
    Cluster c(lan_config(), 3);
    REQUIRE(start_cluster(c, n));
    const std::size_t x = 5;
    const std::string name = c.agent(x).name;
    const auto all = range(0, n);

    // Cut it off long enough to be suspected, not long enough to die.
    c.agent(x).isolated = true;
    auto suspected = c.run_until(
        [&] {
            for (std::size_t i : all)
                if (i != x && c.view(i, name) == NodeState::suspect) return true;
            return false;
        },
        seconds(5));
    REQUIRE(suspected);
    c.run_for(milliseconds(500));
    c.agent(x).isolated = false;

    auto refuted = c.run_until(
        [&] {
            if (!c.all_see(all, {x}, NodeState::alive)) return false;
            for (std::size_t i : all)
                if (i != x && c.ml(i).find(name)->incarnation <= 1) return false;
            return true;
        },
        seconds(10));
    REQUIRE(refuted);
    MESSAGE("refuted ", secs(*refuted - *suspected), " s after the first suspicion");
    CHECK(c.ml(x).stats().refutes >= 1);
    CHECK(c.ml(x).incarnation() > 1);
    CHECK(deaths(c) == 0);
}

TEST_CASE("a healed partition comes back together") {
    constexpr std::size_t n = 50;
    Cluster c(lan_config(), 4);
    REQUIRE(start_cluster(c, n));
    const auto left = range(0, n / 2), right = range(n / 2, n), all = range(0, n);
    for (std::size_t i : right) c.agent(i).group = 1;

    c.partitioned = true;
    const TimePoint cut = c.now();
    // Dead, or already forgotten (reaped) by the time the last one died.
    auto gone = [&](const std::vector<std::size_t>& observers,
                    const std::vector<std::size_t>& subjects) {
        for (std::size_t o : observers)
            for (std::size_t s : subjects) {
                auto v = c.view(o, c.agent(s).name);
                if (v && *v != NodeState::dead) return false;
            }
        return true;
    };
    auto split = c.run_until([&] { return gone(left, right) && gone(right, left); }, seconds(90));
    REQUIRE(split);
    MESSAGE("each side saw the other dead after ", secs(*split - cut), " s");
    CHECK(c.all_see(left, left, NodeState::alive));
    CHECK(c.all_see(right, right, NodeState::alive));

    // Long enough for both sides to reap each other.
    c.run_for(seconds(60));
    CHECK(c.ml(0).find(c.agent(n - 1).name) == nullptr);
    c.partitioned = false;
    const TimePoint healed = c.now();
    auto together =
        c.run_until([&] { return c.all_see(all, all, NodeState::alive); }, seconds(120));
    REQUIRE(together);
    MESSAGE("all alive again ", secs(*together - healed), " s after the partition healed");
    for (std::size_t i = 0; i < n; ++i) CHECK(c.ml(i).num_members() == n);
}

TEST_CASE("20% packet loss: no false death, and a real failure is still detected") {
    constexpr std::size_t n = 50;
    Cluster c(lan_config(), 5);
    c.loss = 0.2;
    const TimePoint start = c.now();
    auto t = start_cluster(c, n, seconds(120));
    REQUIRE(t);
    MESSAGE("converged under 20% loss after ", secs(*t - start), " s");

    c.run_for(seconds(180));
    CHECK(deaths(c) == 0);
    CHECK(c.all_see(range(0, n), range(0, n), NodeState::alive));

    const std::size_t victim = 33;
    c.kill(victim);
    const TimePoint killed = c.now();
    std::vector<std::size_t> others = range(0, n);
    others.erase(others.begin() + victim);
    auto dead_at = c.run_until([&] { return c.all_see(others, {victim}, NodeState::dead); },
                               detection_bound(lan_config(), n));
    REQUIRE(dead_at);
    MESSAGE("under 20% loss, dead everywhere after ", secs(*dead_at - killed),
            " s; packets delivered ", c.packets_delivered, ", lost ", c.packets_lost);
    for (std::size_t i : others)
        for (const auto& e : c.agent(i).events->leaves) CHECK(e.node == c.agent(victim).name);
}

TEST_CASE("a slow but alive agent is suspected, refutes, and is never declared dead") {
    constexpr std::size_t n = 50;
    Cluster c(lan_config(), 6);
    REQUIRE(start_cluster(c, n));
    const std::size_t slow = 9;
    const auto all = range(0, n);

    // Everything it sends arrives 1.5 s late: past the probe timeout and the
    // probe interval, well within the suspicion timeout.
    c.agent(slow).out_delay = milliseconds(1500);
    int max_score = 0;
    bool suspected = false;
    c.run_until(
        [&] {
            max_score = std::max(max_score, c.ml(slow).health_score());
            for (std::size_t i : all)
                suspected =
                    suspected || (i != slow && c.view(i, c.agent(slow).name) == NodeState::suspect);
            return false;
        },
        seconds(120));
    CHECK(suspected);
    CHECK(c.ml(slow).stats().refutes > 0);
    // Its own failed probes and missing nacks told it that it is the slow one.
    CHECK(max_score > 0);
    CHECK(deaths(c) == 0);

    c.agent(slow).out_delay = Duration{0};
    auto healthy = c.run_until([&] { return c.ml(slow).health_score() == 0; }, seconds(60));
    CHECK(healthy);
    c.run_for(seconds(10));
    CHECK(c.all_see(all, all, NodeState::alive));
    CHECK(deaths(c) == 0);
}

TEST_CASE("a graceful leave is seen as left, not dead") {
    constexpr std::size_t n = 20;
    Cluster c(local_config(), 7);
    REQUIRE(start_cluster(c, n));
    const std::size_t leaver = 3;
    std::vector<std::size_t> others = range(0, n);
    others.erase(others.begin() + leaver);

    c.ml(leaver).leave(c.now());
    auto done = c.run_until([&] { return c.ml(leaver).leave_broadcast_done(); }, seconds(10));
    REQUIRE(done);
    c.kill(leaver); // shut down once the leave went out
    auto seen =
        c.run_until([&] { return c.all_see(others, {leaver}, NodeState::left); }, seconds(5));
    REQUIRE(seen);
    c.run_for(seconds(10));
    CHECK(c.all_see(others, {leaver}, NodeState::left));
    for (std::size_t i : others) {
        REQUIRE(c.agent(i).events->leaves.size() == 1);
        CHECK(c.agent(i).events->leaves[0].state == NodeState::left);
        CHECK(c.ml(i).num_members() == n - 1);
    }
    // Left nodes are forgotten after gossip_to_the_dead_time.
    c.run_for(local_config().gossip_to_the_dead_time + seconds(25));
    for (std::size_t i : others) CHECK(c.ml(i).find(c.agent(leaver).name) == nullptr);
}

TEST_CASE("broadcasts stop after their retransmit limit") {
    constexpr std::size_t n = 20;
    Cluster c(lan_config(), 8);
    REQUIRE(start_cluster(c, n));
    c.run_for(seconds(10));
    for (std::size_t i = 0; i < n; ++i) CHECK(c.ml(i).queued_broadcasts() == 0);

    // One metadata change: an alive broadcast that every node repeats at most
    // retransmit_limit times, then drops.
    c.ml(4).update_node(c.now());
    CHECK(c.ml(4).queued_broadcasts() == 1);
    const auto all = range(0, n);
    auto spread = c.run_until(
        [&] {
            for (std::size_t i : all)
                if (c.ml(i).find(c.agent(4).name)->incarnation != c.ml(4).incarnation())
                    return false;
            return true;
        },
        seconds(5));
    REQUIRE(spread);
    auto drained = c.run_until(
        [&] {
            for (std::size_t i : all)
                if (c.ml(i).queued_broadcasts() != 0) return false;
            return true;
        },
        seconds(10));
    CHECK(drained);
}

TEST_CASE("a second node with a taken name is refused, unless the name is reclaimable") {
    constexpr std::size_t n = 5;
    Config profile = lan_config();
    profile.dead_node_reclaim_time = seconds(20);
    Cluster c(profile, 9);
    REQUIRE(start_cluster(c, n));
    const Address original = c.agent(1).address;

    const std::size_t impostor = c.add("node-1");
    c.join(impostor, 0);
    c.run_for(seconds(5));
    CHECK_FALSE(c.agent(0).events->conflicts.empty());
    for (std::size_t i : {0, 2, 3, 4}) CHECK(c.ml(i).find("node-1")->node.addr == original.addr);
    c.kill(impostor);

    // node-1 dies; once its death is older than the reclaim time, a node at
    // a new address may take the name.
    c.kill(1);
    auto dead = c.run_until(
        [&] {
            return c.all_see({0, 2, 3, 4}, {1}, NodeState::dead);
        },
        seconds(60));
    REQUIRE(dead);
    c.run_for(seconds(21));
    c.restart(impostor);
    c.join(impostor, 0);
    auto reclaimed = c.run_until(
        [&] {
            for (std::size_t i : {0, 2, 3, 4}) {
                const NodeRecord* r = c.ml(i).find("node-1");
                if (r == nullptr || r->state() != NodeState::alive ||
                    r->node.addr != c.agent(impostor).address.addr)
                    return false;
            }
            return true;
        },
        seconds(10));
    CHECK(reclaimed);
}

TEST_CASE(
    "encryption: keyed agents converge, rotate keys without losing a member, and keep others out") {
    constexpr std::size_t n = 10;
    const Bytes old_key(16, 0x11), new_key(32, 0x22), foreign_key(16, 0x33);
    std::vector<Keyring> rings(n + 1);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(rings[i].add_key(old_key));
    REQUIRE(rings[n].add_key(foreign_key));

    Cluster c(local_config(), 10);
    c.configure = [&](std::size_t i, Config& cfg) { cfg.security.keyring = &rings[i]; };
    REQUIRE(start_cluster(c, n));
    const auto all = range(0, n);

    // Rotation: install everywhere, use everywhere, remove everywhere, with
    // gossip running in between.
    for (std::size_t i = 0; i < n; ++i) REQUIRE(rings[i].add_key(new_key));
    c.run_for(seconds(5));
    for (std::size_t i = 0; i < n; ++i) {
        REQUIRE(rings[i].use_key(new_key));
        c.run_for(milliseconds(300)); // one by one: mixed primaries meanwhile
    }
    for (std::size_t i = 0; i < n; ++i) REQUIRE(rings[i].remove_key(old_key));
    c.run_for(seconds(30));
    CHECK(c.all_see(all, all, NodeState::alive));
    CHECK(deaths(c) == 0);

    // A node with another key is not let in: its join cannot be read.
    const std::size_t intruder = c.add("intruder");
    c.join(intruder, 0);
    c.run_for(seconds(20));
    CHECK(c.ml(intruder).join_successes() == 0);
    CHECK(c.ml(intruder).num_members() == 1);
    for (std::size_t i : all) CHECK(c.ml(i).find("intruder") == nullptr);
}
