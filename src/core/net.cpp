#include "core/net.hpp"

#include "core/text.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>

namespace cairn {

socklen_t SocketAddress::size() const {
    return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

std::uint16_t SocketAddress::port() const {
    if (family() == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

std::string SocketAddress::host() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
                  sizeof buf);
    else
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf,
                  sizeof buf);
    return buf;
}

std::string SocketAddress::to_string() const {
    if (family() == AF_INET6) return fmt::format("[{}]:{}", host(), port());
    return fmt::format("{}:{}", host(), port());
}

SocketAddress SocketAddress::from(const IpAddress& ip, std::uint16_t port) {
    SocketAddress a;
    if (ip.family == 6) {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        std::memcpy(&v6->sin6_addr, ip.bytes.data(), 16);
    } else {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        std::memcpy(&v4->sin_addr, ip.bytes.data(), 4);
    }
    return a;
}

SocketAddress SocketAddress::from(const sockaddr* sa) {
    SocketAddress a;
    std::memcpy(&a.storage, sa,
                sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    return a;
}

Result<SocketAddress> parse_socket_address(std::string_view text,
                                           std::optional<std::uint16_t> default_port) {
    std::string_view host = text;
    std::optional<std::string_view> port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos)
            return fail("{} is not an address: missing ']'", quote(text));
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return fail("{} is not an address: expected ':' after ']'", quote(text));
            port_text = rest.substr(1);
        }
    } else if (auto colon = text.rfind(':');
               colon != std::string_view::npos && text.find(':') == colon) {
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
    }

    std::uint16_t port = 0;
    if (port_text) {
        unsigned value = 0;
        auto [end, ec] =
            std::from_chars(port_text->data(), port_text->data() + port_text->size(), value);
        if (ec != std::errc() || end != port_text->data() + port_text->size() ||
            port_text->empty() || value > 65535)
            return fail("{} is not an address: bad port {}", quote(text), quote(*port_text));
        port = static_cast<std::uint16_t>(value);
    } else if (default_port) {
        port = *default_port;
    } else {
        return fail("{} is not an address: expected host:port", quote(text));
    }

    auto ip = parse_ip_address(host);
    if (!ip) return fail("{} is not an address: {}", quote(text), ip.error().message);
    return SocketAddress::from(*ip, port);
}

} // namespace cairn
