#pragma once
// The one parser of IP address literals (no port, no brackets, no names),
// for config, the HTTP API, health-check targets and the agent itself.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace cairn {

struct IpAddress {
    std::uint8_t family = 0; // 4 or 6; 0 = unset
    std::array<std::uint8_t, 16> bytes{};

    friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// "10.0.0.1", "::1", "fe80::1". Errors quote the text, escaped.
[[nodiscard]] Result<IpAddress> parse_ip_address(std::string_view text);
// "10.0.0.1", "::1"; "" for an unset address.
[[nodiscard]] std::string to_string(const IpAddress& address);

} // namespace cairn
