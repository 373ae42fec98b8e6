// Packet framing on hand-made input: compound truncation and bad parts,
// CRC mismatches, nesting limits, splitting, and LZW edge cases.

#include <doctest/doctest.h>

#include "golden.hpp"
#include "gossip/codec.hpp"
#include "gossip/lzw.hpp"
#include "gossip/packet.hpp"

using namespace cairn::gossip;
using golden::read;

TEST_SUITE("gossip packets") {
    TEST_CASE("a compound keeps the parts before a truncated one, skips a bad one") {
        Bytes bad = {static_cast<std::uint8_t>(MessageType::alive), 0xc1};
        std::vector<Bytes> parts = {encode(golden::suspect()), bad, encode(golden::dead())};
        Bytes compound = make_compound(parts);
        auto decoded = decode_packet(compound);
        REQUIRE(decoded);
        CHECK(decoded->messages.size() == 2);
        CHECK(decoded->bad_parts.size() == 1);
        CHECK(decoded->truncated_parts == 0);

        compound.resize(compound.size() - 1); // the last part is now short
        decoded = decode_packet(compound);
        REQUIRE(decoded);
        CHECK(decoded->messages.size() == 1);
        CHECK(decoded->truncated_parts == 1);

        CHECK_FALSE(decode_packet(Bytes{7}));       // no count
        CHECK_FALSE(decode_packet(Bytes{7, 2, 0})); // lengths cut
        CHECK_FALSE(decode_packet(Bytes{}));
    }

    TEST_CASE("a packet's messages, as sent and as received, with their encoded sizes") {
        std::vector<Bytes> parts = {encode(golden::suspect()), encode(golden::dead()),
                                    encode_user(Bytes{1, 2, 3})};
        Bytes compound = make_compound(parts);
        auto sent = packet_parts(compound);
        REQUIRE(sent.size() == 3);
        for (std::size_t i = 0; i < 3; ++i)
            CHECK(Bytes(sent[i].begin(), sent[i].end()) == parts[i]);
        auto single = packet_parts(parts[0]);
        REQUIRE(single.size() == 1);
        CHECK(single[0].size() == parts[0].size());
        compound.resize(compound.size() - 1); // the last part cut: left out
        CHECK(packet_parts(compound).size() == 2);

        // Received: the same sizes, also through compression.
        auto decoded = decode_packet(compress_payload(make_compound(parts)));
        REQUIRE(decoded);
        REQUIRE(decoded->encoded.size() == 3);
        CHECK(decoded->encoded[0] == std::pair(MessageType::suspect, parts[0].size()));
        CHECK(decoded->encoded[1] == std::pair(MessageType::dead, parts[1].size()));
        CHECK(decoded->encoded[2] == std::pair(MessageType::user, parts[2].size()));
    }

    TEST_CASE("a CRC mismatch drops the packet") {
        Bytes p = read("crc_ping");
        p.back() ^= 1;
        CHECK_FALSE(decode_packet(p));
        p = read("crc_ping");
        p[1] ^= 0x80;
        CHECK_FALSE(decode_packet(p));
        // Too short for a CRC header: a has-CRC type byte alone is no message.
        CHECK_FALSE(decode_packet(Bytes{12, 0, 0}));
    }

    TEST_CASE("nesting is capped") {
        Bytes m = encode(NackResp{1});
        for (int i = 0; i < 3; ++i) m = make_compound(std::vector<Bytes>{m});
        auto ok = decode_packet(m);
        REQUIRE(ok);
        CHECK(ok->messages.size() == 1);
        for (int i = 0; i < 3; ++i) m = make_compound(std::vector<Bytes>{m});
        auto deep = decode_packet(m);
        // The outer compound decodes; its innermost part is refused.
        REQUIRE(deep);
        CHECK(deep->messages.empty());
        CHECK(deep->bad_parts.size() == 1);
    }

    TEST_CASE("make_compounds splits at 127 parts and leaves out empty ones") {
        std::vector<Bytes> parts(300, encode(NackResp{3}));
        parts[5].clear();
        auto compounds = make_compounds(parts);
        REQUIRE(compounds);
        REQUIRE(compounds->size() == 3);
        std::size_t total = 0;
        for (const auto& c : *compounds) {
            CHECK(c[1] <= max_compound_parts);
            auto d = decode_packet(c);
            REQUIRE(d);
            total += d->messages.size();
        }
        CHECK(total == 299);
        CHECK((*compounds)[0][1] == 127);
        std::vector<Bytes> too_big = {Bytes(70000, 8)};
        CHECK_FALSE(make_compounds(too_big));
    }

    TEST_CASE("LZW: end code required, invalid codes refused") {
        // 9-bit codes, LSB first: 'a' (97), then end (257).
        auto pack = [](std::initializer_list<unsigned> codes, unsigned width) {
            Bytes out;
            std::uint32_t bits = 0;
            unsigned n = 0;
            for (unsigned c : codes) {
                bits |= c << n;
                n += width;
                while (n >= 8) {
                    out.push_back(static_cast<std::uint8_t>(bits));
                    bits >>= 8;
                    n -= 8;
                }
            }
            if (n > 0) out.push_back(static_cast<std::uint8_t>(bits));
            return out;
        };
        CHECK(lzw_decompress(pack({97, 257}, 9), 100).value() == Bytes{97});
        // 'a', then code 258 (= 'aa', the KwKwK case), then end.
        CHECK(lzw_decompress(pack({97, 258, 257}, 9), 100).value() == Bytes{97, 97, 97});
        CHECK_FALSE(lzw_decompress(pack({97}, 9), 100));           // no end code
        CHECK_FALSE(lzw_decompress(pack({97, 300, 257}, 9), 100)); // beyond the table
        CHECK_FALSE(lzw_decompress(pack({97, 258, 257}, 9), 2));   // over the cap
        CHECK(lzw_decompress(pack({256, 98, 257}, 9), 100).value() == Bytes{98});
    }
}
