#include "registry/service_builder.hpp"

#include <array>
#include <map>

namespace cairn::registry {

std::shared_ptr<const ServiceEntry>
build_service_entry(const std::string& lower_name, const std::vector<std::shared_ptr<const Instance>>& members,
                    const std::function<bool(const std::string&)>& node_alive, const ServiceEntry* previous)
{
    auto entry = std::make_shared<ServiceEntry>();
    entry->name = lower_name;
    entry->total = members.size();
    if (previous)
        entry->rotation = previous->rotation;

    std::map<std::string, TagIndex> tags;
    std::array<std::size_t, 6> policy_votes{};
    for (const auto& instance : members) {
        if (instance->policy != Policy::unset)
            ++policy_votes[static_cast<std::size_t>(instance->policy)];
        if (!node_alive(instance->node))
            continue;
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
        for (const std::string& tag : instance->tags) {
            std::string lower = to_lower(tag);
            TagIndex& index = tags[lower];
            auto& positions = h == Health::passing ? index.passing : index.warning;
            // A tag given twice in different case must not list the instance twice.
            if (positions.empty() || positions.back() != position)
                positions.push_back(position);
        }
    }
    for (auto& [tag, index] : tags) {
        index.tag = tag;
        entry->tags.push_back(std::move(index));
    }
    std::size_t best = 0;
    for (std::size_t p = 1; p < policy_votes.size(); ++p)
        if (policy_votes[p] > policy_votes[best] || (best == 0 && policy_votes[p] > 0))
            best = p;
    entry->policy = static_cast<Policy>(best);
    return entry;
}

} // namespace cairn::registry
