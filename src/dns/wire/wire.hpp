#pragma once
// DNS wire-format basics shared by the parser, the writer, the zones and the
// discovery answers: type and rcode numbers, and domain names.
//
// A "wire name" here is always an uncompressed name in wire form: length-
// prefixed labels ending with the root label (a 0 byte), at most 255 bytes,
// e.g. "\3web\7service\5cairn\0". Functions that say "lower" expect or
// produce ASCII lower case; matching is always case-insensitive (RFC 4343).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace cairn::dns {

using WireName = std::span<const std::uint8_t>;

inline constexpr std::size_t max_name_size = 255;
inline constexpr std::size_t max_label_size = 63;
inline constexpr std::size_t header_size = 12;
inline constexpr std::size_t max_udp_plain = 512; // without EDNS (RFC 1035)
inline constexpr std::size_t max_message = 65535; // TCP

// RR types (IANA). Only those we treat specially are named.
namespace rrtype {
inline constexpr std::uint16_t a = 1, ns = 2, cname = 5, soa = 6, ptr = 12, hinfo = 13, mx = 15,
                               txt = 16, aaaa = 28, srv = 33, naptr = 35, dname = 39, opt = 41,
                               ds = 43, ixfr = 251, axfr = 252, any = 255, caa = 257;
}
namespace rrclass {
inline constexpr std::uint16_t in = 1, ch = 3, any = 255;
}
// RCODEs; values above 15 are extended (the upper 8 bits go in the OPT TTL).
namespace rcode {
inline constexpr std::uint16_t noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4,
                               refused = 5, badvers = 16;
}
namespace opcode {
inline constexpr std::uint8_t query = 0, notify = 4;
}
// Header flag bits (the second 16-bit word of the header, RFC 1035 §4.1.1,
// RFC 4035 §3.2 for AD and CD).
namespace flag {
inline constexpr std::uint16_t qr = 0x8000, aa = 0x0400, tc = 0x0200, rd = 0x0100, ra = 0x0080,
                               z = 0x0040, ad = 0x0020, cd = 0x0010, rcode_bits = 0x000f;
}

// A wire name in a fixed buffer: no heap.
struct NameBuffer {
    std::array<std::uint8_t, max_name_size> bytes{};
    std::uint8_t size = 0;   // bytes used, including the root label
    std::uint8_t labels = 0; // not counting the root

    [[nodiscard]] WireName name() const { return {bytes.data(), size}; }
};

[[nodiscard]] constexpr std::uint8_t ascii_lower(std::uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

// Equal as DNS names (both uncompressed wire names), ignoring ASCII case.
[[nodiscard]] bool names_equal(WireName a, WireName b) noexcept;

// Number of labels (not counting the root); the name must be well formed.
[[nodiscard]] unsigned count_labels(WireName name) noexcept;

// The name with its first `n` labels removed (the n-th ancestor).
[[nodiscard]] WireName strip_labels(WireName name, unsigned n) noexcept;

// True if `name` equals `ancestor` or lies below it (case-insensitive).
[[nodiscard]] bool is_subdomain(WireName name, WireName ancestor) noexcept;

// Presentation form ("www.example.") to a wire name, lower-cased when
// `lower`. Accepts a missing final dot; "." and "" are the root. Handles the
// \DDD and \X escapes of RFC 1035 §5.1.
[[nodiscard]] Result<NameBuffer> name_from_text(std::string_view text, bool lower = true);

// Wire name to presentation form with the final dot ("." for the root).
[[nodiscard]] std::string name_to_text(WireName name);

// Big-endian helpers for building RDATA and headers.
inline void put_u16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void put_u32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}
[[nodiscard]] inline std::uint16_t get_u16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
[[nodiscard]] inline std::uint32_t get_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

} // namespace cairn::dns
