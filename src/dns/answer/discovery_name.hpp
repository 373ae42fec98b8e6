#pragma once
// What a name under the discovery domain asks for (docs/discovery.md), read from
// the labels before the apex. Pure; the views point into the given name.
//
//   (nothing)                          apex        SOA, NS (the live agents' <node>.node)
//   ns                                 ns          the SOA's MNAME: this agent
//   <svc>.service                      service
//   <tag>.<svc>.service                service + tag
//   _<svc>._<tag>.service              service + tag (RFC 2782; _tcp/_udp = no tag)
//   _<svc>._<tag>                      the same, without "service"
//   <hex>.addr                         addr        8 hex digits = IPv4, 32 = IPv6
//   <node>.node                        node
//   anything else                      unknown     NXDOMAIN

#include <cstdint>
#include <string_view>

#include "dns/wire/wire.hpp"

namespace cairn::dns {

enum class DiscoveryKind : std::uint8_t { apex, ns, service, addr, node, unknown };

struct DiscoveryName {
    DiscoveryKind kind = DiscoveryKind::unknown;
    std::string_view service; // lower case, without '_'
    std::string_view tag;     // empty = no tag filter
    std::string_view label;   // the <hex> of addr, the <node> of node
};

// `relative` is the lower-case wire name of the labels before the apex,
// ending with the root label ("\3web\7service\0").
[[nodiscard]] DiscoveryName parse_discovery_name(WireName relative) noexcept;

// Decodes the label of an .addr. name: 8 hex digits into 4 bytes, 32 into
// 16. Returns the family (4 or 6), or 0 if the label is not such an address.
[[nodiscard]] std::uint8_t decode_addr_label(std::string_view label,
                                             std::uint8_t* bytes16) noexcept;

// Writes "<hex>.addr.<domain>" for an address (family 4 or 6) into `out`.
void encode_addr_name(std::uint8_t family, const std::uint8_t* bytes, WireName domain,
                      NameBuffer& out) noexcept;
// The same into a raw buffer of at least max_name_size bytes; returns the
// name's size (1, the root, if the domain leaves no room).
std::size_t encode_addr_name(std::uint8_t family, const std::uint8_t* bytes, WireName domain,
                             std::uint8_t* out) noexcept;

} // namespace cairn::dns
