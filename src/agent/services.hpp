#pragma once
// From configuration to registry records: config-defined [[service]]s become
// registry::Instances, and a reload turns the old and new lists into the
// writes that make the registry match. Pure; the agent does the writes.

#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"
#include "http/registration.hpp"
#include "registry/types.hpp"

namespace cairn::agent {


[[nodiscard]] registry::Policy to_registry_policy(config::Policy policy);
[[nodiscard]] registry::CheckDefinition to_check_definition(const config::CheckConfig& check);

// A validated ServiceConfig (config::validate_service ran) as an instance
// owned by `node`; services without an address get `default_address`.
[[nodiscard]] Result<registry::Instance> to_instance(const config::ServiceConfig& service, std::string_view node,
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
