// The envelope: CRC toward peers with protocol max >= 5, sealing, and
// memberlist's verify_incoming/verify_outgoing switches, packets and streams.

#include <doctest/doctest.h>

#include "golden.hpp"
#include "gossip/codec.hpp"
#include "gossip/envelope.hpp"

using namespace cairn::gossip;
using golden::read;

namespace {

Keyring ring_of(const Bytes& key) {
    Keyring k;
    REQUIRE(k.add_key(key));
    return k;
}

} // namespace

TEST_SUITE("gossip envelope") {
    TEST_CASE("plaintext: CRC only toward protocol max 5 and above") {
        Security off;
        Bytes ping = read("ping");
        CHECK(write_packet(ping, 5, off).value() == read("crc_ping"));
        CHECK(write_packet(ping, 4, off).value() == ping);
        CHECK(write_packet(ping, 0, off).value() == ping);
        auto in = read_packet(read("crc_ping"), off);
        REQUIRE(in);
        CHECK_FALSE(in->decrypted);
        CHECK(in->packet.had_crc);
        CHECK(std::get<Ping>(in->packet.messages.at(0)).seq_no == 42);
    }

    TEST_CASE("encrypted packets: sealed out, opened in, plaintext refused") {
        Keyring k = ring_of(golden::key32);
        Security on{.keyring = &k};
        auto out = write_packet(read("ping"), 5, on);
        REQUIRE(out);
        CHECK(out->size() == encrypted_length(EncryptionVersion::plain, read("crc_ping").size()));
        auto in = read_packet(*out, on);
        REQUIRE(in);
        CHECK(in->decrypted);
        CHECK(in->packet.messages.size() == 1);
        CHECK_FALSE(read_packet(read("ping"), on));
        // memberlist's own sealed packet.
        auto go = read_packet(read("sealed_v1_key32"), on);
        REQUIRE(go);
        CHECK(go->packet.messages.size() == 3);
    }

    TEST_CASE("rolling encryption out: verify_incoming off takes both") {
        Keyring k = ring_of(golden::key16);
        Security accepting{.keyring = &k, .verify_incoming = false, .verify_outgoing = false};
        auto plain = read_packet(read("ping"), accepting);
        REQUIRE(plain);
        CHECK_FALSE(plain->decrypted);
        auto sealed = read_packet(read("sealed_v1_key16"), accepting);
        REQUIRE(sealed);
        CHECK(sealed->decrypted);
        CHECK(write_packet(read("ping"), 4, accepting).value() == read("ping"));
        // The streams, too.
        CHECK(read_stream(read("push_pull"), accepting).value().has_value());
        CHECK(read_stream(read("push_pull_encrypted"),
                          Security{.keyring = &k, .verify_incoming = false})
                  .error()
                  .message.find("no installed key") != std::string::npos);
    }

    TEST_CASE("streams: sealed with the header as additional data; the switches") {
        Keyring k = ring_of(golden::key32);
        Security on{.keyring = &k};
        auto sealed = write_stream(read("push_pull"), on);
        REQUIRE(sealed);
        CHECK((*sealed)[0] == static_cast<std::uint8_t>(MessageType::encrypt));
        auto d = read_stream(*sealed, on);
        REQUIRE(d);
        REQUIRE(d->has_value());
        CHECK((*d)->encrypted);
        CHECK(std::get<PushPull>((*d)->message) == golden::push_pull());

        CHECK_FALSE(read_stream(read("push_pull"), on));                   // plaintext refused
        CHECK_FALSE(read_stream(read("push_pull_encrypted"), Security{})); // no keys
        CHECK(write_stream(read("push_pull"), Security{}).value() == read("push_pull"));
        Security quiet{.keyring = &k, .verify_outgoing = false};
        CHECK(write_stream(read("push_pull"), quiet).value() == read("push_pull"));
        CHECK(read_stream(Bytes{}, on).value() == std::nullopt);
    }

    TEST_CASE("protocol version 1 peers get version 0 sealing") {
        CHECK(encryption_version(1) == EncryptionVersion::padded);
        CHECK(encryption_version(2) == EncryptionVersion::plain);
        CHECK(encryption_version(5) == EncryptionVersion::plain);
        Keyring k = ring_of(golden::key24);
        Security v0{.keyring = &k, .version = EncryptionVersion::padded};
        auto out = write_packet(read("ping"), 2, v0);
        REQUIRE(out);
        CHECK((*out)[0] == 0);
        CHECK(out->size() == encrypted_length(EncryptionVersion::padded, read("ping").size()));
        CHECK(read_packet(*out, v0).value().packet.messages.size() == 1);
    }
}
