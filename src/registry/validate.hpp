#pragma once
// The rulebook: what a valid instance and a valid check are, said once.
// Config ([[service]] tables) and the HTTP API (JSON registrations) both
// build a registry::Instance, call fill_defaults() and validate(), and so
// give the same verdict and the same message for the same value. Every
// message starts with the field's path in the spelling both sources share
// ("port: 70000 is out of range (1 to 65535)", "checks[0].interval: ...");
// the HTTP API returns it as is, config puts file:line and "service[N]."
// before it. Values are quoted with core's quote(), so a message is
// printable ASCII whatever bytes the input held.
//
// The *_value functions check a number before it is narrowed into the
// struct (a port of 70000 does not fit its uint16), and check_kind() reads a
// check's kind from which of its keys are present: both are for the
// decoders, which call them with the same words.

#include <cstdint>
#include <functional>
#include <string_view>

#include "core/result.hpp"
#include "registry/types.hpp"

namespace cairn::registry {

inline constexpr std::size_t max_id_bytes = 128;
inline constexpr std::size_t max_tags = 64;
inline constexpr std::size_t max_meta = 64;
inline constexpr std::size_t max_checks = 32;
inline constexpr std::size_t max_args = 64;
inline constexpr std::size_t max_headers = 32;
inline constexpr std::int64_t max_counter = 100;

// One DNS label: 1-63 of [A-Za-z0-9-], not starting or ending with '-'
// (RFC 1035 §2.3.1, a digit first allowed per RFC 1123). For service names,
// tags, and config's node and datacenter names. The message names no field.
[[nodiscard]] Result<void> check_label(std::string_view text);

[[nodiscard]] Result<std::uint16_t> port_value(std::int64_t port);
[[nodiscard]] Result<std::uint32_t> weight_value(std::int64_t weight);
// success_before_passing, failures_before_warning, failures_before_critical:
// 1 to max_counter. `path` is the field's ("checks[0].failures_before_warning").
[[nodiscard]] Result<std::uint32_t> counter_value(std::string_view path, std::int64_t count);

// The keys of a check in both sources; exactly one of the first four says
// its kind.
inline constexpr std::string_view check_kind_keys[] = {"http", "tcp", "args", "ttl"};
// The kind of the check at `path` ("checks[0]") from the keys it has, and
// the keys that its kind does not use (method, headers and tls_skip_verify
// are for http checks; interval is not for ttl checks) refused.
[[nodiscard]] Result<CheckKind> check_kind(std::string_view path,
                                           const std::function<bool(std::string_view key)>& has);

// What leaving a field out means: the id is the service name, a check's id
// "<instance id>:<1-based position>", a ttl check has no interval.
void fill_defaults(Instance& instance);

// Every rule about one instance and its checks (after fill_defaults()).
// `node`, `version` and check states other than maintenance are not looked
// at (the registry sets them); an address of family 0 stands for the
// agent's own, which the agent fills in before registering.
[[nodiscard]] Result<void> validate(const Instance& instance);

} // namespace cairn::registry
