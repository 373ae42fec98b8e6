#include "gossip/keyring.hpp"

#include "core/base64.hpp"

#include <algorithm>

#include <openssl/rand.h>

namespace cairn::gossip {

namespace {

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return std::ranges::equal(a, b);
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
