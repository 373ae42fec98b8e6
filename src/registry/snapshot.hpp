#pragma once
// An immutable view of the registry for the DNS workers. Built on the main
// loop by Registry::publish(), read from any thread, swapped atomically
// through SnapshotSlot. Lookups take lower-case names.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "registry/endpoint_pool.hpp"
#include "registry/types.hpp"

namespace cairn::registry {

// A counter that DNS workers bump concurrently (relaxed) inside an otherwise
// immutable entry; copying it copies the current value.
struct RotationCounter {
    mutable std::atomic<std::uint32_t> value{0};

    RotationCounter() = default;
    RotationCounter(const RotationCounter& other)
        : value(other.value.load(std::memory_order_relaxed)) {}
    RotationCounter& operator=(const RotationCounter& other) {
        value.store(other.value.load(std::memory_order_relaxed), std::memory_order_relaxed);
        return *this;
    }
    // The previous value; wraps around.
    std::uint32_t next() const { return value.fetch_add(1, std::memory_order_relaxed); }
};

// The instances, in ServiceEntry::passing and ::warning, that carry one
// tag, as pools to choose from (endpoint_pool.hpp).
struct TagIndex {
    std::string tag; // lower case
    GroupPools passing_pools;
    GroupPools warning_pools;
};

// What a DNS answer needs of one servable instance, copied next to its
// neighbours so that an answer walks one contiguous array instead of
// chasing a pointer per instance.
struct Endpoint {
    const Instance* instance = nullptr; // kept alive by the entry's lists
    Address address;
    std::uint16_t port = 0;
    std::uint32_t weight = 1;
    std::uint32_t ttl_ms = 0;
    std::uint32_t latency_us = 0;
    std::uint64_t identity = 0;    // endpoint_identity(node, id), for affinity
    std::vector<std::uint8_t> txt; // TXT RDATA of the metadata; empty if none
};

// A stable 64-bit hash of (node, id) (FNV-1a), the same in every process.
[[nodiscard]] std::uint64_t endpoint_identity(std::string_view node, std::string_view id);
[[nodiscard]] Endpoint make_endpoint(const Instance& instance);

struct ServiceEntry {
    std::string name; // lower case
    // Instances that may be served: on live agents, not in maintenance, split
    // by health. Critical instances are not here at all. Each list is sorted
    // by (node, id), so positions are stable while membership is.
    std::vector<std::shared_ptr<const Instance>> passing;
    std::vector<std::shared_ptr<const Instance>> warning;
    std::size_t total = 0; // all instances, any health
    // Parallel to passing and warning: the same instances as Endpoints.
    std::vector<Endpoint> passing_endpoints;
    std::vector<Endpoint> warning_endpoints;
    // What DNS answers choose from, per group (endpoint_pool.hpp).
    GroupPools passing_pools;
    GroupPools warning_pools;
    // Sorted by tag; only tags of servable instances.
    std::vector<TagIndex> tags;
    // The policy the instances ask for (the most common one set; unset if
    // none sets one). The agent's [dns].policy applies when unset.
    Policy policy = Policy::unset;
    // For round_robin: one counter per service shared by every DNS worker
    // (a relaxed atomic increment per query). Carried over when the entry is
    // rebuilt, so a change elsewhere in the service does not restart it.
    RotationCounter rotation;

    [[nodiscard]] const TagIndex* find_tag(std::string_view lower_tag) const {
        auto it = std::lower_bound(tags.begin(), tags.end(), lower_tag,
                                   [](const TagIndex& t, std::string_view v) { return t.tag < v; });
        return it != tags.end() && it->tag == lower_tag ? &*it : nullptr;
    }
};

class Snapshot {
public:
    virtual ~Snapshot() = default;
    [[nodiscard]] virtual std::uint64_t generation() const = 0;
    [[nodiscard]] virtual const ServiceEntry* find_service(std::string_view lower_name) const = 0;
    [[nodiscard]] virtual const Node* find_node(std::string_view lower_name) const = 0;
    [[nodiscard]] virtual const std::vector<Node>& nodes() const = 0;
    // How many services have an entry (any health).
    [[nodiscard]] virtual std::size_t service_count() const { return 0; }
};

// Where the main loop puts the newest snapshot and the DNS workers find it.
// A worker keeps its own shared_ptr and re-reads the slot only when the
// generation counter moved, so a query costs one relaxed atomic load.
class SnapshotSlot {
public:
    void store(std::shared_ptr<const Snapshot> snapshot) {
        std::uint64_t g = snapshot ? snapshot->generation() : 0;
        current_.store(std::move(snapshot));
        generation_.store(g, std::memory_order_release);
    }
    [[nodiscard]] std::uint64_t generation() const {
        return generation_.load(std::memory_order_acquire);
    }
    [[nodiscard]] std::shared_ptr<const Snapshot> load() const { return current_.load(); }

private:
    std::atomic<std::shared_ptr<const Snapshot>> current_;
    std::atomic<std::uint64_t> generation_{0};
};

} // namespace cairn::registry
