#include "dns/answer/discovery_name.hpp"

#include <array>
#include <cstring>

#include "core/hex.hpp"

namespace cairn::dns {

namespace {

constexpr std::size_t max_labels = 4; // the longest form has 3 labels

bool underscored(std::string_view label) {
    return label.size() > 1 && label.front() == '_';
}

// "_<svc>._<tag>": _tcp and _udp mean "any tag" (RFC 2782's protocol label).
DiscoveryName rfc2782(std::string_view service, std::string_view tag) {
    DiscoveryName out;
    out.kind = DiscoveryKind::service;
    out.service = service.substr(1);
    tag.remove_prefix(1);
    out.tag = (tag == "tcp" || tag == "udp") ? std::string_view{} : tag;
    return out;
}

} // namespace

DiscoveryName parse_discovery_name(WireName relative) noexcept {
    std::array<std::string_view, max_labels> labels;
    std::size_t n = 0;
    std::size_t at = 0;
    while (at < relative.size() && relative[at] != 0) {
        std::size_t len = relative[at];
        if (n == max_labels || at + 1 + len > relative.size()) return {};
        labels[n++] = {reinterpret_cast<const char*>(relative.data() + at + 1), len};
        at += 1 + len;
    }

    DiscoveryName out;
    if (n == 0) {
        out.kind = DiscoveryKind::apex;
        return out;
    }
    if (n == 1) {
        if (labels[0] == "ns") out.kind = DiscoveryKind::ns;
        return out;
    }
    std::string_view last = labels[n - 1];
    if (n == 2 && last == "addr") {
        out.kind = DiscoveryKind::addr;
        out.label = labels[0];
        return out;
    }
    if (n == 2 && last == "node") {
        out.kind = DiscoveryKind::node;
        out.label = labels[0];
        return out;
    }
    if (n == 2 && underscored(labels[0]) && underscored(labels[1]))
        return rfc2782(labels[0], labels[1]);
    if (last != "service") return out;
    if (n == 2 && !underscored(labels[0])) {
        out.kind = DiscoveryKind::service;
        out.service = labels[0];
        return out;
    }
    if (n == 3) {
        if (underscored(labels[0]) && underscored(labels[1])) return rfc2782(labels[0], labels[1]);
        if (!underscored(labels[0]) && !underscored(labels[1])) {
            out.kind = DiscoveryKind::service;
            out.tag = labels[0];
            out.service = labels[1];
        }
    }
    return out;
}

std::uint8_t decode_addr_label(std::string_view label, std::uint8_t* bytes16) noexcept {
    if (label.size() != 8 && label.size() != 32) return 0;
    for (std::size_t i = 0; i < label.size(); i += 2) {
        int hi = hex_value(label[i]), lo = hex_value(label[i + 1]);
        if (hi < 0 || lo < 0) return 0;
        bytes16[i / 2] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return label.size() == 8 ? 4 : 6;
}

std::size_t encode_addr_name(std::uint8_t family, const std::uint8_t* bytes, WireName domain,
                             std::uint8_t* out) noexcept {
    std::size_t count = family == 4 ? 4 : 16;
    std::size_t at = 0;
    out[at++] = static_cast<std::uint8_t>(count * 2);
    for (std::size_t i = 0; i < count; ++i) {
        out[at++] = static_cast<std::uint8_t>(hex_digits[bytes[i] >> 4]);
        out[at++] = static_cast<std::uint8_t>(hex_digits[bytes[i] & 15]);
    }
    out[at++] = 4;
    std::memcpy(out + at, "addr", 4);
    at += 4;
    // The prefix takes at most 38 bytes; a domain too long to leave room for
    // it cannot be configured, but stay in bounds anyway.
    if (domain.size() > max_name_size - at) {
        out[0] = 0;
        return 1;
    }
    std::memcpy(out + at, domain.data(), domain.size());
    return at + domain.size();
}

void encode_addr_name(std::uint8_t family, const std::uint8_t* bytes, WireName domain,
                      NameBuffer& out) noexcept {
    out.size = static_cast<std::uint8_t>(encode_addr_name(family, bytes, domain, out.bytes.data()));
    out.labels = out.size == 1 ? 0 : static_cast<std::uint8_t>(2 + count_labels(domain));
}

} // namespace cairn::dns
