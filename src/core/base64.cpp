#include "core/base64.hpp"

#include <algorithm>

namespace cairn {

namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
    auto pos = alphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

} // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
        std::uint32_t v = static_cast<std::uint32_t>(bytes[i]) << 16;
        if (n > 1) v |= static_cast<std::uint32_t>(bytes[i + 1]) << 8;
        if (n > 2) v |= bytes[i + 2];
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(n > 1 ? alphabet[v >> 6 & 63] : '=');
        out.push_back(n > 2 ? alphabet[v & 63] : '=');
    }
    return out;
}

Result<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    std::string clean;
    for (char c : text)
        if (c != '\r' && c != '\n') clean.push_back(c);
    if (clean.size() % 4 != 0)
        return fail("base64: length {} is not a multiple of 4", clean.size());
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i < clean.size(); i += 4) {
        bool last = i + 4 == clean.size();
        std::size_t pad = 0;
        if (last) pad = clean[i + 3] == '=' ? (clean[i + 2] == '=' ? 2 : 1) : 0;
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            if (j >= 4 - pad) {
                v <<= 6;
                continue;
            }
            int s = sextet(clean[i + j]);
            if (s < 0) return fail("base64: invalid character at {}", i + j);
            v = v << 6 | static_cast<std::uint32_t>(s);
        }
        out.push_back(static_cast<std::uint8_t>(v >> 16));
        if (pad < 2) out.push_back(static_cast<std::uint8_t>(v >> 8));
        if (pad < 1) out.push_back(static_cast<std::uint8_t>(v));
    }
    return out;
}

} // namespace cairn
