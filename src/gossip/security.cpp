#include "gossip/security.hpp"

#include <memory>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace cairn::gossip {

namespace {

constexpr std::size_t version_size = 1;
constexpr std::size_t block_size = 16;

struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const EVP_CIPHER* gcm_for(std::size_t key_size) {
    switch (key_size) {
    case 16:
        return EVP_aes_128_gcm();
    case 24:
        return EVP_aes_192_gcm();
    case 32:
        return EVP_aes_256_gcm();
    default:
        return nullptr;
    }
}

bool fits_int(std::size_t n) {
    return n <= static_cast<std::size_t>(INT32_MAX);
}

// AES-GCM seal of src: ciphertext followed by the 16-byte tag, appended to out.
Result<void> gcm_seal(std::span<const std::uint8_t> key, const std::uint8_t* nonce,
                      std::span<const std::uint8_t> src, std::span<const std::uint8_t> aad,
                      Bytes& out) {
    const EVP_CIPHER* cipher = gcm_for(key.size());
    if (cipher == nullptr)
        return fail("gossip: key size must be 16, 24 or 32 bytes, not {}", key.size());
    if (!fits_int(src.size()) || !fits_int(aad.size()))
        return fail("gossip: {} bytes too many to seal", src.size());
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nonce) != 1)
        return fail("gossip: AES-GCM setup failed");
    if (!aad.empty() &&
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
        return fail("gossip: AES-GCM additional data failed");
    std::size_t at = out.size();
    out.resize(at + src.size() + gcm_tag_size);
    if (EVP_EncryptUpdate(ctx.get(), out.data() + at, &len, src.data(),
                          static_cast<int>(src.size())) != 1)
        return fail("gossip: AES-GCM encryption failed");
    int tail = 0;
    if (EVP_EncryptFinal_ex(ctx.get(), out.data() + at + len, &tail) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, gcm_tag_size,
                            out.data() + at + src.size()) != 1)
        return fail("gossip: AES-GCM tag failed");
    return {};
}

// AES-GCM open; nullopt-like failure when the key does not authenticate.
Result<Bytes> gcm_open(std::span<const std::uint8_t> key, const std::uint8_t* nonce,
                       std::span<const std::uint8_t> sealed, std::span<const std::uint8_t> aad) {
    const EVP_CIPHER* cipher = gcm_for(key.size());
    if (cipher == nullptr)
        return fail("gossip: key size must be 16, 24 or 32 bytes, not {}", key.size());
    if (sealed.size() < gcm_tag_size || !fits_int(sealed.size()) || !fits_int(aad.size()))
        return fail("gossip: sealed payload of {} bytes", sealed.size());
    std::size_t text_size = sealed.size() - gcm_tag_size;
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nonce) != 1)
        return fail("gossip: AES-GCM setup failed");
    if (!aad.empty() &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
        return fail("gossip: AES-GCM additional data failed");
    Bytes plain(text_size);
    if (EVP_DecryptUpdate(ctx.get(), plain.data(), &len, sealed.data(),
                          static_cast<int>(text_size)) != 1)
        return fail("gossip: AES-GCM decryption failed");
    // OpenSSL takes a non-const pointer for the expected tag.
    Bytes tag(sealed.end() - gcm_tag_size, sealed.end());
    int tail = 0;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, gcm_tag_size, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &tail) != 1)
        return fail("gossip: message authentication failed");
    return plain;
}

} // namespace

std::size_t encrypt_overhead(EncryptionVersion vsn) {
    return vsn == EncryptionVersion::padded ? 45 : 29;
}

std::size_t encrypted_length(EncryptionVersion vsn, std::size_t plain) {
    std::size_t padding = vsn == EncryptionVersion::padded ? block_size - plain % block_size : 0;
    return version_size + nonce_size + plain + padding + gcm_tag_size;
}

