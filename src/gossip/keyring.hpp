#pragma once
// memberlist's Keyring (keyring.go): the keys a node decrypts with, the
// first of them (the primary) the one it encrypts with. Installing a key
// adds it for decryption; using it makes it primary; the primary cannot be
// removed. Rotating a cluster's key is: install the new key everywhere, use
// it everywhere, remove the old one.
//
// Keys are 16, 24 or 32 bytes (AES-128/192/256), written in base64 as
// `consul keygen` and `serf keygen` print them.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "gossip/messages.hpp"

namespace cairn::gossip {

// 16, 24 or 32 bytes (ValidateKey).
Result<void> validate_key(std::span<const std::uint8_t> key);

class Keyring {
public:
    // An empty keyring: encryption off.
    Keyring() = default;
    // NewKeyring: primary first, then the other keys (duplicates dropped).
    static Result<Keyring> create(std::span<const Bytes> keys,
                                  std::span<const std::uint8_t> primary);

    // AddKey: installs a key for decryption; the first key becomes primary.
    // Installing a key that is already there does nothing.
    Result<void> add_key(std::span<const std::uint8_t> key);
    // UseKey: makes an installed key the primary.
    Result<void> use_key(std::span<const std::uint8_t> key);
    // RemoveKey: drops an installed key; the primary cannot be removed.
    // Removing a key that is not installed does nothing.
    Result<void> remove_key(std::span<const std::uint8_t> key);

    // Primary first.
    const std::vector<Bytes>& keys() const { return keys_; }
    // Empty when the keyring is.
    std::span<const std::uint8_t> primary() const;
    bool enabled() const { return !keys_.empty(); }

private:
    std::vector<Bytes> keys_;
};

// Standard base64 with padding (what Go's base64.StdEncoding accepts), of a
// valid key.
Result<Bytes> parse_key(std::string_view base64);
std::string format_key(std::span<const std::uint8_t> key);
// A new random key of 32 bytes (what `cairn keygen` prints, in base64).
Result<Bytes> generate_key(std::size_t size = 32);

} // namespace cairn::gossip
