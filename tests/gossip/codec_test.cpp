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
