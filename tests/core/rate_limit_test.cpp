#include <doctest/doctest.h>

#include "core/rate_limit.hpp"

using cairn::TokenBucket;

namespace {
constexpr std::uint64_t ms = 1'000'000; // ns
}

TEST_CASE("a token bucket starts full, then gives per_second a second") {
    TokenBucket b(10, 10, 0);
    int taken = 0;
    for (int i = 0; i < 50; ++i) taken += b.take(0) ? 1 : 0;
    CHECK(taken == 10); // the burst
    CHECK_FALSE(b.take(99 * ms));
    CHECK(b.take(100 * ms)); // one token every 100 ms
    CHECK_FALSE(b.take(150 * ms));
    // Over 10 s at most 10 a second, and no more than the burst saved up.
    taken = 0;
    for (std::uint64_t t = 200 * ms; t <= 10'200 * ms; t += ms) taken += b.take(t) ? 1 : 0;
    CHECK(taken == 101);
    taken = 0;
    for (int i = 0; i < 50; ++i) taken += b.take(3'600'000 * ms) ? 1 : 0;
    CHECK(taken == 10);
}

TEST_CASE("a token bucket never goes back in time") {
    TokenBucket b(1, 1, 1000 * ms);
    CHECK(b.take(1000 * ms));
    CHECK_FALSE(b.take(500 * ms)); // an earlier time gives nothing
    CHECK(b.take(2000 * ms));
}
