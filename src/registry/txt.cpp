#include "registry/txt.hpp"

#include <algorithm>
#include <cstring>

namespace cairn::registry {

std::size_t write_txt_rdata(const Metadata& meta, std::span<std::uint8_t> out) noexcept {
    constexpr std::size_t max_rdata = 65535;
    std::size_t at = 0;
    for (const auto& [key, value] : meta) {
        std::size_t len = std::min<std::size_t>(key.size() + 1 + value.size(), 255);
        if (at + 1 + len > out.size() || at + 1 + len > max_rdata) break;
        out[at] = static_cast<std::uint8_t>(len);
        std::size_t key_len = std::min(key.size(), len);
        std::memcpy(out.data() + at + 1, key.data(), key_len);
        if (key_len < len) {
            out[at + 1 + key_len] = '=';
            std::memcpy(out.data() + at + 2 + key_len, value.data(), len - key_len - 1);
        }
        at += 1 + len;
    }
    return at;
}

std::vector<std::uint8_t> txt_rdata(const Metadata& meta) {
    std::size_t size = 0;
    for (const auto& [key, value] : meta)
        size += 1 + std::min<std::size_t>(key.size() + 1 + value.size(), 255);
    std::vector<std::uint8_t> out(std::min<std::size_t>(size, 65535));
    out.resize(write_txt_rdata(meta, out));
    return out;
}

} // namespace cairn::registry
