// 50 replicas in one process: broadcasts through a fake gossip layer
// (memberlist's transmit-limited queue, 3 random peers every 200 ms, 20% of
// packets lost), streams that fail 20% of the time, push-pull with a random
// peer every 10 s, membership events with a detection delay. Seeded, so a
// failure repeats.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "harness.hpp"

using namespace cairn::registry;
using namespace cairn::registry::replication;
using namespace cairn::registry::replication::test;

namespace {

// memberlist's TransmitLimitedQueue, reduced to what the test needs.
struct TransmitQueue {
    struct Entry {
        Broadcast broadcast;
        int transmits = 0;
        std::uint64_t order = 0;
    };
    std::vector<Entry> entries;
    std::uint64_t next_order = 0;

    void push(Broadcast b) {
        std::erase_if(entries, [&](const Entry& e) { return e.broadcast.name == b.name; });
        entries.push_back({std::move(b), 0, next_order++});
    }
    // Fewest transmits first, newest first among equals.
    std::vector<std::vector<std::uint8_t>> take(std::size_t limit, int retransmit_limit) {
        std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
            return a.transmits != b.transmits ? a.transmits < b.transmits : a.order > b.order;
        });
        std::vector<std::vector<std::uint8_t>> out;
        std::size_t used = 0;
        for (Entry& e : entries) {
            if (used + e.broadcast.bytes.size() + 2 > limit) continue;
            used += e.broadcast.bytes.size() + 2; // memberlist's compound length prefix
            out.push_back(e.broadcast.bytes);
            ++e.transmits;
        }
        std::erase_if(entries, [&](const Entry& e) { return e.transmits >= retransmit_limit; });
        return out;
    }
};

class Cluster {
public:
    static constexpr std::int64_t tick_ms = 200;
    static constexpr std::int64_t push_pull_ms = 10'000;
    static constexpr std::int64_t detection_ms = 5'000;

    Cluster(int n, double loss, std::uint64_t seed)
        : loss_(loss)
        , random_(seed) {
        for (int k = 0; k < n; ++k) {
            agents_.push_back(std::make_unique<Agent>("agent-" + std::to_string(k), clock_));
            names_.push_back(agents_.back()->name());
        }
        alive_.assign(n, true);
        group_.assign(n, 0);
        queues_.resize(n);
        retransmit_limit_ = 4 * static_cast<int>(std::ceil(std::log10(n + 1.0)));
    }

    ManualClock& clock() { return clock_; }
    Agent& agent(int k) { return *agents_[k]; }
    int size() const { return static_cast<int>(agents_.size()); }
    bool alive(int k) const { return alive_[k]; }
    std::mt19937_64& random() { return random_; }

    // Each side marks the other failed after the detection delay, and alive
    // again a second after the partition heals, as membership would.
    void partition(int groups) {
        for (int k = 0; k < size(); ++k) group_[k] = k % groups;
        schedule(clock_.now_ms + detection_ms, [this] { across_groups(group_, false); });
    }
    void heal() {
        schedule(clock_.now_ms + 1000, [this, apart = group_] { across_groups(apart, true); });
        std::fill(group_.begin(), group_.end(), 0);
    }

    // The agent stops; after the detection delay the others mark it failed.
    void kill(int k) {
        alive_[k] = false;
        schedule(clock_.now_ms + detection_ms, [this, k] {
            for (int j = 0; j < size(); ++j)
                if (j != k && alive_[j]) agents_[j]->replica.node_failed(names_[k]);
        });
    }
    void revive(int k) {
        alive_[k] = true;
        schedule(clock_.now_ms + 1000, [this, k] {
            for (int j = 0; j < size(); ++j)
                if (j != k) agents_[j]->replica.node_alive(Node{names_[k], "dc1", {}, {}, true});
        });
    }

    // Membership events between agents in different groups.
    void across_groups(const std::vector<int>& groups, bool alive) {
        for (int j = 0; j < size(); ++j)
            for (int k = 0; k < size(); ++k)
                if (alive_[j] && alive_[k] && groups[j] != groups[k]) {
                    if (alive)
                        agents_[j]->replica.node_alive(Node{names_[k], "dc1", {}, {}, true});
                    else
                        agents_[j]->replica.node_failed(names_[k]);
                }
    }

    void step() {
        clock_.now_ms += tick_ms;
        run_events();
        for (int k = 0; k < size(); ++k)
            if (alive_[k]) gossip(k);
        for (int k = 0; k < size(); ++k)
            if (alive_[k] && (clock_.now_ms / tick_ms + k * 7) % (push_pull_ms / tick_ms) == 0)
                push_pull_with_random_peer(k);
        if (clock_.now_ms % 5000 == 0)
            for (int k = 0; k < size(); ++k)
                if (alive_[k]) agents_[k]->replica.collect_garbage();
        deliver_streams();
    }

