#include "registry/service_builder.hpp"

#include <array>
#include <map>

#include "registry/txt.hpp"

namespace cairn::registry {

std::uint64_t endpoint_identity(std::string_view node, std::string_view id) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    auto mix = [&h](std::string_view text) {
        for (char c : text) {
            h ^= static_cast<std::uint8_t>(c);
            h *= 0x100000001b3ULL;
        }
    };
    mix(node);
    mix("\n");
    mix(id);
    return h;
}

Endpoint make_endpoint(const Instance& instance) {
    Endpoint e;
    e.instance = &instance;
    e.address = instance.address;
    e.port = instance.port;
    e.weight = instance.weight;
    e.ttl_ms = instance.ttl_ms;
    e.latency_us = instance.latency_us();
    e.identity = endpoint_identity(instance.node, instance.id);
    e.txt = txt_rdata(instance.meta);
    return e;
}

std::shared_ptr<const ServiceEntry> build_service_entry(
    const std::string& lower_name, const std::vector<std::shared_ptr<const Instance>>& members,
    const std::function<bool(const std::string&)>& node_alive, const ServiceEntry* previous) {
    auto entry = std::make_shared<ServiceEntry>();
    entry->name = lower_name;
    entry->total = members.size();
    if (previous) entry->rotation = previous->rotation;

    // Per tag: the positions of its passing and warning instances.
    std::map<std::string, std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>>> tags;
    std::array<std::size_t, 7> policy_votes{};
    for (const auto& instance : members) {
        if (instance->policy != Policy::unset)
            ++policy_votes[static_cast<std::size_t>(instance->policy)];
        if (!node_alive(instance->node)) continue;
        Health h = instance->health();
        std::vector<std::shared_ptr<const Instance>>* list = nullptr;
        if (h == Health::passing)
            list = &entry->passing;
        else if (h == Health::warning)
            list = &entry->warning;
        else
            continue; // critical and maintenance are never served
        auto position = static_cast<std::uint32_t>(list->size());
        list->push_back(instance);
        (h == Health::passing ? entry->passing_endpoints : entry->warning_endpoints)
            .push_back(make_endpoint(*instance));
        for (const std::string& tag : instance->tags) {
            std::string lower = to_lower(tag);
            auto& index = tags[lower];
            auto& positions = h == Health::passing ? index.first : index.second;
            // A tag given twice in different case must not list the instance twice.
            if (positions.empty() || positions.back() != position) positions.push_back(position);
        }
    }
    for (auto& [tag, positions] : tags) {
        TagIndex index;
        index.tag = tag;
        index.passing_pools = build_group_pools(entry->passing_endpoints, &positions.first);
        index.warning_pools = build_group_pools(entry->warning_endpoints, &positions.second);
        entry->tags.push_back(std::move(index));
    }
    entry->passing_pools = build_group_pools(entry->passing_endpoints, nullptr);
    entry->warning_pools = build_group_pools(entry->warning_endpoints, nullptr);
    std::size_t best = 0;
    for (std::size_t p = 1; p < policy_votes.size(); ++p)
        if (policy_votes[p] > policy_votes[best] || (best == 0 && policy_votes[p] > 0)) best = p;
    entry->policy = static_cast<Policy>(best);
    return entry;
}

} // namespace cairn::registry
