#pragma once
// Consul's agent API bodies -> cairn's registry records
// (docs/consul-compatibility.md). Pure functions. A Consul registration
// becomes the same registry::Instance a cairn registration does and passes
// the same rulebook (registry/validate.hpp); only the spelling differs.
//
// Keys are matched as Consul matches them: without regard to case, and with
// its snake_case aliases ("tls_skip_verify", "script_args",
// "deregister_critical_service_after"), so a key is read as its letters
// lower-cased with '_' dropped. The keys of maps the user names (Meta,
// Header, TaggedAddresses) are kept as sent. Durations are Go duration
// strings ("10s", "1m30s") or integers of nanoseconds. Errors name the
// field in Consul's spelling ("Check.Interval: ...", "Checks[1].HTTP: ...").

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.hpp"
#include "http/registration.hpp"
#include "registry/types.hpp"

namespace cairn::http {

// PUT /v1/agent/service/register: the instance, defaults filled in and
// validated. A check without an id gets Consul's: "service:<service id>",
// with ":<1-based position>" after it when the service has more than one.
[[nodiscard]] Result<registry::Instance>
decode_consul_registration(const nlohmann::json& body, const RegistrationDefaults& defaults);

// PUT /v1/agent/check/update/{id}: {"Status": "passing", "Output": "..."}.
struct ConsulCheckUpdate {
    registry::Health status = registry::Health::passing;
    std::string output;
};
[[nodiscard]] Result<ConsulCheckUpdate> decode_consul_check_update(const nlohmann::json& body);

// A rulebook message ("checks[0].interval: ...") with its field in
// Consul's spelling ("Check.Interval: ..."); `check_labels[i]` is the
// label of checks[i] ("Check", "Checks[0]"), "checks[i]" without one.
[[nodiscard]] std::string consul_message(std::string_view message,
                                         const std::vector<std::string>& check_labels);

// A key as Consul compares keys: lower case, without '_'.
[[nodiscard]] std::string consul_key(std::string_view key);

} // namespace cairn::http
