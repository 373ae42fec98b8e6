#include "dns/forward/access.hpp"

#include <charconv>
#include <cstring>
#include <string_view>

#include <netinet/in.h>

#include "core/ip_address.hpp"

namespace cairn::dns::forward {

namespace {

bool matches(const std::uint8_t* address, const std::uint8_t* prefix, unsigned bits) {
    unsigned whole = bits / 8;
    if (std::memcmp(address, prefix, whole) != 0) return false;
    unsigned rest = bits % 8;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (address[whole] & mask) == (prefix[whole] & mask);
}

} // namespace

Result<AccessList> AccessList::parse(const std::vector<std::string>& prefixes) {
    AccessList list;
    for (const std::string& text : prefixes) {
        std::string_view t = text;
        auto slash = t.find('/');
        auto ip = parse_ip_address(t.substr(0, slash));
        if (!ip) return fail("allow: {}", ip.error().message);
        Prefix p;
        p.family = ip->family;
        p.bytes = ip->bytes;
        unsigned max_bits = p.family == 4 ? 32 : 128;
        unsigned bits = max_bits;
        if (slash != std::string_view::npos) {
            auto b = t.substr(slash + 1);
            auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
            if (b.empty() || ec != std::errc() || end != b.data() + b.size() || bits > max_bits)
                return fail("allow: '{}' is not a CIDR prefix", text);
        }
        p.bits = static_cast<std::uint8_t>(bits);
        list.prefixes_.push_back(p);
    }
    return list;
}

bool AccessList::allows(const sockaddr* client) const noexcept {
    if (client == nullptr) return false;
    const std::uint8_t* v4 = nullptr;
    const std::uint8_t* v6 = nullptr;
    if (client->sa_family == AF_INET) {
        v4 = reinterpret_cast<const std::uint8_t*>(
            &reinterpret_cast<const sockaddr_in*>(client)->sin_addr);
    } else if (client->sa_family == AF_INET6) {
        const auto* a = &reinterpret_cast<const sockaddr_in6*>(client)->sin6_addr;
        v6 = reinterpret_cast<const std::uint8_t*>(a);
        if (IN6_IS_ADDR_V4MAPPED(a)) v4 = v6 + 12;
    }
    for (const Prefix& p : prefixes_) {
        if (p.family == 4 && v4 != nullptr && matches(v4, p.bytes.data(), p.bits)) return true;
        if (p.family == 6 && v6 != nullptr && matches(v6, p.bytes.data(), p.bits)) return true;
    }
    return false;
}

} // namespace cairn::dns::forward
