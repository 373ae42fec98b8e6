#pragma once
// Builds one ServiceEntry from the instances of a service (internal to the
// registry): who may be served, split by health, the tag index and the policy.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "registry/snapshot.hpp"

namespace cairn::registry {

// `members` are all instances of the service, sorted by (node, id);
// `node_alive` says whether an owning agent is alive; `previous` (may be
// null) is the entry being replaced, whose round-robin counter carries over.
[[nodiscard]] std::shared_ptr<const ServiceEntry> build_service_entry(
    const std::string& lower_name, const std::vector<std::shared_ptr<const Instance>>& members,
    const std::function<bool(const std::string&)>& node_alive, const ServiceEntry* previous);

} // namespace cairn::registry
