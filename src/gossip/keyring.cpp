#include "gossip/keyring.hpp"

#include <algorithm>

#include <openssl/rand.h>

namespace cairn::gossip {

namespace {

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return std::ranges::equal(a, b);
}

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
    auto pos = alphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

} // namespace

Result<void> validate_key(std::span<const std::uint8_t> key) {
    if (key.size() != 16 && key.size() != 24 && key.size() != 32)
        return fail("key size must be 16, 24 or 32 bytes, not {}", key.size());
    return {};
}

Result<Keyring> Keyring::create(std::span<const Bytes> keys,
                                std::span<const std::uint8_t> primary) {
    Keyring ring;
    if (keys.empty() && primary.empty()) return ring;
    if (primary.empty()) return fail("empty primary key not allowed");
    if (auto ok = ring.add_key(primary); !ok) return std::unexpected(ok.error());
    for (const auto& key : keys)
        if (auto ok = ring.add_key(key); !ok) return std::unexpected(ok.error());
    return ring;
}

Result<void> Keyring::add_key(std::span<const std::uint8_t> key) {
    if (auto ok = validate_key(key); !ok) return ok;
    if (std::ranges::any_of(keys_, [&](const Bytes& k) { return same(k, key); })) return {};
    keys_.emplace_back(key.begin(), key.end());
    return {};
}

Result<void> Keyring::use_key(std::span<const std::uint8_t> key) {
    auto it = std::ranges::find_if(keys_, [&](const Bytes& k) { return same(k, key); });
    if (it == keys_.end()) return fail("requested key is not in the keyring");
    std::rotate(keys_.begin(), it, it + 1);
    return {};
}

Result<void> Keyring::remove_key(std::span<const std::uint8_t> key) {
    if (!keys_.empty() && same(keys_.front(), key))
        return fail("removing the primary key is not allowed");
    std::erase_if(keys_, [&](const Bytes& k) { return same(k, key); });
    return {};
}

std::span<const std::uint8_t> Keyring::primary() const {
    if (keys_.empty()) return {};
    return keys_.front();
}

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

Result<Bytes> base64_decode(std::string_view text) {
    std::string clean;
    for (char c : text)
        if (c != '\r' && c != '\n') clean.push_back(c);
    if (clean.size() % 4 != 0)
        return fail("base64: length {} is not a multiple of 4", clean.size());
    Bytes out;
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

Result<Bytes> parse_key(std::string_view base64) {
    auto key = base64_decode(base64);
    if (!key) return fail("key is not valid base64: {}", key.error().message);
    if (auto ok = validate_key(*key); !ok) return std::unexpected(ok.error());
    return key;
}

std::string format_key(std::span<const std::uint8_t> key) {
    return base64_encode(key);
}

Result<Bytes> generate_key(std::size_t size) {
    Bytes key(size);
    if (auto ok = validate_key(key); !ok) return std::unexpected(ok.error());
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
        return fail("no random bytes for a key (RAND_bytes failed)");
    return key;
}

} // namespace cairn::gossip
