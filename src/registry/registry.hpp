#pragma once
// The registry: every instance known to this agent, its own and (later) those
// gossiped from others. Pure state, no I/O; used only from the main loop.
// Readers on other threads (the DNS workers) never touch it: they read the
// immutable Snapshot that publish() returns.

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
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
    // Leaves a tombstone. False if there is no such local instance (or no
    // version left, see below).
    bool deregister_local(std::string_view id, std::int64_t now_ms);
    // A check result. False if no local instance has a check with this id.
    // The version rises (the change is replicated) when the status or output
    // changes, the latency moves by more than a quarter or the load moves
    // (load_moved(), registry/load.hpp); smaller latency and load drifts
    // reach the local snapshot only.
    bool update_check(std::string_view check_id, const CheckState& state);
    bool set_maintenance(std::string_view id, bool enable, std::string reason);

    // --- The same writes in two steps, for a caller that makes a change
    // durable before anyone sees it (the agent's state store). prepare_*
    // returns the record that the one-step write would store, with its new
    // version, and changes nothing but the version counter; apply() stores a
    // prepared (or restored) record as it is. Prepared records are applied in
    // the order they were prepared; an unapplied one only leaves a gap in the
    // versions. apply() keeps the current state of checks whose definition
    // did not change since the record was prepared.
    // Every write fails, naming the reason, once the version counter has
    // reached 2^64-1: it cannot issue a version above every one it has seen.
    struct Prepared {
        Instance instance;
        bool changed = true; // false: identical to what is stored (same version)
    };
    std::expected<Prepared, std::string> prepare_upsert(Instance instance, std::int64_t now_ms);
    // The local instance `id` must exist (find_local).
    std::expected<Tombstone, std::string> prepare_deregister(std::string_view id,
                                                             std::int64_t now_ms);
    std::expected<Prepared, std::string> prepare_maintenance(std::string_view id, bool enable,
                                                             std::string reason);
    void apply(Instance local);
    void apply(Tombstone local);
    [[nodiscard]] const Tombstone* find_local_tombstone(std::string_view id) const;

    // --- Replication (gossip plugs in here). Newest version wins. ---
    bool merge(const Instance& remote);
    bool merge(const Tombstone& remote);
    // A node that is not alive keeps its records, but publish() leaves its
    // instances out of the snapshot until it is alive again.
    void set_node(Node node);
    // Drops tombstones whose deleted_at_ms is before `cutoff_ms`, except
    // those of a node that is not alive: they go with its records, in
    // forget_node(), so a stale copy of a record cannot outlive its tombstone.
    void collect_tombstones(std::int64_t cutoff_ms);
    // A copy of one of this agent's own records came back from the cluster
    // with a version this agent does not hold (written before a restart that
    // lost it): writes the record again with a new version, the instance if
    // it is still registered here, else a tombstone. Returns the new version
    // (none once the counter is exhausted). Not made durable: a restart
    // before the next durable write finds the same copy and does it again.
    std::optional<std::uint64_t> supersede_local(std::string_view id, std::int64_t now_ms);
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
    // The ids of this agent's own records written (registered, replaced,
    // deregistered, a check's state, superseded) or collected since the
    // last call, each once, so that replication looks at what changed
    // instead of every record. Bounded by the number of own ids.
    [[nodiscard]] std::vector<std::string> take_local_changes();

    // --- Change notifications (blocking queries wait on them). ---
    struct Listener {
        // A service's instances changed as a reader sees them: registered,
        // replaced, deregistered, a check's status or output, its node's
        // liveness. With the lower-case service name. (A check's latency
        // alone is not a change here.)
        std::function<void(std::string_view service)> service_changed;
        // A node was added, changed or forgotten.
        std::function<void()> nodes_changed;
    };
    // Called during the write, after the record is stored: a listener may
    // read the registry but must not write it. One listener; {} removes it.
    void set_listener(Listener listener);

    // --- Reads on the main loop. ---
    [[nodiscard]] const Instance* find_local(std::string_view id) const;
    [[nodiscard]] const Instance* find_by_check(std::string_view check_id) const;
    [[nodiscard]] std::vector<const Instance*> local_instances() const;
    [[nodiscard]] const Instance* find(std::string_view node, std::string_view id) const;
    // Case-insensitive service name; sorted by (node, id).
    [[nodiscard]] std::vector<const Instance*> instances_of(std::string_view service) const;
    [[nodiscard]] std::vector<const Instance*> instances_with_tag(std::string_view service,
                                                                  std::string_view tag) const;
    [[nodiscard]] const Node* find_node(std::string_view name) const;
    // Every node known (gossip members that have been seen), by name.
    [[nodiscard]] std::vector<const Node*> nodes() const;
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
