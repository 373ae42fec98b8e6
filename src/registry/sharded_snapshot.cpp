#include "registry/sharded_snapshot.hpp"

#include <algorithm>

namespace cairn::registry {

std::size_t ShardedSnapshot::Shard::position(std::uint64_t hash, std::string_view name) const {
    auto it = std::lower_bound(hashes.begin(), hashes.end(), hash);
    auto i = static_cast<std::size_t>(it - hashes.begin());
    while (i < hashes.size() && hashes[i] == hash && entries[i]->name < name) ++i;
    return i;
}

ShardedSnapshot::ShardedSnapshot(std::uint64_t generation, Shards shards,
                                 std::shared_ptr<const NodeTable> nodes, std::size_t service_count)
    : generation_(generation)
    , shards_(std::move(shards))
    , nodes_(std::move(nodes))
    , service_count_(service_count) {}

const std::shared_ptr<const ServiceEntry>*
ShardedSnapshot::slot(std::string_view lower_name) const {
    std::uint64_t hash = hash_of(lower_name);
    const auto& shard = shards_[shard_of(hash)];
    if (!shard) return nullptr;
    std::size_t i = shard->position(hash, lower_name);
    if (i == shard->entries.size() || shard->hashes[i] != hash ||
        shard->entries[i]->name != lower_name)
        return nullptr;
    return &shard->entries[i];
}

std::shared_ptr<const ServiceEntry>
ShardedSnapshot::service_ptr(std::string_view lower_name) const {
    const auto* entry = slot(lower_name);
    return entry ? *entry : nullptr;
}

const ServiceEntry* ShardedSnapshot::find_service(std::string_view lower_name) const {
    // The per-query path.
    const auto* entry = slot(lower_name);
    return entry ? entry->get() : nullptr;
}

const Node* ShardedSnapshot::find_node(std::string_view lower_name) const {
    const auto& names = nodes_->lower_names;
    auto it = std::lower_bound(names.begin(), names.end(), lower_name);
    if (it == names.end() || *it != lower_name) return nullptr;
    return &nodes_->nodes[static_cast<std::size_t>(it - names.begin())];
}

} // namespace cairn::registry