    // (owner, id, version) of every live instance as the owners hold them.
    std::vector<std::tuple<std::string, std::string, std::uint64_t>> truth() const {
        std::vector<std::tuple<std::string, std::string, std::uint64_t>> out;
        for (const auto& a : agents_)
            for (const Instance* i : a->registry.local_instances())
                out.emplace_back(i->node, i->id, i->version);
        std::sort(out.begin(), out.end());
        return out;
    }
    bool converged() const {
        auto expected = truth();
        for (int k = 0; k < size(); ++k)
            if (alive_[k] && live_view(agents_[k]->registry, names_) != expected) return false;
        return true;
    }
    void explain() const {
        auto expected = truth();
        for (int k = 0; k < size(); ++k) {
            if (!alive_[k]) continue;
            auto view = live_view(agents_[k]->registry, names_);
            if (view == expected) continue;
            std::vector<std::tuple<std::string, std::string, std::uint64_t>> missing, extra;
            std::set_difference(expected.begin(), expected.end(), view.begin(), view.end(),
                                std::back_inserter(missing));
            std::set_difference(view.begin(), view.end(), expected.begin(), expected.end(),
                                std::back_inserter(extra));
            for (auto& [n, id, v] : missing)
                MESSAGE(names_[k], " misses ", n, "/", id, "@", v, " wm ",
                        agents_[k]->replica.watermark(n), " owner wm ",
                        agents_[index_of(n)]->replica.watermark(n));
            for (auto& [n, id, v] : extra)
                MESSAGE(names_[k], " has extra ", n, "/", id, "@", v, " wm ",
                        agents_[k]->replica.watermark(n));
        }
    }
    int agents_differing() const {
        auto expected = truth();
        int n = 0;
        for (int k = 0; k < size(); ++k)
            n += alive_[k] && live_view(agents_[k]->registry, names_) != expected;
        return n;
    }

    // Replays old messages to every live agent, as a slow network might.
    void replay(const std::vector<std::vector<std::uint8_t>>& messages) {
        for (const auto& m : messages)
            for (int k = 0; k < size(); ++k)
                if (alive_[k]) REQUIRE(agents_[k]->replica.receive(m).has_value());
    }

    // The first messages delivered, kept for replay.
    std::vector<std::vector<std::uint8_t>> history;
    std::uint64_t packets_sent = 0;
    std::uint64_t packet_bytes = 0;
    std::uint64_t stream_bytes = 0;

private:
    bool reachable(int from, int to) const { return alive_[to] && group_[from] == group_[to]; }
    bool lost() { return std::bernoulli_distribution(loss_)(random_); }

    int random_peer(int self) {
        std::uniform_int_distribution<int> pick(0, size() - 2);
        int peer = pick(random_);
        return peer >= self ? peer + 1 : peer;
    }

    void gossip(int k) {
        for (Broadcast& b : agents_[k]->replica.take_broadcasts()) queues_[k].push(std::move(b));
        for (int n = 0; n < 3; ++n) {
            int peer = random_peer(k);
            const Node* seen = agents_[k]->registry.find_node(names_[peer]);
            if (seen && !seen->alive) continue; // memberlist gossips to members it believes alive
            auto messages = queues_[k].take(1400 - 60, retransmit_limit_);
            if (messages.empty()) return;
            ++packets_sent;
            for (const auto& m : messages) packet_bytes += m.size();
            if (lost() || !reachable(k, peer)) continue;
            for (const auto& m : messages) {
                if (history.size() < 2000) history.push_back(m);
                REQUIRE(agents_[peer]->replica.receive(m).has_value());
            }
        }
    }

    void push_pull_with_random_peer(int k) {
        int peer = random_peer(k);
        if (lost() || !reachable(k, peer)) return;
        auto mine = agents_[k]->replica.local_state();
        auto theirs = agents_[peer]->replica.local_state();
        stream_bytes += mine.size() + theirs.size();
        REQUIRE(agents_[peer]->replica.merge_remote_state(mine).has_value());
        REQUIRE(agents_[k]->replica.merge_remote_state(theirs).has_value());
    }

    int index_of(const std::string& name) const {
        return static_cast<int>(std::find(names_.begin(), names_.end(), name) - names_.begin());
    }

    void deliver_streams() {
        for (int round = 0; round < 10; ++round) {
            bool any = false;
            for (int k = 0; k < size(); ++k) {
                if (!alive_[k]) continue;
                for (const Outgoing& o : agents_[k]->replica.take_outgoing()) {
                    int to = index_of(o.to);
                    REQUIRE(to < size());
                    stream_bytes += o.bytes.size();
                    if (lost() || !reachable(k, to)) continue;
                    REQUIRE(agents_[to]->replica.receive(o.bytes).has_value());
                    any = true;
                }
            }
            if (!any) return;
        }
    }

    void schedule(std::int64_t at_ms, std::function<void()> event) {
        events_.emplace(at_ms, std::move(event));
    }
    void run_events() {
        while (!events_.empty() && events_.begin()->first <= clock_.now_ms) {
            auto event = std::move(events_.begin()->second);
            events_.erase(events_.begin());
            event();
        }
    }

    ManualClock clock_;
    double loss_;
    std::mt19937_64 random_;
    int retransmit_limit_ = 0;
    std::vector<std::unique_ptr<Agent>> agents_;
    std::vector<std::string> names_;
    std::vector<bool> alive_;
    std::vector<int> group_;
    std::vector<TransmitQueue> queues_;
    std::multimap<std::int64_t, std::function<void()>> events_;
};

