// The codec on hand-written bytes: forms go-msgpack writes, what its decoder
// accepts, and input it must refuse. Byte-for-byte comparisons with
// memberlist's own output are in golden_test.cpp.

#include <doctest/doctest.h>

#include "gossip/codec.hpp"

using namespace cairn::gossip;

namespace {

Bytes bytes(std::initializer_list<int> list) {
    Bytes out;
    for (int b : list) out.push_back(static_cast<std::uint8_t>(b));
    return out;
}

Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

} // namespace

TEST_SUITE("gossip codec") {
    TEST_CASE("a nack is its type byte and a one-key map") {
        Bytes expected = bytes({11, 0x81, 0xa5});
        auto key = text("SeqNo");
        expected.insert(expected.end(), key.begin(), key.end());
        expected.push_back(5);
        CHECK(encode(NackResp{5}) == expected);
        auto back = decode_message(expected);
        REQUIRE(back);
        REQUIRE(std::holds_alternative<NackResp>(*back));
        CHECK(std::get<NackResp>(*back).seq_no == 5);
    }

    TEST_CASE("integers take the smallest unsigned form") {
        Bytes out;
        msgpack::Writer w(out);
        w.uint(127);
        w.uint(128);
        w.uint(65535);
        w.uint(65536);
        w.sint(-1);
        w.sint(-33);
        CHECK(out ==
              bytes({0x7f, 0xcc, 0x80, 0xcd, 0xff, 0xff, 0xce, 0, 1, 0, 0, 0xff, 0xd0, 0xdf}));
    }

    TEST_CASE("raw strings never use str8 or bin") {
        Bytes out;
        msgpack::Writer w(out);
        w.raw(std::string(31, 'x'));
        CHECK(out[0] == 0xbf);
        out.clear();
        w.raw(std::string(32, 'x'));
        CHECK(out[0] == 0xda);
        CHECK(out[1] == 0);
        CHECK(out[2] == 32);
        out.clear();
        w.bytes_or_nil({});
        CHECK(out == bytes({0xc0}));
    }
}

namespace {

// A map writer for hand-made messages.
struct MapBuilder {
    Bytes out;
    msgpack::Writer w{out};
    MapBuilder(MessageType type, std::size_t entries) {
        out.push_back(static_cast<std::uint8_t>(type));
        w.map_header(entries);
    }
};

} // namespace

TEST_SUITE("gossip codec") {
    TEST_CASE("reading is as lenient as go-msgpack: key order, unknown keys, nil, str8, bin") {
        MapBuilder b(MessageType::alive, 6);
        b.w.raw(std::string_view("Vsn"));
        b.out.insert(b.out.end(), {0xc4, 3, 1, 5, 2}); // bin8
        b.w.raw(std::string_view("Extra"));
        b.out.insert(b.out.end(),
                     {0x92, 0x81, 0xa1, 'k', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xd4, 1, 2}); // skipped
        b.w.raw(std::string_view("Node"));
        b.out.insert(b.out.end(), {0xd9, 2, 'n', '1'}); // str8
        b.w.raw(std::string_view("Port"));
        b.out.insert(b.out.end(), {0xd0, 0x10}); // int8 16
        b.w.raw(std::string_view("Meta"));
        b.w.nil();
        b.w.raw(std::string_view("Node"));
        b.w.raw(std::string_view("n2")); // a later duplicate wins
        auto m = decode_message(b.out);
        REQUIRE_MESSAGE(m, (m ? "" : m.error().message));
        const auto& a = std::get<Alive>(*m);
        CHECK(a.node == "n2");
        CHECK(a.port == 16);
        CHECK(a.vsn == bytes({1, 5, 2}));
        CHECK(a.meta.empty());
        CHECK(a.incarnation == 0);
    }

    TEST_CASE("values that do not fit the Go field are refused") {
        MapBuilder port(MessageType::alive, 1);
        port.w.raw(std::string_view("Port"));
        port.w.uint(65536);
        CHECK_FALSE(decode_message(port.out));

        MapBuilder negative(MessageType::ping, 1);
        negative.w.raw(std::string_view("SeqNo"));
        negative.w.sint(-1);
        CHECK_FALSE(decode_message(negative.out));

        MapBuilder wrong_type(MessageType::ping, 1);
        wrong_type.w.raw(std::string_view("Node"));
        wrong_type.w.uint(3);
        CHECK_FALSE(decode_message(wrong_type.out));

        MapBuilder not_bool(MessageType::indirect_ping, 1);
        not_bool.w.raw(std::string_view("Nack"));
        not_bool.w.uint(2);
        CHECK_FALSE(decode_message(not_bool.out));
    }

    TEST_CASE("truncated, deeply nested and oversized input is an error") {
        Bytes whole = encode(Alive{.incarnation = 9,
                                   .node = "node",
                                   .addr = {1, 2, 3, 4},
                                   .port = 1,
                                   .meta = {},
                                   .vsn = {}});
        for (std::size_t n = 0; n < whole.size(); ++n)
            CHECK_FALSE(decode_message(std::span(whole).first(n)));

        MapBuilder deep(MessageType::ping, 1);
        deep.w.raw(std::string_view("Unknown"));
        for (int i = 0; i < 100; ++i) deep.w.array_header(1);
        deep.w.nil();
        CHECK_FALSE(decode_message(deep.out));

        Bytes huge_map = {
            static_cast<std::uint8_t>(MessageType::ping), 0xdf, 0x7f, 0xff, 0xff, 0xff};
        CHECK_FALSE(decode_message(huge_map));
        Bytes huge_raw = {static_cast<std::uint8_t>(MessageType::ping),
                          0x81,
                          0xa4,
                          'N',
                          'o',
                          'd',
                          'e',
                          0xdb,
                          0xff,
                          0xff,
                          0xff,
                          0xff};
        CHECK_FALSE(decode_message(huge_raw));
        CHECK_FALSE(decode_message(bytes({0, 0xc1})));
        CHECK_FALSE(decode_message(bytes({})));
        CHECK_FALSE(decode_message(bytes({42, 0x80})));
    }

    TEST_CASE("bytes after the map are ignored, as memberlist's decode() does") {
        Bytes m = encode(NackResp{7});
        m.push_back(0xc1);
        auto back = decode_message(m);
        REQUIRE(back);
        CHECK(std::get<NackResp>(*back).seq_no == 7);
    }
}
