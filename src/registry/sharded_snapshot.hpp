#pragma once
// The Snapshot that Registry::publish() builds (internal to the registry).
//
// Services live in a fixed number of shards, each a sorted vector of
// shared_ptr<const ServiceEntry>. A publish copies the array of shard
// pointers (256 of them) and rebuilds only the shards that hold a changed
// service, and within them only the changed entries; every other entry, shard
// and the node table are shared with the previous snapshot. So with 100k
// services, changing one costs a ~400-pointer shard copy, not a 100k one.

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "registry/snapshot.hpp"

namespace cairn::registry {

class ShardedSnapshot final : public Snapshot {
public:
    static constexpr std::size_t shard_count = 256;

    // Sorted by (hash of the name, name); the hashes sit in their own array
    // so a lookup binary-searches contiguous integers and touches one entry.
    struct Shard {
        std::vector<std::uint64_t> hashes;
        std::vector<std::shared_ptr<const ServiceEntry>> entries;

        // The position of `name`, or where it would go.
        [[nodiscard]] std::size_t position(std::uint64_t hash, std::string_view name) const;
    };
    struct NodeTable {
        std::vector<Node> nodes;              // sorted by lower-case name
        std::vector<std::string> lower_names; // parallel to nodes
    };
    using Shards = std::array<std::shared_ptr<const Shard>, shard_count>;

    ShardedSnapshot(std::uint64_t generation, Shards shards, std::shared_ptr<const NodeTable> nodes,
                    std::size_t service_count);

    [[nodiscard]] std::uint64_t generation() const override { return generation_; }
    [[nodiscard]] const ServiceEntry* find_service(std::string_view lower_name) const override;
    [[nodiscard]] const Node* find_node(std::string_view lower_name) const override;
    [[nodiscard]] const std::vector<Node>& nodes() const override { return nodes_->nodes; }
    [[nodiscard]] std::size_t service_count() const override { return service_count_; }

    // For the next publish and for tests of sharing.
    [[nodiscard]] const Shards& shards() const { return shards_; }
    [[nodiscard]] const std::shared_ptr<const NodeTable>& node_table() const { return nodes_; }
    [[nodiscard]] std::shared_ptr<const ServiceEntry>
    service_ptr(std::string_view lower_name) const;

    static std::uint64_t hash_of(std::string_view lower_name) {
        return std::hash<std::string_view>{}(lower_name);
    }
    static std::size_t shard_of(std::uint64_t hash) { return hash % shard_count; }

private:
    // The entry of `lower_name`, or nullptr: a pointer to the shared_ptr, so
    // that the per-query find_service() touches no reference count.
    [[nodiscard]] const std::shared_ptr<const ServiceEntry>*
    slot(std::string_view lower_name) const;

    std::uint64_t generation_;
    Shards shards_;
    std::shared_ptr<const NodeTable> nodes_;
    std::size_t service_count_;
};

} // namespace cairn::registry
