#pragma once
// From configuration to registry records: config-defined [[service]]s become
// registry::Instances, and a reload turns the old and new lists into the
// writes that make the registry match. Pure; the agent does the writes.

#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"
#include "registry/types.hpp"

namespace cairn::agent {

// A config-defined instance (validated when the config was loaded) as
// owned by `node`; one without an address gets `default_address`.
[[nodiscard]] registry::Instance to_instance(const registry::Instance& service,
                                             std::string_view node,
                                             const registry::Address& default_address);

// What a reload must do so that the config-defined instances are exactly
// `wanted`: upsert each of them (the registry keeps an identical one as it
// is) and deregister the ids registered from config before that are gone.
struct SyncPlan {
    std::vector<registry::Instance> upserts;
    std::vector<std::string> removals;
};
[[nodiscard]] SyncPlan plan_sync(const std::vector<std::string>& registered_ids,
                                 std::vector<registry::Instance> wanted);

} // namespace cairn::agent
