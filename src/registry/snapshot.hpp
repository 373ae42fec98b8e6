#pragma once
// An immutable view of the registry for the DNS workers. Built on the main
// loop by Registry::publish(), read from any thread, swapped atomically
// through SnapshotSlot. Lookups take lower-case names.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "registry/types.hpp"

namespace cairn::registry {

struct ServiceEntry {
    std::string name;                                   // lower case
    // Instances that may be served: on live agents, not in maintenance, split
    // by health. Critical instances are not here at all.
    std::vector<std::shared_ptr<const Instance>> passing;
    std::vector<std::shared_ptr<const Instance>> warning;
    std::size_t total = 0;                              // all instances, any health
};

class Snapshot {
public:
    virtual ~Snapshot() = default;
    [[nodiscard]] virtual std::uint64_t generation() const = 0;
    [[nodiscard]] virtual const ServiceEntry* find_service(std::string_view lower_name) const = 0;
    [[nodiscard]] virtual const Node* find_node(std::string_view lower_name) const = 0;
    [[nodiscard]] virtual const std::vector<Node>& nodes() const = 0;
};

// Where the main loop puts the newest snapshot and the DNS workers find it.
// A worker keeps its own shared_ptr and re-reads the slot only when the
// generation counter moved, so a query costs one relaxed atomic load.
class SnapshotSlot {
public:
    void store(std::shared_ptr<const Snapshot> snapshot)
    {
        std::uint64_t g = snapshot ? snapshot->generation() : 0;
        current_.store(std::move(snapshot));
        generation_.store(g, std::memory_order_release);
    }
    [[nodiscard]] std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    [[nodiscard]] std::shared_ptr<const Snapshot> load() const { return current_.load(); }

private:
    std::atomic<std::shared_ptr<const Snapshot>> current_;
    std::atomic<std::uint64_t> generation_{0};
};

} // namespace cairn::registry
