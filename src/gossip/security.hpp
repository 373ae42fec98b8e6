#pragma once
// AES-GCM sealing exactly as memberlist 0.2.2's security.go does it:
//
//   [version][nonce, 12][ciphertext][tag, 16]
//
// version 0: the plaintext is PKCS7-padded to 16 bytes first (memberlist
// protocol version 1 peers); version 1: no padding (everyone else). The key
// size (16, 24 or 32 bytes) selects AES-128, -192 or -256. Packets are sealed
// with no additional data; a stream is framed as [10 encrypt][u32 BE length]
// and those five bytes are the additional data (0.2.2 has no labels).
// Decryption tries every key of the keyring, primary first.

#include <array>
#include <cstddef>
#include <span>

#include "core/result.hpp"
#include "gossip/keyring.hpp"
#include "gossip/messages.hpp"

namespace cairn::gossip {

enum class EncryptionVersion : std::uint8_t {
    padded = 0, // PKCS7-padded, for peers speaking protocol version 1
    plain = 1,
};

inline constexpr std::size_t nonce_size = 12;
inline constexpr std::size_t gcm_tag_size = 16;
// Header of an encrypted stream: type byte 10 and the sealed length.
inline constexpr std::size_t stream_encrypt_header = 5;
// The most an encrypted stream may announce (memberlist's maxPushStateBytes).
inline constexpr std::size_t max_push_state_bytes = 20 * 1024 * 1024;

using Nonce = std::array<std::uint8_t, nonce_size>;

// memberlist's rule: protocol version 1 seals with version 0, others with 1.
constexpr EncryptionVersion encryption_version(std::uint8_t protocol_version) {
    return protocol_version == 1 ? EncryptionVersion::padded : EncryptionVersion::plain;
}

// Worst-case bytes sealing adds (encryptOverhead): 45 or 29.
std::size_t encrypt_overhead(EncryptionVersion vsn);
// Sealed size of a plaintext (encryptedLength).
std::size_t encrypted_length(EncryptionVersion vsn, std::size_t plain);

// Seals msg under key with the given nonce; aad may be empty. The nonce must
// never repeat under one key: use the overload below outside tests.
Result<Bytes> encrypt_payload(EncryptionVersion vsn, std::span<const std::uint8_t> key,
                              std::span<const std::uint8_t> msg, std::span<const std::uint8_t> aad,
                              const Nonce& nonce);
// The same with a fresh random nonce (OpenSSL's RAND_bytes).
Result<Bytes> encrypt_payload(EncryptionVersion vsn, std::span<const std::uint8_t> key,
                              std::span<const std::uint8_t> msg, std::span<const std::uint8_t> aad);

// Opens a sealed payload with the first key that authenticates it
// (decryptPayload); padding of version 0 is removed.
Result<Bytes> decrypt_payload(std::span<const Bytes> keys, std::span<const std::uint8_t> msg,
                              std::span<const std::uint8_t> aad);

// A packet sealed with the keyring's primary key.
Result<Bytes> seal_packet(const Keyring& keyring, EncryptionVersion vsn,
                          std::span<const std::uint8_t> packet);
Result<Bytes> open_packet(const Keyring& keyring, std::span<const std::uint8_t> packet);

// A whole stream message ([type]...) sealed as memberlist's encryptLocalState:
// [10][u32 BE sealed length][sealed, additional data = the first 5 bytes].
Result<Bytes> seal_stream(const Keyring& keyring, EncryptionVersion vsn,
                          std::span<const std::uint8_t> plain, const Nonce* nonce = nullptr);

} // namespace cairn::gossip
