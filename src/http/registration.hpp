#pragma once
// JSON registrations <-> registry::Instance (docs/http-api.md). Pure functions:
// the decoder validates everything before anything is written, and each
// error names the field ("checks[0].interval: \"5x\" is not a duration").
// Used by the HTTP API and by the agent's state file.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/result.hpp"
#include "registry/types.hpp"

namespace cairn::http {

// What a registration leaves out.
struct RegistrationDefaults {
    registry::Address address; // the agent's; family 0 = an address is required
};

// Parses a request body. Errors name the field; nothing is thrown.
[[nodiscard]] Result<registry::Instance> decode_registration(std::string_view body,
                                                             const RegistrationDefaults& defaults);
[[nodiscard]] Result<registry::Instance>
decode_registration_json(const nlohmann::json& j, const RegistrationDefaults& defaults);

// The instance as JSON: the registration fields (so the output can be sent
// back as a registration) plus node, version, health and each check's state.
// An unset policy or ttl is left out.
[[nodiscard]] nlohmann::json encode_instance(const registry::Instance& instance);

} // namespace cairn::http
