#include "registry/registry.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "registry/load.hpp"
#include "registry/service_builder.hpp"
#include "registry/sharded_snapshot.hpp"
#include "registry/validate.hpp"

namespace cairn::registry {

namespace {

// Everything the registry knows about one (node, id): the instance, or the
// tombstone that replaced it.
struct Record {
    std::shared_ptr<const Instance> instance; // null when deleted
    // Set when instance is null. Behind a pointer so that live records (the
    // vast majority) do not carry an empty Tombstone's ~80 bytes.
    std::unique_ptr<Tombstone> tombstone;
    [[nodiscard]] std::uint64_t version() const {
        return instance ? instance->version : tombstone->version;
    }
};

bool same_except_version(const Instance& a, const Instance& b) {
    Instance copy = b;
    copy.version = a.version;
    return copy == a;
}

const std::string exhausted =
    "the version counter is at its maximum (2^64-1): this agent cannot issue a newer "
    "version; its records must be re-created under a new node name";

} // namespace

// Keys of `records`, ordered by the strings they point at.
struct KeyLess {
    bool operator()(const std::string* a, const std::string* b) const { return *a < *b; }
};
using KeySet = std::set<const std::string*, KeyLess>;

struct Registry::State {
    std::string local_node;
    std::uint64_t counter = 0; // highest version seen or issued
    std::unordered_map<std::string, Record> records;
    std::unordered_map<std::string, std::uint64_t> max_version_by_node;
    // Indexes over live instances: lower service name / node -> record keys.
    // The indexes point at the keys of `records` (unordered_map nodes do not
    // move), so an instance costs a pointer per index, not another string.
    std::unordered_map<std::string, KeySet> by_service;
    std::unordered_map<std::string, KeySet> by_node;
    std::unordered_map<std::string, std::string> local_check_owner; // check id -> local instance id
    std::map<std::string, Node> nodes;                              // by exact name
    std::unordered_set<std::string> local_changes; // own ids written since take_local_changes()

    // For publish().
    std::unordered_set<std::string> dirty_services; // lower names
    bool nodes_dirty = true;
    std::shared_ptr<const ShardedSnapshot> last;
    std::uint64_t generation = 0;

    Listener listener;
    // Set while a write must not notify (a check's latency drift).
    bool quiet = false;

    void notify(const std::string& service) {
        if (!quiet && listener.service_changed) listener.service_changed(service);
    }
    void notify_nodes() {
        if (listener.nodes_changed) listener.nodes_changed();
    }

    mutable std::vector<Tombstone> tombstone_cache;
    mutable bool tombstone_cache_valid = false;

    void observe(std::string_view node, std::uint64_t version) {
        counter = std::max(counter, version);
        auto [it, inserted] = max_version_by_node.try_emplace(std::string(node), version);
        if (!inserted) it->second = std::max(it->second, version);
    }

