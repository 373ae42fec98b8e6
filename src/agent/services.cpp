#include "agent/services.hpp"

#include <algorithm>
#include <set>

namespace cairn::agent {

registry::Instance to_instance(const registry::Instance& service, std::string_view node,
                               const registry::Address& default_address) {
    registry::Instance i = service;
    i.node = std::string(node);
    if (i.address.family == 0) i.address = default_address;
    return i;
}

SyncPlan plan_sync(const std::vector<std::string>& registered_ids,
                   std::vector<registry::Instance> wanted) {
    SyncPlan plan;
    std::set<std::string, std::less<>> keep;
    for (const registry::Instance& i : wanted) keep.insert(i.id);
    for (const std::string& id : registered_ids)
        if (!keep.contains(id)) plan.removals.push_back(id);
    plan.upserts = std::move(wanted);
    return plan;
}

} // namespace cairn::agent
