#pragma once
// Replicas wired to each other by hand for tests: each Agent is a Registry
// and its Replica on a shared manual clock; helpers carry broadcasts and
// stream messages between them, or drop them.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "registry/registry.hpp"
#include "registry/replication/replica.hpp"

namespace cairn::registry::replication::test {

struct ManualClock {
    std::int64_t now_ms = 1'000'000;
};

struct Agent {
    Agent(std::string name, ManualClock& clock, ReplicaOptions options = {})
        : registry(std::move(name))
        , replica(
              registry, [&clock] { return clock.now_ms; }, options) {}
    Registry registry;
    Replica replica;
    // Broadcasts taken from the replica, not yet sent (the test's queue).
    std::vector<Broadcast> queued;

    const std::string& name() const { return registry.local_node(); }

    Instance register_instance(const std::string& id, const std::string& service,
                               std::int64_t now_ms, Health health = Health::passing) {
        Instance i = registry::test::make_instance(id, service);
        i.checks.push_back(registry::test::ttl_check(id + ":1", health));
        auto stored = registry.upsert_local(i, now_ms);
        REQUIRE(stored.has_value());
        replica.local_changed();
        return *stored;
    }
    void deregister(const std::string& id, std::int64_t now_ms) {
        REQUIRE(registry.deregister_local(id, now_ms));
        replica.local_changed();
    }
    void set_health(const std::string& id, Health health) {
        CheckState state;
        state.status = health;
        REQUIRE(registry.update_check(id + ":1", state));
        replica.local_changed();
    }
    void take() {
        for (Broadcast& b : replica.take_broadcasts()) queued.push_back(std::move(b));
    }
};

// Delivers every message (broadcasts and streams) from `from` to each of
// `to`, and the answers they produce, until nothing is left. No loss.
inline void deliver_all(std::vector<Agent*> agents) {
    for (int round = 0; round < 20; ++round) {
        bool any = false;
        for (Agent* a : agents) {
            a->take();
            for (const Broadcast& b : a->queued)
                for (Agent* other : agents)
                    if (other != a) {
                        (void)other->replica.receive(b.bytes);
                        any = true;
                    }
            a->queued.clear();
            for (const Outgoing& o : a->replica.take_outgoing())
                for (Agent* other : agents)
                    if (other->name() == o.to) {
                        (void)other->replica.receive(o.bytes);
                        any = true;
                    }
        }
        if (!any) return;
    }
    FAIL("messages were still flowing after 20 rounds");
}

// One push-pull between a and b (both directions, as memberlist does it).
inline void push_pull(Agent& a, Agent& b) {
    auto from_a = a.replica.local_state();
    auto from_b = b.replica.local_state();
    REQUIRE(b.replica.merge_remote_state(from_a).has_value());
    REQUIRE(a.replica.merge_remote_state(from_b).has_value());
}

// (owner, id, version) of every live instance, sorted.
inline std::vector<std::tuple<std::string, std::string, std::uint64_t>>
live_view(const Registry& r, const std::vector<std::string>& owners) {
    std::vector<std::tuple<std::string, std::string, std::uint64_t>> out;
    for (const std::string& owner : owners)
        for (const Instance& i : r.records_of(owner, 0).instances)
            out.emplace_back(i.node, i.id, i.version);
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace cairn::registry::replication::test
