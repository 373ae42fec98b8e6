#include "dns/forward/resolv_conf.hpp"

#include <cstring>

#include <netinet/in.h>

namespace cairn::dns::forward {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

bool is_wildcard(const SocketAddress& a) {
    if (a.family() == AF_INET)
        return reinterpret_cast<const sockaddr_in*>(a.sa())->sin_addr.s_addr == htonl(INADDR_ANY);
    if (a.family() == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(a.sa())->sin6_addr);
    return false;
}

bool is_loopback(const SocketAddress& a) {
    if (a.family() == AF_INET)
        return (ntohl(reinterpret_cast<const sockaddr_in*>(a.sa())->sin_addr.s_addr) >> 24) == 127;
    if (a.family() == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(a.sa())->sin6_addr);
    return false;
}

} // namespace

std::vector<SocketAddress> resolv_conf_nameservers(std::string_view text) {
    std::vector<SocketAddress> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        line = trim(line);
        constexpr std::string_view keyword = "nameserver";
        if (line.substr(0, keyword.size()) != keyword) continue;
        std::string_view rest = line.substr(keyword.size());
        if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) continue;
        rest = trim(rest);
        rest = rest.substr(0, rest.find_first_of(" \t#;"));
        // glibc accepts a zone index (fe80::1%eth0); cairn forwards on loopback
        // and global addresses only.
        auto ip = parse_ip_address(rest);
        if (ip) out.push_back(SocketAddress::from(*ip, 53));
    }
    return out;
}

bool is_own_address(const SocketAddress& upstream, const std::vector<SocketAddress>& listen) {
    for (const SocketAddress& l : listen) {
        if (l.family() != upstream.family() || l.port() != upstream.port()) continue;
        if (l.host() == upstream.host()) return true;
        if (is_wildcard(l) && is_loopback(upstream)) return true;
    }
    return false;
}

} // namespace cairn::dns::forward
