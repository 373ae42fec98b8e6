#pragma once
// The registry: every instance known to this agent, its own and (later) those
// gossiped from others. Pure state, no I/O; used only from the main loop.
// Readers on other threads (the DNS workers) never touch it: they read the
// immutable Snapshot that publish() returns.

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "registry/snapshot.hpp"
#include "registry/types.hpp"

namespace cairn::registry {

class Registry {
public:
    explicit Registry(std::string local_node);
    ~Registry();

    [[nodiscard]] const std::string& local_node() const;

    // --- Writes by this agent, the owner of the records it writes. ---

    // Registers or replaces a local instance. Sets node and a new version;
    // check states of checks whose definitions did not change are kept.
    // Returns the instance as stored, or a message naming the bad field.
    std::expected<Instance, std::string> upsert_local(Instance instance, std::int64_t now_ms);
    // Leaves a tombstone. False if there is no such local instance.
    bool deregister_local(std::string_view id, std::int64_t now_ms);
    // A check result. False if no local instance has a check with this id.
    bool update_check(std::string_view check_id, const CheckState& state);
    bool set_maintenance(std::string_view id, bool enable, std::string reason);

    // --- Replication (gossip plugs in here). Newest version wins. ---
    bool merge(const Instance& remote);
    bool merge(const Tombstone& remote);
    void set_node(Node node);
    // Drops tombstones older than `cutoff_ms`.
    void collect_tombstones(std::int64_t cutoff_ms);

    // --- Reads on the main loop. ---
    [[nodiscard]] const Instance* find_local(std::string_view id) const;
    [[nodiscard]] const Instance* find_by_check(std::string_view check_id) const;
    [[nodiscard]] std::vector<const Instance*> local_instances() const;
    [[nodiscard]] std::vector<const Instance*> instances_of(std::string_view service) const;
    [[nodiscard]] std::vector<std::string> service_names() const;
    [[nodiscard]] const std::vector<Tombstone>& tombstones() const;

    // True when something changed since the last publish().
    [[nodiscard]] bool dirty() const;
    // Builds the next snapshot; its cost grows with what changed since the
    // last one, not with the size of the registry.
    std::shared_ptr<const Snapshot> publish();

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace cairn::registry
