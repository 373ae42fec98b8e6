#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "dns/server/tcp_frame.hpp"

using cairn::dns::FrameBuffer;

namespace {

void feed(FrameBuffer& frames, const std::vector<std::uint8_t>& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        auto space = frames.writable();
        REQUIRE(!space.empty());
        std::size_t n = std::min(space.size(), bytes.size() - done);
        std::memcpy(space.data(), bytes.data() + done, n);
        frames.commit(n);
        done += n;
    }
}

std::vector<std::uint8_t> frame(std::size_t length, std::uint8_t fill) {
    // Sized once: a two-byte vector grown by insert() trips GCC 12's -O3
    // -Warray-bounds false positive.
    std::vector<std::uint8_t> f(2 + length, fill);
    f[0] = static_cast<std::uint8_t>(length >> 8);
    f[1] = static_cast<std::uint8_t>(length);
    return f;
}

} // namespace

TEST_CASE("frames: several messages in one read come out one by one") {
    FrameBuffer frames(64);
    auto bytes = frame(3, 0xaa);
    auto second = frame(5, 0xbb);
    bytes.insert(bytes.end(), second.begin(), second.end());
    feed(frames, bytes);
    auto a = frames.next();
    REQUIRE(a);
    CHECK(a->size() == 3);
    CHECK((*a)[0] == 0xaa);
    auto b = frames.next();
    REQUIRE(b);
    CHECK(b->size() == 5);
    CHECK((*b)[4] == 0xbb);
    CHECK_FALSE(frames.next());
    CHECK(frames.buffered() == 0);
}

TEST_CASE("frames: a length prefix split across reads") {
    FrameBuffer frames(64);
    auto bytes = frame(10, 0x11);
    feed(frames, {bytes[0]});
    CHECK_FALSE(frames.next());
    feed(frames, {bytes[1], bytes[2]});
    CHECK_FALSE(frames.next());
    feed(frames, std::vector<std::uint8_t>(bytes.begin() + 3, bytes.end()));
    auto m = frames.next();
    REQUIRE(m);
    CHECK(m->size() == 10);
}

TEST_CASE("frames: a message larger than the buffer grows it, but never past one maximal frame") {
    FrameBuffer frames(16);
    feed(frames, frame(1000, 0x22));
    auto m = frames.next();
    REQUIRE(m);
    CHECK(m->size() == 1000);
    CHECK(frames.capacity() >= 1002);

    feed(frames, frame(65535, 0x33));
    auto big = frames.next();
    REQUIRE(big);
    CHECK(big->size() == 65535);
    CHECK(frames.capacity() == FrameBuffer::max_frame);
}

TEST_CASE("frames: leftover bytes move to the front instead of growing") {
    FrameBuffer frames(32);
    // 3 frames of 8 bytes (10 with prefix), then half of a fourth.
    std::vector<std::uint8_t> bytes;
    for (int i = 0; i < 3; ++i) {
        auto f = frame(8, static_cast<std::uint8_t>(i));
        bytes.insert(bytes.end(), f.begin(), f.end());
    }
    auto fourth = frame(8, 9);
    bytes.insert(bytes.end(), fourth.begin(), fourth.begin() + 2);
    feed(frames, bytes);
    for (int i = 0; i < 3; ++i) REQUIRE(frames.next());
    feed(frames, std::vector<std::uint8_t>(fourth.begin() + 2, fourth.end()));
    auto m = frames.next();
    REQUIRE(m);
    CHECK((*m)[7] == 9);
    CHECK(frames.capacity() == 32);
}

TEST_CASE("frames: a zero-length message is a message") {
    FrameBuffer frames;
    feed(frames, {0, 0});
    auto m = frames.next();
    REQUIRE(m);
    CHECK(m->empty());
}