// Registers, deregisters or flips the health of an instance on a random
// live agent.
class Workload {
public:
    explicit Workload(Cluster& cluster)
        : cluster_(cluster) {}

    void step() {
        auto& random = cluster_.random();
        int k = std::uniform_int_distribution<int>(0, cluster_.size() - 1)(random);
        if (!cluster_.alive(k)) return;
        Agent& a = cluster_.agent(k);
        auto own = a.registry.local_instances();
        std::erase_if(own,
                      [](const Instance* i) { return i->service == "victim"; }); // the test's own
        int op = std::uniform_int_distribution<int>(0, 9)(random);
        std::int64_t now = cluster_.clock().now_ms;
        if (op < 6 || own.empty()) {
            std::string service =
                "svc" + std::to_string(std::uniform_int_distribution<int>(0, 4)(random));
            a.register_instance("i" + std::to_string(next_id_++), service, now);
            ++registrations;
        } else {
            std::string id =
                own[std::uniform_int_distribution<std::size_t>(0, own.size() - 1)(random)]->id;
            if (op < 8) {
                a.deregister(id, now);
                ++deregistrations;
            } else {
                bool passing = a.registry.find_local(id)->health() == Health::passing;
                a.set_health(id, passing ? Health::critical : Health::passing);
                ++health_changes;
            }
        }
    }

    int registrations = 0;
    int deregistrations = 0;
    int health_changes = 0;

private:
    Cluster& cluster_;
    int next_id_ = 0;
};

// How many agents serve `node`'s passing instances of `service`, among the
// live agents other than `node`.
int agents_serving(Cluster& c, int node, const std::string& service) {
    const std::string name = c.agent(node).name();
    int count = 0;
    for (int k = 0; k < c.size(); ++k) {
        if (k == node || !c.alive(k)) continue;
        auto snapshot = c.agent(k).registry.publish();
        if (const ServiceEntry* e = snapshot->find_service(service))
            for (const auto& i : e->passing)
                if (i->node == name) {
                    ++count;
                    break;
                }
    }
    return count;
}

} // namespace

TEST_CASE("50 replicas under 20% loss, a partition and a failure converge to the same registry") {
    Cluster cluster(50, 0.2, 42);
    Workload work(cluster);
    const int victim = 7;
    // The victim owns a passing instance that every agent should serve.
    cluster.agent(victim).register_instance("victim-web", "victim", cluster.clock().now_ms);

    auto run = [&](std::int64_t ms, bool busy) {
        for (std::int64_t t = 0; t < ms; t += Cluster::tick_ms) {
            if (busy) work.step();
            cluster.step();
        }
    };
    auto run_until_converged = [&](std::int64_t limit_ms) {
        std::int64_t t = 0;
        for (; t < limit_ms && !cluster.converged(); t += Cluster::tick_ms) cluster.step();
        if (!cluster.converged()) cluster.explain();
        return t;
    };

    run(20'000, true);
    CHECK(run_until_converged(120'000) < 120'000);
    CHECK(agents_serving(cluster, victim, "victim") == 49);

    cluster.partition(2);
    run(20'000, true);
    cluster.kill(victim);
    run(10'000, true); // past the detection delay
    INFO("agents still serving the failed agent's instance");
    CHECK(agents_serving(cluster, victim, "victim") == 0);

    cluster.heal();
    run(20'000, true);
    std::int64_t healed_ms = run_until_converged(300'000);
    MESSAGE("converged ", healed_ms, " ms after the last change; ", work.registrations,
            " registrations, ", work.deregistrations, " deregistrations, ", work.health_changes,
            " health changes; ", cluster.packets_sent, " packets (", cluster.packet_bytes,
            " B of user messages), ", cluster.stream_bytes, " B on streams");
    INFO(cluster.agents_differing(), " agents differ from the owners' records");
    CHECK(healed_ms < 300'000);
    CHECK(agents_serving(cluster, victim, "victim") == 0);

    cluster.revive(victim);
    run(5'000, false);
    CHECK(agents_serving(cluster, victim, "victim") == 49); // back without re-registration
    CHECK(run_until_converged(120'000) < 120'000);

    // Stale copies from the first seconds arrive again: tombstones and newer
    // versions win, nothing old comes back.
    auto old = cluster.history;
    cluster.replay(old);
    CHECK(cluster.converged());
    run(10'000, false);
    CHECK(cluster.converged());
}

TEST_CASE(
    "without loss, broadcasts alone bring a registration to all 50 agents within a few seconds") {
    Cluster cluster(50, 0.0, 7);
    cluster.agent(3).register_instance("x", "fast", cluster.clock().now_ms);
    std::int64_t t = 0;
    for (; t < 5000 && agents_serving(cluster, 3, "fast") < 49; t += Cluster::tick_ms)
        cluster.step();
    MESSAGE("all 50 agents serve it after ", t, " ms of simulated time");
    CHECK(t < 5000);
}
