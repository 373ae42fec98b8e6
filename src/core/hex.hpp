#pragma once
// One hexadecimal digit's value, for the parsers that decode hex text
// (percent-encoding in the HTTP API, hex-encoded addresses in DNS names).

namespace cairn {

// 0 to 15, or -1 if `c` is not a hex digit (either case).
[[nodiscard]] constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace cairn
