#pragma once
// Validators for the scalar values that appear in configuration and in the
// HTTP API: durations, DNS labels, IP addresses, CIDR prefixes, base64 keys.
// Pure functions; the messages name the value, never the key (callers add
// the key path and line).

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/result.hpp"

namespace cairn::config {

// "250ms", "5s", "1m", "1h", "1.5s", "1m30s", or "0". Negative, empty,
// unit-less (other than "0") and overflowing values are errors.
[[nodiscard]] Result<Duration> parse_duration(std::string_view text);
// The shortest form parse_duration reads back: "0", "250ms", "5s", "1m30s".
[[nodiscard]] std::string format_duration(Duration d);

// One DNS label as cairn uses them for node, datacenter and service names:
// 1-63 of [A-Za-z0-9-], not starting or ending with '-'.
[[nodiscard]] Result<void> check_label(std::string_view text);
// A domain: labels joined by '.', optional final dot, at most 253 characters.
// Returns it in lower case with the final dot.
[[nodiscard]] Result<std::string> normalize_domain(std::string_view text);

// A bare IPv4 or IPv6 address (no port, no brackets).
[[nodiscard]] Result<void> check_ip_address(std::string_view text);
// "10.0.0.0/8", "::1/128"; a bare address means a full-length prefix.
[[nodiscard]] Result<void> check_cidr(std::string_view text);
// Standard base64 (with padding) that decodes to exactly `bytes` bytes.
[[nodiscard]] Result<void> check_base64_key(std::string_view text, std::size_t bytes);

} // namespace cairn::config
