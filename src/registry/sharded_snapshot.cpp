#include "registry/sharded_snapshot.hpp"

#include <algorithm>

namespace cairn::registry {

namespace {

const std::shared_ptr<const ShardedSnapshot::Shard>* find_entry_shard(const ShardedSnapshot::Shards& shards,
                                                                      std::string_view lower_name)
{
    return &shards[ShardedSnapshot::shard_of(lower_name)];
}

} // namespace

ShardedSnapshot::ShardedSnapshot(std::uint64_t generation, Shards shards, std::shared_ptr<const NodeTable> nodes,
                                 std::size_t service_count)
    : generation_(generation), shards_(std::move(shards)), nodes_(std::move(nodes)), service_count_(service_count)
{
}

std::shared_ptr<const ServiceEntry> ShardedSnapshot::service_ptr(std::string_view lower_name) const
{
    const auto& shard = *find_entry_shard(shards_, lower_name);
    if (!shard)
        return nullptr;
    const auto& entries = shard->entries;
    auto it = std::lower_bound(entries.begin(), entries.end(), lower_name,
                               [](const std::shared_ptr<const ServiceEntry>& e, std::string_view v) { return e->name < v; });
    if (it == entries.end() || (*it)->name != lower_name)
        return nullptr;
    return *it;
}

const ServiceEntry* ShardedSnapshot::find_service(std::string_view lower_name) const
{
    // Same search as service_ptr() without the reference-count traffic: this
    // is the per-query path.
    const auto& shard = *find_entry_shard(shards_, lower_name);
    if (!shard)
        return nullptr;
    const auto& entries = shard->entries;
    auto it = std::lower_bound(entries.begin(), entries.end(), lower_name,
                               [](const std::shared_ptr<const ServiceEntry>& e, std::string_view v) { return e->name < v; });
    if (it == entries.end() || (*it)->name != lower_name)
        return nullptr;
    return it->get();
}

const Node* ShardedSnapshot::find_node(std::string_view lower_name) const
{
    const auto& names = nodes_->lower_names;
    auto it = std::lower_bound(names.begin(), names.end(), lower_name);
    if (it == names.end() || *it != lower_name)
        return nullptr;
    return &nodes_->nodes[static_cast<std::size_t>(it - names.begin())];
}

} // namespace cairn::registry
