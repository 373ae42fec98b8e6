#pragma once
// Socket addresses as they appear in config and on the command line:
// "127.0.0.1:8600", "[::1]:8600", or a bare IP when a default port is given.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sys/socket.h>

#include "core/ip_address.hpp"
#include "core/result.hpp"

namespace cairn {

struct SocketAddress {
    sockaddr_storage storage{};

    [[nodiscard]] int family() const { return storage.ss_family; }
    [[nodiscard]] const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
    [[nodiscard]] socklen_t size() const;
    [[nodiscard]] std::uint16_t port() const;
    // "127.0.0.1:8600" or "[::1]:8600".
    [[nodiscard]] std::string to_string() const;
    // The address alone, without port or brackets.
    [[nodiscard]] std::string host() const;

    static SocketAddress from(const sockaddr* sa);
    // An IPv4 or IPv6 address (family 6, else 4) and a port.
    static SocketAddress from(const IpAddress& ip, std::uint16_t port);

    // Same family, address and port (the storage's padding is not compared).
    friend bool operator==(const SocketAddress& a, const SocketAddress& b) {
        return a.to_string() == b.to_string();
    }
};

// Parses "host:port" / "[v6]:port". With a default port, a bare address is
// accepted too. Host names are not resolved: addresses only.
[[nodiscard]] Result<SocketAddress>
parse_socket_address(std::string_view text, std::optional<std::uint16_t> default_port = {});

} // namespace cairn
