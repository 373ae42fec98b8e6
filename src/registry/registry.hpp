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
#include <utility>
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
    // check states of checks whose definitions did not change are kept; a
    // check without an id gets "<instance id>:<1-based position>". Replacing
    // an instance with an identical one changes nothing (same version).
    // Returns the instance as stored, or a message naming the bad field (and
    // then nothing changed).
    std::expected<Instance, std::string> upsert_local(Instance instance, std::int64_t now_ms);
    // Leaves a tombstone. False if there is no such local instance.
    bool deregister_local(std::string_view id, std::int64_t now_ms);
    // A check result. False if no local instance has a check with this id.
    // The version rises (the change is replicated) when the status or output
    // changes or the latency moves by more than a quarter; smaller latency
    // drifts reach the local snapshot only.
    bool update_check(std::string_view check_id, const CheckState& state);
    bool set_maintenance(std::string_view id, bool enable, std::string reason);

    // --- Replication (gossip plugs in here). Newest version wins. ---
    bool merge(const Instance& remote);
    bool merge(const Tombstone& remote);
    void set_node(Node node);
    // Drops tombstones older than `cutoff_ms`.
    void collect_tombstones(std::int64_t cutoff_ms);
    // Drops a node that left for good (reaped by gossip) and every record it
    // owns. Its records come back if it returns and gossips them again.
    void forget_node(std::string_view name);

    // --- Versions. Every record this agent writes gets a version above every
    // version this registry has seen, from any owner (a Lamport clock), so the
    // versions of one owner only grow and push-pull can ask an owner's records
    // "newer than v". upsert_local() also counts the version of the instance
    // it is given, so reloading persisted instances continues upward; a remote
    // copy of a record owned by this agent only raises the counter (this agent
    // is the only writer of its records, so its next write wins). ---
    [[nodiscard]] std::uint64_t version_counter() const;
    void observe_version(std::uint64_t version);
    // The highest version seen per owning node.
    [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> digest() const;
    struct Records {
        std::vector<Instance> instances;
        std::vector<Tombstone> tombstones;
    };
    // An owner's records with a version above `after_version`.
    [[nodiscard]] Records records_of(std::string_view node, std::uint64_t after_version) const;

    // --- Reads on the main loop. ---
    [[nodiscard]] const Instance* find_local(std::string_view id) const;
    [[nodiscard]] const Instance* find_by_check(std::string_view check_id) const;
    [[nodiscard]] std::vector<const Instance*> local_instances() const;
    [[nodiscard]] const Instance* find(std::string_view node, std::string_view id) const;
    // Case-insensitive service name; sorted by (node, id).
    [[nodiscard]] std::vector<const Instance*> instances_of(std::string_view service) const;
    [[nodiscard]] std::vector<const Instance*> instances_with_tag(std::string_view service, std::string_view tag) const;
    [[nodiscard]] const Node* find_node(std::string_view name) const;
    // Lower case, sorted; services with at least one instance.
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