Result<Bytes> encrypt_payload(EncryptionVersion vsn, std::span<const std::uint8_t> key,
                              std::span<const std::uint8_t> msg, std::span<const std::uint8_t> aad,
                              const Nonce& nonce) {
    Bytes out;
    out.reserve(encrypted_length(vsn, msg.size()));
    out.push_back(static_cast<std::uint8_t>(vsn));
    out.insert(out.end(), nonce.begin(), nonce.end());
    if (vsn == EncryptionVersion::padded) {
        // pkcs7encode: 1 to 16 bytes, each the pad length.
        Bytes padded(msg.begin(), msg.end());
        std::size_t more = block_size - padded.size() % block_size;
        padded.insert(padded.end(), more, static_cast<std::uint8_t>(more));
        if (auto ok = gcm_seal(key, nonce.data(), padded, aad, out); !ok)
            return std::unexpected(ok.error());
    } else if (auto ok = gcm_seal(key, nonce.data(), msg, aad, out); !ok) {
        return std::unexpected(ok.error());
    }
    return out;
}

Result<Bytes> encrypt_payload(EncryptionVersion vsn, std::span<const std::uint8_t> key,
                              std::span<const std::uint8_t> msg,
                              std::span<const std::uint8_t> aad) {
    Nonce nonce{};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1)
        return fail("gossip: no random bytes for a nonce (RAND_bytes failed)");
    return encrypt_payload(vsn, key, msg, aad, nonce);
}

Result<Bytes> decrypt_payload(std::span<const Bytes> keys, std::span<const std::uint8_t> msg,
                              std::span<const std::uint8_t> aad) {
    if (msg.empty()) return fail("gossip: cannot decrypt an empty payload");
    if (msg[0] > static_cast<std::uint8_t>(EncryptionVersion::plain))
        return fail("gossip: unsupported encryption version {}", msg[0]);
    auto vsn = static_cast<EncryptionVersion>(msg[0]);
    if (msg.size() < encrypted_length(vsn, 0))
        return fail("gossip: payload too small to decrypt: {} bytes", msg.size());
    const std::uint8_t* nonce = msg.data() + version_size;
    auto sealed = msg.subspan(version_size + nonce_size);
    for (const auto& key : keys) {
        auto plain = gcm_open(key, nonce, sealed, aad);
        if (!plain) continue;
        if (vsn == EncryptionVersion::padded) {
            // pkcs7decode; memberlist does not check the pad bytes, only
            // (implicitly) that the length fits.
            std::size_t pad = plain->empty() ? 0 : plain->back();
            if (plain->empty() || pad > plain->size())
                return fail("gossip: bad padding in a version 0 payload");
            plain->resize(plain->size() - pad);
        }
        return plain;
    }
    return fail("gossip: no installed key could decrypt the message");
}

Result<Bytes> seal_packet(const Keyring& keyring, EncryptionVersion vsn,
                          std::span<const std::uint8_t> packet) {
    if (!keyring.enabled()) return fail("gossip: no key to encrypt with");
    return encrypt_payload(vsn, keyring.primary(), packet, {});
}

Result<Bytes> open_packet(const Keyring& keyring, std::span<const std::uint8_t> packet) {
    return decrypt_payload(keyring.keys(), packet, {});
}

Result<Bytes> seal_stream(const Keyring& keyring, EncryptionVersion vsn,
                          std::span<const std::uint8_t> plain, const Nonce* nonce) {
    if (!keyring.enabled()) return fail("gossip: no key to encrypt with");
    std::size_t sealed_size = encrypted_length(vsn, plain.size());
    if (sealed_size > max_push_state_bytes)
        return fail("gossip: stream of {} bytes exceeds {}", sealed_size, max_push_state_bytes);
    Bytes header = {static_cast<std::uint8_t>(MessageType::encrypt)};
    for (int shift = 24; shift >= 0; shift -= 8)
        header.push_back(static_cast<std::uint8_t>(sealed_size >> shift));
    auto sealed = nonce ? encrypt_payload(vsn, keyring.primary(), plain, header, *nonce)
                        : encrypt_payload(vsn, keyring.primary(), plain, header);
    if (!sealed) return std::unexpected(sealed.error());
    header.insert(header.end(), sealed->begin(), sealed->end());
    return header;
}

} // namespace cairn::gossip
