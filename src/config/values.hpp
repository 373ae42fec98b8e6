#pragma once
// Validators for the scalar values that appear only in configuration: DNS
// labels and domains, CIDR prefixes, base64 keys. (Durations and addresses
// are core's: core/duration.hpp, core/ip_address.hpp.)
// Pure functions; the messages name the value, never the key (callers add
// the key path and line).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/result.hpp"

namespace cairn::config {

// A domain: labels joined by '.', optional final dot, at most 253 characters.
// Returns it in lower case with the final dot.
[[nodiscard]] Result<std::string> normalize_domain(std::string_view text);

// A bare IPv4 or IPv6 address (no port, no brackets).
[[nodiscard]] Result<void> check_ip_address(std::string_view text);
// "10.0.0.0/8", "::1/128"; a bare address means a full-length prefix.
[[nodiscard]] Result<void> check_cidr(std::string_view text);
// Standard base64 (with padding) that decodes to exactly `bytes` bytes.
[[nodiscard]] Result<void> check_base64_key(std::string_view text,
                                            std::span<const std::size_t> sizes);

} // namespace cairn::config
