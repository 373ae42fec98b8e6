// Stream framing against memberlist's bytes: push-pull (plain and LZW
// compressed, as a default memberlist sends it), stream user messages, the
// TCP ping; and the incremental reading a transport relies on.

#include <doctest/doctest.h>

#include "golden.hpp"
#include "gossip/codec.hpp"
#include "gossip/stream.hpp"

using namespace cairn::gossip;
using golden::read;
using golden::text;

namespace {

DecodedStream complete(const Bytes& bytes, const Keyring* keyring = nullptr) {
    auto d = decode_stream(bytes, keyring);
    REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
    REQUIRE(d->has_value());
    return std::move(**d);
}

} // namespace

TEST_SUITE("gossip streams") {
    TEST_CASE("push-pull: cairn writes memberlist's bytes and reads them") {
        CHECK(encode_push_pull(golden::push_pull()) == read("push_pull"));
        auto d = complete(read("push_pull"));
        CHECK_FALSE(d.encrypted);
        CHECK_FALSE(d.compressed);
        CHECK(d.consumed == read("push_pull").size());
        CHECK(std::get<PushPull>(d.message) == golden::push_pull());
    }

    TEST_CASE("a compressed push-pull from a default memberlist") {
        auto d = complete(read("push_pull_compressed"));
        CHECK(d.compressed);
        CHECK(d.consumed == read("push_pull_compressed").size());
        CHECK(std::get<PushPull>(d.message) == golden::push_pull());
    }

    TEST_CASE("a user message on a stream") {
        Bytes payload = text("a user message on a stream");
        CHECK(encode_stream_user(payload) == read("stream_user"));
        auto d = complete(read("stream_user"));
        CHECK(std::get<UserMsg>(d.message).payload == payload);
    }

    TEST_CASE("the TCP fallback ping, its ack and an error") {
        auto ping = complete(read("ping_source"));
        CHECK(std::get<Ping>(ping.message).seq_no == 0x12345678);
        auto ack = complete(read("ack_payload"));
        CHECK(std::get<AckResp>(ack.message).payload == text("hello"));
        auto err = complete(read("err"));
        CHECK(std::get<ErrResp>(err.message).error == "remote node state is larger than limit");
    }

    TEST_CASE("every proper prefix of a stream asks for more, the whole answers") {
        Keyring k;
        REQUIRE(k.add_key(golden::key32));
        for (const char* name : {"push_pull", "push_pull_compressed", "push_pull_encrypted",
                                 "stream_user", "ping_source", "err"}) {
            CAPTURE(name);
            Bytes whole = read(name);
            for (std::size_t n = 0; n < whole.size(); ++n) {
                auto d = decode_stream(std::span(whole).first(n), &k);
                CAPTURE(n);
                REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
                CHECK_FALSE(d->has_value());
            }
            // Bytes after the message are left for the caller.
            Bytes longer = whole;
            longer.push_back(0xc1);
            auto d = decode_stream(longer, &k);
            REQUIRE(d);
            REQUIRE(d->has_value());
            CHECK((*d)->consumed == whole.size());
        }
    }

    TEST_CASE("limits and malformed streams") {
        // A header announcing more nodes than allowed.
        PushPull big;
        big.nodes.resize(3);
        Bytes three = encode_push_pull(big);
        StreamLimits limits;
        limits.max_nodes = 2;
        CHECK_FALSE(decode_stream(three, nullptr, limits));
        CHECK(decode_stream(three, nullptr).value().has_value());

        // User state over the cap.
        PushPull user;
        user.user_state = Bytes(100, 1);
        limits = {};
        limits.max_user_bytes = 99;
        CHECK_FALSE(decode_stream(encode_push_pull(user), nullptr, limits));

        // An encrypted stream announcing more than 20 MiB.
        Bytes huge = {10, 0x02, 0x00, 0x00, 0x00};
        Keyring k;
        REQUIRE(k.add_key(golden::key16));
        CHECK_FALSE(decode_stream(huge, &k));

        // Types a stream does not carry, and a negative count.
        CHECK_FALSE(decode_stream(read("alive"), nullptr));
        CHECK_FALSE(decode_stream(read("compound"), nullptr));
        Bytes negative = {6, 0x81, 0xa5, 'N', 'o', 'd', 'e', 's', 0xff};
        CHECK_FALSE(decode_stream(negative, nullptr));
    }
}