    // Empty once the counter is at its maximum: wrapping to 0 would make
    // every later write lose to the records it replaces.
    std::optional<std::uint64_t> next_version() {
        if (counter == std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
        ++counter;
        observe(local_node, counter);
        return counter;
    }

    void unindex(const std::string& key, const Instance& instance) {
        std::string service = to_lower(instance.service);
        if (auto it = by_service.find(service); it != by_service.end()) {
            it->second.erase(&key);
            if (it->second.empty()) by_service.erase(it);
        }
        if (auto it = by_node.find(instance.node); it != by_node.end()) {
            it->second.erase(&key);
            if (it->second.empty()) by_node.erase(it);
        }
        if (instance.node == local_node)
            for (const Check& c : instance.checks) local_check_owner.erase(c.definition.id);
        dirty_services.insert(std::move(service));
    }

    void index(const std::string& key, const Instance& instance) {
        std::string service = to_lower(instance.service);
        by_service[service].insert(&key);
        by_node[instance.node].insert(&key);
        if (instance.node == local_node)
            for (const Check& c : instance.checks) local_check_owner[c.definition.id] = instance.id;
        dirty_services.insert(std::move(service));
    }

    // Replaces whatever is at `key` with `instance` (null = tombstone).
    void put(const std::string& new_key, std::shared_ptr<const Instance> instance,
             Tombstone tombstone) {
        auto slot = records.try_emplace(new_key).first;
        const std::string& key = slot->first; // the indexes keep pointers to it
        Record& r = slot->second;
        if (const std::string& owner = instance ? instance->node : tombstone.node;
            owner == local_node)
            local_changes.insert(instance ? instance->id : tombstone.id);
        std::optional<std::string> before;
        if (r.instance) before = to_lower(r.instance->service);
        if (r.instance)
            unindex(key, *r.instance);
        else if (r.tombstone)
            tombstone_cache_valid = false;
        r.instance = std::move(instance);
        r.tombstone = r.instance ? nullptr : std::make_unique<Tombstone>(std::move(tombstone));
        if (r.instance)
            index(key, *r.instance);
        else
            tombstone_cache_valid = false;
        // After both: a listener reads the record as stored.
        if (before && *before != to_lower(r.instance ? r.instance->service : std::string()))
            notify(*before);
        if (r.instance) notify(to_lower(r.instance->service));
    }

    const Instance* find(std::string_view node, std::string_view id) const {
        auto it = records.find(record_key(node, id));
        return it == records.end() ? nullptr : it->second.instance.get();
    }

    bool node_alive(const std::string& name) const {
        auto it = nodes.find(name);
        return it == nodes.end() || it->second.alive;
    }

    void dirty_services_of_node(const std::string& node) {
        auto it = by_node.find(node);
        if (it == by_node.end()) return;
        std::set<std::string> services;
        for (const std::string* key : it->second)
            services.insert(to_lower(records.at(*key).instance->service));
        for (const std::string& service : services) {
            dirty_services.insert(service);
            notify(service);
        }
    }
};

Registry::Registry(std::string local_node)
    : state_(std::make_unique<State>()) {
    state_->local_node = std::move(local_node);
}

Registry::~Registry() = default;

const std::string& Registry::local_node() const {
    return state_->local_node;
}

std::expected<Registry::Prepared, std::string> Registry::prepare_upsert(Instance instance,
                                                                        std::int64_t now_ms) {
    State& s = *state_;
    instance.node = s.local_node;
    fill_defaults(instance);
    if (auto ok = validate(instance); !ok) return std::unexpected(ok.error().message);
    if (instance.address.family == 0) return std::unexpected("address: is not set");
    for (std::size_t i = 0; i < instance.checks.size(); ++i) {
        auto it = s.local_check_owner.find(instance.checks[i].definition.id);
        if (it != s.local_check_owner.end() && it->second != instance.id)
            return std::unexpected("checks[" + std::to_string(i) + "].id: \"" +
                                   instance.checks[i].definition.id +
                                   "\" is already used by instance \"" + it->second + "\"");
    }

    const Instance* old = s.find(s.local_node, instance.id);
    for (Check& c : instance.checks) {
        const Check* kept = nullptr;
        if (old)
            for (const Check& oc : old->checks)
                if (oc.definition == c.definition) kept = &oc;
        if (kept)
            c.state = kept->state;
        else if (c.state.last_change_ms == 0)
            c.state.last_change_ms = now_ms;
    }
    if (old && same_except_version(*old, instance)) return Prepared{*old, false};

    s.observe(s.local_node, instance.version); // a reloaded instance brings its version
    auto version = s.next_version();
    if (!version) return std::unexpected(exhausted);
    instance.version = *version;
    return Prepared{std::move(instance), true};
}

std::expected<Tombstone, std::string> Registry::prepare_deregister(std::string_view id,
                                                                   std::int64_t now_ms) {
    State& s = *state_;
    if (!s.find(s.local_node, id))
        return std::unexpected("no local instance \"" + std::string(id) + "\"");
    auto version = s.next_version();
    if (!version) return std::unexpected(exhausted);
    return Tombstone{std::string(id), s.local_node, *version, now_ms};
}

std::expected<Registry::Prepared, std::string>
Registry::prepare_maintenance(std::string_view id, bool enable, std::string reason) {
    State& s = *state_;
    const Instance* old = s.find(s.local_node, id);
    if (!old) return std::unexpected("no local instance \"" + std::string(id) + "\"");
    if (!enable) reason.clear();
    if (old->maintenance == enable && old->maintenance_reason == reason)
        return Prepared{*old, false};
    auto version = s.next_version();
    if (!version) return std::unexpected(exhausted);
    Instance next = *old;
    next.maintenance = enable;
    next.maintenance_reason = std::move(reason);
    next.version = *version;
    return Prepared{std::move(next), true};
}

void Registry::apply(Instance local) {
    State& s = *state_;
    local.node = s.local_node;
    s.observe(s.local_node, local.version);
    if (const Instance* now = s.find(s.local_node, local.id))
        for (Check& c : local.checks)
            for (const Check& current : now->checks)
                if (current.definition == c.definition) c.state = current.state;
    std::string key = record_key(s.local_node, local.id);
    s.put(key, std::make_shared<const Instance>(std::move(local)), {});
}

void Registry::apply(Tombstone local) {
    State& s = *state_;
    local.node = s.local_node;
    s.observe(s.local_node, local.version);
    std::string key = record_key(s.local_node, local.id);
    s.put(key, nullptr, std::move(local));
}

const Tombstone* Registry::find_local_tombstone(std::string_view id) const {
    auto it = state_->records.find(record_key(state_->local_node, id));
    return it == state_->records.end() || it->second.instance ? nullptr
                                                              : it->second.tombstone.get();
}

std::expected<Instance, std::string> Registry::upsert_local(Instance instance,
                                                            std::int64_t now_ms) {
    auto prepared = prepare_upsert(std::move(instance), now_ms);
    if (!prepared) return std::unexpected(prepared.error());
    if (prepared->changed) apply(prepared->instance);
    return std::move(prepared->instance);
}

bool Registry::deregister_local(std::string_view id, std::int64_t now_ms) {
    auto tombstone = prepare_deregister(id, now_ms);
    if (!tombstone) return false;
    apply(std::move(*tombstone));
    return true;
}

bool Registry::update_check(std::string_view check_id, const CheckState& state) {
    State& s = *state_;
    auto owner = s.local_check_owner.find(std::string(check_id));
    if (owner == s.local_check_owner.end()) return false;
    const Instance* old = s.find(s.local_node, owner->second);
    if (!old) return false;
    Instance next = *old;
    for (Check& c : next.checks) {
        if (c.definition.id != check_id) continue;
        if (c.state == state) return true;
        std::uint32_t before = c.state.latency_us;
        Health old_status = c.state.status;
        std::string old_output = c.state.output;
        bool replicate = c.state.status != state.status || c.state.output != state.output ||
                         std::abs(static_cast<std::int64_t>(state.latency_us) - before) * 4 >
                             static_cast<std::int64_t>(before) ||
                         load_moved(c.state.load, state.load);
        c.state = state;
        if (c.state.output.size() > 4096) c.state.output.resize(4096);
        // With the counter exhausted the change stays local (no version to replicate it with).
        if (replicate) next.version = s.next_version().value_or(next.version);
        bool seen = c.state.status != old_status || c.state.output != old_output;
        std::string key = record_key(s.local_node, next.id);
        s.quiet = !seen;
        s.put(key, std::make_shared<const Instance>(std::move(next)), {});
        s.quiet = false;
        return true;
    }
    return false;
}

bool Registry::set_maintenance(std::string_view id, bool enable, std::string reason) {
    auto prepared = prepare_maintenance(id, enable, std::move(reason));
    if (!prepared) return false;
    if (prepared->changed) apply(std::move(prepared->instance));
    return true;
}

bool Registry::merge(const Instance& remote) {
    State& s = *state_;
    if (remote.node.empty() || remote.version == 0 || remote.address.family == 0 ||
        !validate(remote))
        return false;
    s.observe(remote.node, remote.version);
    if (remote.node == s.local_node) return false;
    std::string key = record_key(remote.node, remote.id);
    if (auto it = s.records.find(key);
        it != s.records.end() && it->second.version() >= remote.version)
        return false; // equal-or-newer instance, or a tombstone that wins ties
    s.put(key, std::make_shared<const Instance>(remote), {});
    return true;
}

bool Registry::merge(const Tombstone& remote) {
    State& s = *state_;
    if (remote.node.empty() || remote.id.empty() || remote.version == 0) return false;
    s.observe(remote.node, remote.version);
    if (remote.node == s.local_node) return false;
    std::string key = record_key(remote.node, remote.id);
    if (auto it = s.records.find(key); it != s.records.end()) {
        const Record& r = it->second;
        // A tombstone beats an instance of equal or older version, and an
        // older tombstone.
        if (r.instance ? r.instance->version > remote.version
                       : r.tombstone->version >= remote.version)
            return false;
    }
    s.put(key, nullptr, remote);
    return true;
}

void Registry::set_node(Node node) {
    State& s = *state_;
    auto it = s.nodes.find(node.name);
    bool was_alive = it == s.nodes.end() || it->second.alive;
    if (it != s.nodes.end() && it->second.alive == node.alive &&
        it->second.datacenter == node.datacenter && it->second.address == node.address &&
        it->second.meta == node.meta)
        return;
    if (was_alive != node.alive) s.dirty_services_of_node(node.name);
    std::string name = node.name;
    s.nodes[name] = std::move(node);
    s.nodes_dirty = true;
    s.notify_nodes();
}

void Registry::collect_tombstones(std::int64_t cutoff_ms) {
    State& s = *state_;
    for (auto it = s.records.begin(); it != s.records.end();) {
        const Record& r = it->second;
        if (!r.instance && r.tombstone->deleted_at_ms < cutoff_ms &&
            s.node_alive(r.tombstone->node)) {
            if (r.tombstone->node == s.local_node) s.local_changes.insert(r.tombstone->id);
            it = s.records.erase(it);
            s.tombstone_cache_valid = false;
        } else {
            ++it;
        }
    }
}

std::optional<std::uint64_t> Registry::supersede_local(std::string_view id, std::int64_t now_ms) {
    State& s = *state_;
    std::string key = record_key(s.local_node, id);
    auto version = s.next_version();
    if (!version) return std::nullopt;
    if (const Instance* old = s.find(s.local_node, id)) {
        Instance next = *old;
        next.version = *version;
        s.put(key, std::make_shared<const Instance>(std::move(next)), {});
    } else {
        s.put(key, nullptr, Tombstone{std::string(id), s.local_node, *version, now_ms});
    }
    return version;
}

void Registry::forget_node(std::string_view name) {
    State& s = *state_;
    std::string node(name);
    if (node == s.local_node) return;
    for (auto it = s.records.begin(); it != s.records.end();) {
        const Record& r = it->second;
        const std::string& owner = r.instance ? r.instance->node : r.tombstone->node;
        if (owner != node) {
            ++it;
            continue;
        }
        std::optional<std::string> service;
        if (r.instance) {
            service = to_lower(r.instance->service);
            s.unindex(it->first, *r.instance);
        } else {
            s.tombstone_cache_valid = false;
        }
        it = s.records.erase(it);
        if (service) s.notify(*service);
    }
    s.max_version_by_node.erase(node);
    if (s.nodes.erase(node) > 0) {
        s.nodes_dirty = true;
        s.notify_nodes();
    }
}

void Registry::set_listener(Listener listener) {
    state_->listener = std::move(listener);
}

std::vector<const Node*> Registry::nodes() const {
    std::vector<const Node*> out;
    out.reserve(state_->nodes.size());
    for (const auto& [name, node] : state_->nodes) out.push_back(&node);
    return out;
}

std::uint64_t Registry::version_counter() const {
    return state_->counter;
}

void Registry::observe_version(std::uint64_t version) {
    state_->observe(state_->local_node, version);
}

std::vector<std::pair<std::string, std::uint64_t>> Registry::digest() const {
    std::vector<std::pair<std::string, std::uint64_t>> out(state_->max_version_by_node.begin(),
                                                           state_->max_version_by_node.end());
    std::sort(out.begin(), out.end());
    return out;
}

Registry::Records Registry::records_of(std::string_view node, std::uint64_t after_version) const {
    // Through the node index and the tombstone list, not every record: push-
    // pull asks this once per owner that is behind.
    Records out;
    if (auto it = state_->by_node.find(std::string(node)); it != state_->by_node.end())
        for (const std::string* key : it->second)
            if (const Instance& i = *state_->records.at(*key).instance; i.version > after_version)
                out.instances.push_back(i);
    for (const Tombstone& t : tombstones())
        if (t.version > after_version && t.node == node) out.tombstones.push_back(t);
    auto by_version = [](const auto& a, const auto& b) { return a.version < b.version; };
    std::sort(out.instances.begin(), out.instances.end(), by_version);
    std::sort(out.tombstones.begin(), out.tombstones.end(), by_version);
    return out;
}

std::vector<std::string> Registry::take_local_changes() {
    State& s = *state_;
    std::vector<std::string> ids;
    ids.reserve(s.local_changes.size());
    while (!s.local_changes.empty())
        ids.push_back(std::move(s.local_changes.extract(s.local_changes.begin()).value()));
    return ids;
}

const Instance* Registry::find_local(std::string_view id) const {
    return state_->find(state_->local_node, id);
}

const Instance* Registry::find(std::string_view node, std::string_view id) const {
    return state_->find(node, id);
}

const Instance* Registry::find_by_check(std::string_view check_id) const {
    auto it = state_->local_check_owner.find(std::string(check_id));
    return it == state_->local_check_owner.end() ? nullptr : find_local(it->second);
}

std::vector<const Instance*> Registry::local_instances() const {
    std::vector<const Instance*> out;
    if (auto it = state_->by_node.find(state_->local_node); it != state_->by_node.end())
        for (const std::string* key : it->second)
            out.push_back(state_->records.at(*key).instance.get());
    return out;
}

std::vector<const Instance*> Registry::instances_of(std::string_view service) const {
    std::vector<const Instance*> out;
    if (auto it = state_->by_service.find(to_lower(service)); it != state_->by_service.end())
        for (const std::string* key : it->second)
            out.push_back(state_->records.at(*key).instance.get());
    return out;
}

std::vector<const Instance*> Registry::instances_with_tag(std::string_view service,
                                                          std::string_view tag) const {
    std::vector<const Instance*> out;
    std::string lower_tag = to_lower(tag);
    for (const Instance* i : instances_of(service))
        for (const std::string& t : i->tags)
            if (to_lower(t) == lower_tag) {
                out.push_back(i);
                break;
            }
    return out;
}

const Node* Registry::find_node(std::string_view name) const {
    auto it = state_->nodes.find(std::string(name));
    return it == state_->nodes.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::service_names() const {
    std::vector<std::string> out;
    for (const auto& [name, keys] : state_->by_service) out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
}

const std::vector<Tombstone>& Registry::tombstones() const {
    State& s = *state_;
    if (!s.tombstone_cache_valid) {
        s.tombstone_cache.clear();
        for (const auto& [key, r] : s.records)
            if (!r.instance) s.tombstone_cache.push_back(*r.tombstone);
        std::sort(s.tombstone_cache.begin(), s.tombstone_cache.end(),
                  [](const Tombstone& a, const Tombstone& b) { return a.version < b.version; });
        s.tombstone_cache_valid = true;
    }
    return s.tombstone_cache;
}

bool Registry::dirty() const {
    return !state_->dirty_services.empty() || state_->nodes_dirty || !state_->last;
}

std::shared_ptr<const Snapshot> Registry::publish() {
    State& s = *state_;
    if (s.last && !dirty()) return s.last;

    ShardedSnapshot::Shards shards;
    std::size_t service_count = 0;
    if (s.last) {
        shards = s.last->shards();
        service_count = s.last->service_count();
    }

    // Group the changed services by shard, so each touched shard is copied once.
    std::map<std::size_t, std::vector<std::pair<std::uint64_t, std::string>>> touched;
    for (const std::string& name : s.dirty_services) {
        std::uint64_t hash = ShardedSnapshot::hash_of(name);
        touched[ShardedSnapshot::shard_of(hash)].emplace_back(hash, name);
    }

    for (auto& [index, names] : touched) {
        auto shard = std::make_shared<ShardedSnapshot::Shard>();
        if (shards[index]) *shard = *shards[index];
        auto& entries = shard->entries;
        auto& hashes = shard->hashes;
        for (const auto& [hash, name] : names) {
            std::size_t pos = shard->position(hash, name);
            bool exists = pos < entries.size() && hashes[pos] == hash && entries[pos]->name == name;
            std::vector<std::shared_ptr<const Instance>> members;
            if (auto it = s.by_service.find(name); it != s.by_service.end())
                for (const std::string* key : it->second)
                    members.push_back(s.records.at(*key).instance);
            auto at = static_cast<std::ptrdiff_t>(pos);
            if (members.empty()) {
                if (exists) {
                    entries.erase(entries.begin() + at);
                    hashes.erase(hashes.begin() + at);
                    --service_count;
                }
                continue;
            }
            auto entry = build_service_entry(
                name, members, [&s](const std::string& n) { return s.node_alive(n); },
                exists ? entries[pos].get() : nullptr);
            if (exists) {
                entries[pos] = std::move(entry);
            } else {
                entries.insert(entries.begin() + at, std::move(entry));
                hashes.insert(hashes.begin() + at, hash);
                ++service_count;
            }
        }
        shards[index] = entries.empty()
                            ? nullptr
                            : std::shared_ptr<const ShardedSnapshot::Shard>(std::move(shard));
    }

    std::shared_ptr<const ShardedSnapshot::NodeTable> node_table =
        s.last ? s.last->node_table() : nullptr;
    if (s.nodes_dirty || !node_table) {
        auto table = std::make_shared<ShardedSnapshot::NodeTable>();
        std::vector<std::pair<std::string, const Node*>> sorted;
        for (const auto& [name, node] : s.nodes) sorted.emplace_back(to_lower(name), &node);
        std::sort(sorted.begin(), sorted.end());
        for (auto& [lower, node] : sorted) {
            table->lower_names.push_back(lower);
            table->nodes.push_back(*node);
        }
        node_table = std::move(table);
    }

    s.dirty_services.clear();
    s.nodes_dirty = false;
    s.last = std::make_shared<const ShardedSnapshot>(++s.generation, std::move(shards),
                                                     std::move(node_table), service_count);
    return s.last;
}

} // namespace cairn::registry
