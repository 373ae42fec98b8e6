#pragma once
// The clients that may have outside names resolved ([dns.forward].allow):
// CIDR prefixes, IPv4 and IPv6; an IPv4-mapped IPv6 client (::ffff:a.b.c.d)
// is matched as the IPv4 address it is. Pure; read by every DNS thread.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <sys/socket.h>

#include "core/result.hpp"

namespace cairn::dns::forward {

class AccessList {
public:
    // "10.0.0.0/8", "::1/128"; a bare address is a single host.
    [[nodiscard]] static Result<AccessList> parse(const std::vector<std::string>& prefixes);

    [[nodiscard]] bool allows(const sockaddr* client) const noexcept;
    [[nodiscard]] bool empty() const { return prefixes_.empty(); }

private:
    struct Prefix {
        std::uint8_t family = 4;
        std::uint8_t bits = 0;
        std::array<std::uint8_t, 16> bytes{};
    };
    std::vector<Prefix> prefixes_;
};

} // namespace cairn::dns::forward
