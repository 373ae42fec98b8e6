// Keyring and AES-GCM sealing: memberlist's sealed packets open in cairn, and
// cairn's sealed packets (fixed nonce, stored as goldens/cairn_*.bin) are the
// ones the Go check (tests/gossip/peer, `check`) opens with memberlist.
//
// CAIRN_WRITE_GOLDENS=DIR rewrites the cairn_*.bin files into DIR.

#include <doctest/doctest.h>

#include "core/base64.hpp"
#include "golden.hpp"
#include "gossip/keyring.hpp"
#include "gossip/packet.hpp"
#include "gossip/security.hpp"
#include "gossip/stream.hpp"

using namespace cairn::gossip;
using golden::cairn_golden;
using golden::read;
using golden::text;

namespace {

const Nonce fixed_nonce = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

Keyring ring(std::vector<Bytes> keys, const Bytes& primary) {
    auto r = Keyring::create(keys, primary);
    REQUIRE(r);
    return *r;
}

} // namespace

TEST_SUITE("gossip security") {
    TEST_CASE("keyring: install, use, remove, list") {
        Keyring k;
        CHECK_FALSE(k.enabled());
        CHECK(k.primary().empty());
        CHECK(k.add_key(golden::key16));
        CHECK(k.add_key(golden::key32));
        CHECK(k.add_key(golden::key16)); // already there: no-op
        REQUIRE(k.keys().size() == 2);
        CHECK(Bytes(k.primary().begin(), k.primary().end()) == golden::key16);
        CHECK_FALSE(k.add_key(text("short")));
        CHECK_FALSE(k.remove_key(golden::key16)); // the primary
        CHECK(k.use_key(golden::key32));
        CHECK(k.keys() == std::vector<Bytes>{golden::key32, golden::key16});
        CHECK_FALSE(k.use_key(golden::key24));
        CHECK(k.add_key(golden::key24));
        CHECK(k.remove_key(golden::key16));
        CHECK(k.keys() == std::vector<Bytes>{golden::key32, golden::key24});
        CHECK(k.remove_key(golden::key16)); // not installed: no-op
    }

    TEST_CASE("NewKeyring puts the primary first and drops duplicates") {
        auto k = ring({golden::key16, golden::key24, golden::key32}, golden::key32);
        CHECK(k.keys() == std::vector<Bytes>{golden::key32, golden::key16, golden::key24});
        CHECK_FALSE(Keyring::create(std::vector<Bytes>{golden::key16}, Bytes{}));
        auto empty = Keyring::create({}, {});
        REQUIRE(empty);
        CHECK_FALSE(empty->enabled());
    }

    TEST_CASE("base64 keys as consul keygen prints them") {
        // 32 bytes 0x00..0x1f.
        Bytes k32;
        for (int i = 0; i < 32; ++i) k32.push_back(static_cast<std::uint8_t>(i));
        CHECK(format_key(k32) == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        auto back = parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        REQUIRE(back);
        CHECK(*back == k32);
        CHECK(parse_key(format_key(golden::key16)).value() == golden::key16);
        CHECK(parse_key(format_key(golden::key24)).value() == golden::key24);
        CHECK_FALSE(parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"));  // no padding
        CHECK_FALSE(parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==")); // 31 bytes
        CHECK_FALSE(parse_key("AAECAwQFBgcICQoL!A0ODxAREhMUFRYXGBkaGxwdHh8="));
        CHECK_FALSE(parse_key(""));
        CHECK(cairn::base64_decode("Zm9vYg==").value() == text("foob"));
        CHECK(cairn::base64_decode("Zm9v\r\nYmE=").value() == text("fooba"));
        CHECK_FALSE(cairn::base64_decode("Zg=a"));
    }

    TEST_CASE("keygen makes different 32-byte keys") {
        auto a = generate_key();
        auto b = generate_key();
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->size() == 32);
        CHECK(*a != *b);
        CHECK_FALSE(generate_key(20));
    }

    TEST_CASE("memberlist's sealed packets open with cairn's keyring") {
        auto k = ring({golden::key16, golden::key24}, golden::key32);
        Bytes plain = read("crc_compound");
        for (const char* name :
             {"sealed_v1_key16", "sealed_v1_key24", "sealed_v0_key32", "sealed_v1_key32"}) {
            CAPTURE(name);
            auto opened = open_packet(k, read(name));
            REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message));
            CHECK(*opened == plain);
            auto decoded = decode_packet(*opened);
            REQUIRE(decoded);
            CHECK(decoded->messages.size() == 3);
        }
        // A keyring without the key refuses, and so does a flipped bit.
        auto other = ring({}, golden::key24);
        CHECK_FALSE(open_packet(other, read("sealed_v1_key16")));
        Bytes flipped = read("sealed_v1_key16");
        flipped[20] ^= 1;
        CHECK_FALSE(open_packet(k, flipped));
    }

    TEST_CASE("cairn seals as memberlist does (stored for the Go check)") {
        Bytes plain = read("crc_compound");
        auto v1_16 =
            encrypt_payload(EncryptionVersion::plain, golden::key16, plain, {}, fixed_nonce);
        auto v0_24 =
            encrypt_payload(EncryptionVersion::padded, golden::key24, plain, {}, fixed_nonce);
        auto v1_32 =
            encrypt_payload(EncryptionVersion::plain, golden::key32, plain, {}, fixed_nonce);
        REQUIRE(v1_16);
        REQUIRE(v0_24);
        REQUIRE(v1_32);
        CHECK(v1_16->size() == encrypted_length(EncryptionVersion::plain, plain.size()));
        CHECK(v0_24->size() == encrypted_length(EncryptionVersion::padded, plain.size()));
        CHECK(v1_16->size() == read("sealed_v1_key16").size());
        CHECK(v0_24->size() == read("sealed_v0_key32").size());
        cairn_golden("cairn_sealed_v1_key16", *v1_16);
        cairn_golden("cairn_sealed_v0_key24", *v0_24);
        cairn_golden("cairn_sealed_v1_key32", *v1_32);

        auto k = ring({golden::key16, golden::key24}, golden::key32);
        for (const Bytes* sealed : {&*v1_16, &*v0_24, &*v1_32})
            CHECK(open_packet(k, *sealed).value() == plain);

        // Random nonces differ; both open.
        auto a = seal_packet(k, EncryptionVersion::plain, plain);
        auto b = seal_packet(k, EncryptionVersion::plain, plain);
        REQUIRE(a);
        REQUIRE(b);
        CHECK(*a != *b);
        CHECK(open_packet(k, *a).value() == plain);
        CHECK_FALSE(seal_packet(Keyring{}, EncryptionVersion::plain, plain));
    }

    TEST_CASE("version 0 padding: every length up to two blocks round-trips") {
        for (std::size_t n = 0; n <= 32; ++n) {
            Bytes msg(n, 0x5a);
            auto sealed =
                encrypt_payload(EncryptionVersion::padded, golden::key16, msg, {}, fixed_nonce);
            REQUIRE(sealed);
            CHECK(sealed->size() == encrypted_length(EncryptionVersion::padded, n));
            CHECK(sealed->size() <= n + encrypt_overhead(EncryptionVersion::padded));
            std::vector<Bytes> keys = {golden::key16};
            CHECK(decrypt_payload(keys, *sealed, {}).value() == msg);
        }
    }

    TEST_CASE("undecryptable input is an error") {
        std::vector<Bytes> keys = {golden::key16};
        CHECK_FALSE(decrypt_payload(keys, Bytes{}, {}));
        CHECK_FALSE(decrypt_payload(keys, Bytes(28, 1), {})); // version 1 needs 29
        CHECK_FALSE(decrypt_payload(keys, Bytes(44, 0), {})); // version 0 needs 45
        Bytes v2(64, 0);
        v2[0] = 2;
        CHECK_FALSE(decrypt_payload(keys, v2, {}));
        // Sealed with additional data, opened without: refused.
        Bytes aad = {10, 0, 0, 0, 40};
        auto sealed = encrypt_payload(EncryptionVersion::plain, golden::key16, text("hello"), aad,
                                      fixed_nonce);
        REQUIRE(sealed);
        CHECK(decrypt_payload(keys, *sealed, aad).value() == text("hello"));
        CHECK_FALSE(decrypt_payload(keys, *sealed, {}));
    }

    TEST_CASE("an encrypted push-pull stream, both ways") {
        auto k = ring({golden::key16}, golden::key32);
        auto go = decode_stream(read("push_pull_encrypted"), &k);
        REQUIRE_MESSAGE(go, (go ? "" : go.error().message));
        REQUIRE(go->has_value());
        CHECK((*go)->encrypted);
        CHECK(std::get<PushPull>((*go)->message) == golden::push_pull());
        CHECK((*go)->consumed == read("push_pull_encrypted").size());

        auto sealed = seal_stream(k, EncryptionVersion::plain,
                                  encode_push_pull(golden::push_pull()), &fixed_nonce);
        REQUIRE(sealed);
        CHECK(sealed->size() == read("push_pull_encrypted").size());
        cairn_golden("cairn_push_pull_encrypted", *sealed);

        // Without a keyring an encrypted stream is an error, not a wait.
        CHECK_FALSE(decode_stream(read("push_pull_encrypted"), nullptr));
        Keyring wrong = ring({}, golden::key24);
        CHECK_FALSE(decode_stream(read("push_pull_encrypted"), &wrong));
    }
}
