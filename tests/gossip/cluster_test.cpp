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

// Detection bounds of a profile at n nodes. Most members: some probe
// intervals until a prober reaches the node (each probes one node a second,
// in its own order), the longest suspicion, a few gossip rounds. Every
// member: a member that missed both the suspect and the dead broadcasts
// learns of the suspicion at the next push-pull at the latest, and runs its
// own timer out from there (memberlist does the same).
Duration detection_bound(const Config& p, int n) {
    const Duration min = suspicion_timeout(p.suspicion_mult, n, p.probe_interval);
    return 5 * p.probe_interval + p.suspicion_max_timeout_mult * min + 10 * p.gossip_interval;
}
Duration detection_bound_all(const Config& p, int n) {
    return push_pull_scale(p.push_pull_interval, n) + detection_bound(p, n);
}

// Kills nothing: runs until every other running agent sees `victim` dead,
// and returns when each did (sorted), checking the median against the
// bound for most members and everyone against the bound for all.
std::vector<Duration> detect(Cluster& c, std::size_t victim, const Config& p, int n) {
    const TimePoint start = c.now();
    std::map<std::size_t, Duration> seen;
    c.run_until(
        [&] {
            bool all = true;
            for (std::size_t i = 0; i < c.size(); ++i) {
                if (i == victim || !c.agent(i).running || seen.count(i)) continue;
                if (c.view(i, c.agent(victim).name) == NodeState::dead)
                    seen[i] = c.now() - start;
                else
                    all = false;
            }
            return all;
        },
        detection_bound_all(p, n));
    std::vector<Duration> times;
    for (const auto& [i, t] : seen) times.push_back(t);
    std::sort(times.begin(), times.end());
    if (!times.empty()) CHECK(times[times.size() / 2] <= detection_bound(p, n));
    return times;
}

std::size_t deaths(Cluster& c) {
    std::size_t d = 0;
    for (std::size_t i = 0; i < c.size(); ++i)
        for (const auto& e : c.agent(i).events->leaves) d += e.state == NodeState::dead ? 1 : 0;
    return d;
}

// Deaths where none should be, each named.
std::size_t false_deaths(Cluster& c) {
    for (std::size_t i = 0; i < c.size(); ++i)
        for (const auto& e : c.agent(i).events->leaves)
            if (e.state == NodeState::dead) MESSAGE(c.agent(i).name, " saw ", e.node, " dead");
    return deaths(c);
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
    // Every message sent is received (no loss here), by type, less what is
    // still on its way: at most a probe's ping and ack, or a push-pull, each.
    auto total = [&](auto tally, MessageType type, bool bytes) {
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < 3; ++i) {
            const MessageTally& counted = tally(c.ml(i).stats());
            sum += (bytes ? counted.bytes : counted.messages)[static_cast<std::size_t>(type)];
        }
        return sum;
    };
    auto udp_out = [](const MemberlistStats& s) -> const MessageTally& { return s.udp_sent; };
    auto udp_in = [](const MemberlistStats& s) -> const MessageTally& { return s.udp_received; };
    auto tcp_out = [](const MemberlistStats& s) -> const MessageTally& { return s.tcp_sent; };
    auto tcp_in = [](const MemberlistStats& s) -> const MessageTally& { return s.tcp_received; };
    for (MessageType type : {MessageType::ping, MessageType::ack_resp}) {
        std::uint64_t sent = total(udp_out, type, false), received = total(udp_in, type, false);
        CHECK(sent > 60);
        CHECK(received <= sent);
        CHECK(received + 3 >= sent);
        CHECK(total(udp_out, type, true) > 10 * sent); // a dozen bytes or more each
    }
    std::uint64_t push_pulls = total(tcp_out, MessageType::push_pull, false);
    CHECK(push_pulls >= 4); // the two joins, each both ways
    CHECK(total(tcp_in, MessageType::push_pull, false) + 3 >= push_pulls);
    CHECK(total(udp_out, MessageType::push_pull, false) == 0);
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
    CHECK(false_deaths(c) == 0);

    const std::size_t victim = 17;
    c.kill(victim);
    const auto others = range(0, n);
    const auto times = detect(c, victim, lan_config(), n);
    REQUIRE(times.size() == n - 1);
    MESSAGE("killed agent dead after ", secs(times[times.size() / 2]), " s (median), ",
            secs(times.back()), " s (last); bound for most ",
            secs(detection_bound(lan_config(), n)), " s, for all ",
            secs(detection_bound_all(lan_config(), n)), " s");

    // Nobody else died on the way, and the victim left every member list.
    for (std::size_t i = 0; i < n; ++i) {
        if (i == victim) continue;
        for (const auto& e : c.agent(i).events->leaves) CHECK(e.node == c.agent(victim).name);
        CHECK(c.ml(i).num_members() == n - 1);
    }

    SUBCASE("restarted, it comes back with a higher incarnation") {
        const TimePoint restarted = c.now();
        c.restart(victim);
        c.join(victim, 0);
        auto back =
            c.run_until([&] { return c.all_see(others, others, NodeState::alive); }, seconds(30));
        REQUIRE(back);
        MESSAGE("restarted agent alive everywhere after ", secs(*back - restarted), " s");
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
        seconds(15));
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
    CHECK(false_deaths(c) == 0);
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
    CHECK(false_deaths(c) == 0);
    CHECK(c.all_see(range(0, n), range(0, n), NodeState::alive));

    const std::size_t victim = 33;
    c.kill(victim);
    std::vector<std::size_t> others = range(0, n);
    others.erase(others.begin() + victim);
    const auto times = detect(c, victim, lan_config(), n);
    REQUIRE(times.size() == n - 1);
    MESSAGE("under 20% loss, dead after ", secs(times[times.size() / 2]), " s (median), ",
            secs(times.back()), " s (last); packets delivered ", c.packets_delivered, ", lost ",
            c.packets_lost);
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
    CHECK(false_deaths(c) == 0);

    c.agent(slow).out_delay = Duration{0};
    auto healthy = c.run_until([&] { return c.ml(slow).health_score() == 0; }, seconds(60));
    CHECK(healthy);
    c.run_for(seconds(10));
    CHECK(c.all_see(all, all, NodeState::alive));
    CHECK(false_deaths(c) == 0);
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
    CHECK(false_deaths(c) == 0);

    // A node with another key is not let in: its join cannot be read.
    const std::size_t intruder = c.add("intruder");
    c.join(intruder, 0);
    c.run_for(seconds(20));
    CHECK(c.ml(intruder).join_successes() == 0);
    CHECK(c.ml(intruder).num_members() == 1);
    for (std::size_t i : all) CHECK(c.ml(i).find("intruder") == nullptr);
}

