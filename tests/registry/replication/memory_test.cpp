// Memory per replicated instance: an agent that learns 100,000 instances of
// 50 other agents (2,000 each) through push-pull, with its snapshot
// published, holds at most 1 KB per instance: the registry's records, the
// replica's state per owner and the snapshot DNS answers from, for records
// it does not own. Counted by replacing the global allocator (this
// test has its own executable), so the figure does not depend on the
// machine's allocator or on other processes.

#include <doctest/doctest.h>

#include <cstdlib>
#include <malloc.h>
#include <new>

#include "harness.hpp"

namespace {
std::size_t live_bytes = 0;
}

void* operator new(std::size_t size) {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (!p) throw std::bad_alloc();
    live_bytes += malloc_usable_size(p);
    return p;
}
void operator delete(void* p) noexcept {
    if (p) {
        live_bytes -= malloc_usable_size(p);
        std::free(p);
    }
}
void operator delete(void* p, std::size_t) noexcept {
    operator delete(p);
}

using namespace cairn::registry;
using namespace cairn::registry::replication;
using namespace cairn::registry::replication::test;

TEST_CASE("a replica holds at most 1 KB per instance it learned") {
    constexpr int owners = 50;
    constexpr int per_owner = 2000;
    ManualClock clock;
    std::vector<std::unique_ptr<Agent>> agents;
    for (int k = 0; k < owners; ++k) {
        agents.push_back(std::make_unique<Agent>("agent-" + std::to_string(k), clock));
        Agent& a = *agents.back();
        for (int n = 0; n < per_owner; ++n) {
            // Appended, not "i" + std::to_string(n): GCC 12 -O3 -Wrestrict
            // false positive.
            std::string id = "i";
            id += std::to_string(n);
            std::string service = "svc";
            service += std::to_string(n % 100);
            Instance i =
                cairn::registry::test::make_instance(id, service, static_cast<std::uint8_t>(n));
            i.tags = {"v2", "primary"};
            i.meta = {{"version", "2.1.0"}};
            i.checks.push_back(cairn::registry::test::ttl_check(id + ":1", Health::passing));
            REQUIRE(a.registry.upsert_local(i, clock.now_ms).has_value());
        }
        a.replica.local_changed();
        (void)a.replica.take_broadcasts();
    }
    (void)agents[0]->registry.publish();

    std::size_t before = live_bytes;
    auto observer = std::make_unique<Agent>("observer", clock);
    for (auto& a : agents) {
        // One way only, so that the owners do not learn each other's records
        // through the observer and grow too.
        // (The join's whole digest: a summary would have the observer send
        // its own digest, and the owner ask for what it lacks.)
        REQUIRE(observer->replica.merge_remote_state(a->replica.local_state(true)).has_value());
        deliver_all({observer.get(), a.get()});
    }
    (void)observer->replica.take_broadcasts();
    auto snapshot = observer->registry.publish();
    std::size_t per_instance = (live_bytes - before) / (owners * per_owner);

    MESSAGE("bytes per replicated instance, registry and snapshot: ", per_instance);
    CHECK(snapshot->service_count() == 100);
    for (auto& a : agents)
        CHECK(observer->replica.watermark(a->name()) == a->replica.watermark(a->name()));
    CHECK(per_instance <= 1024);
}
