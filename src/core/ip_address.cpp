#include "core/ip_address.hpp"

#include <arpa/inet.h>

#include "core/text.hpp"

namespace cairn {

Result<IpAddress> parse_ip_address(std::string_view text) {
    // inet_pton reads a C string: a NUL inside would cut "10.0.0.1\0junk"
    // short and accept it. The longest literal is 45 characters.
    if (text.size() > INET6_ADDRSTRLEN || has_nul(text))
        return fail("{} is not an IPv4 or IPv6 address", quote(text));
    std::string z(text);
    IpAddress a;
    if (inet_pton(AF_INET, z.c_str(), a.bytes.data()) == 1) {
        a.family = 4;
        return a;
    }
    if (inet_pton(AF_INET6, z.c_str(), a.bytes.data()) == 1) {
        a.family = 6;
        return a;
    }
    return fail("{} is not an IPv4 or IPv6 address", quote(text));
}

std::string to_string(const IpAddress& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.family == 4)
        inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf);
    else if (a.family == 6)
        inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
    return buf;
}

} // namespace cairn