TEST_CASE("awareness: nacks clear a healthy prober, their absence marks a cut-off one") {
    constexpr std::size_t n = 6;
    Cluster c(lan_config(), 11);
    REQUIRE(start_cluster(c, n));

    // A dead peer: the indirect probes through healthy peers come back as
    // nacks, so probing it costs the prober nothing.
    c.kill(5);
    auto dead =
        c.run_until([&] { return c.all_see(range(0, 5), {5}, NodeState::dead); }, seconds(60));
    REQUIRE(dead);
    std::uint64_t failed = 0;
    for (std::size_t i = 0; i < 5; ++i) {
        failed += c.ml(i).stats().probes_failed;
        CHECK(c.ml(i).health_score() == 0);
    }
    CHECK(failed >= 1);

    // Cut off, node 0 hears neither acks nor nacks: every failed probe adds
    // the missing nacks (3 for the first), up to the cap.
    c.agent(0).isolated = true;
    c.run_for(seconds(15));
    CHECK(c.ml(0).health_score() >= 3); // a single failure with no peers would be 1
    CHECK(c.ml(0).health_score() <= lan_config().awareness_max_multiplier - 1);
    for (std::size_t i = 1; i < 5; ++i) CHECK(c.ml(i).health_score() == 0);

    // Back on the network: it refutes (+1), then each successful probe takes
    // one off.
    c.agent(0).isolated = false;
    auto healthy = c.run_until([&] { return c.ml(0).health_score() == 0; }, seconds(60));
    REQUIRE(healthy);
    // Both sides declared the other dead meanwhile: gossip to the recently
    // dead, or reconnect (every 30 s), brings them together.
    auto back = c.run_until([&] { return c.all_see(range(0, 5), range(0, 5), NodeState::alive); },
                            seconds(90));
    CHECK(back);
}

TEST_CASE("local profile: 50 agents converge and detect a killed one") {
    constexpr std::size_t n = 50;
    Cluster c(local_config(), 12);
    const TimePoint start = c.now();
    auto t = start_cluster(c, n);
    REQUIRE(t);
    MESSAGE("50 agents (local) converged ", secs(*t - start), " s after the first started");
    CHECK(*t - start < seconds(3));

    const std::size_t victim = 41;
    c.kill(victim);
    const auto times = detect(c, victim, local_config(), n);
    REQUIRE(times.size() == n - 1);
    MESSAGE("local: killed agent dead after ", secs(times[times.size() / 2]), " s (median), ",
            secs(times.back()), " s (last)");
    CHECK(deaths(c) == n - 1);
}
