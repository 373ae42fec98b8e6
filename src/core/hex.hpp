#pragma once
// Hexadecimal text: one digit's value, for the parsers that decode hex text
// (percent-encoding in the HTTP API, hex-encoded addresses in DNS names), and
// bytes written as lower-case hex (DNS address names, logs, state dumps).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cairn {

// The lower-case digit of each value 0 to 15.
inline constexpr char hex_digits[] = "0123456789abcdef";

// 0 to 15, or -1 if `c` is not a hex digit (either case).
[[nodiscard]] constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// `bytes` as lower-case hex, two digits a byte.
[[nodiscard]] inline std::string to_hex(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        out += hex_digits[b >> 4];
        out += hex_digits[b & 15];
    }
    return out;
}

[[nodiscard]] inline std::string to_hex(std::string_view bytes) {
    return to_hex(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

} // namespace cairn
