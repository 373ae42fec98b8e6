#pragma once
// A token bucket, as pure logic: the time is passed in. It holds at most
// `burst` tokens, starts full and gains `per_second` tokens a second;
// take() spends one if there is one. Not thread-safe: its owner locks.

#include <algorithm>
#include <cstdint>

namespace cairn {

class TokenBucket {
public:
    // per_second and burst at least 1.
    TokenBucket(std::uint32_t per_second, std::uint32_t burst, std::uint64_t now_ns)
        : cost_ns_(1'000'000'000 / std::max<std::uint32_t>(per_second, 1))
        , capacity_ns_(cost_ns_ * std::max<std::uint32_t>(burst, 1))
        , credit_ns_(capacity_ns_)
        , at_ns_(now_ns) {}

    [[nodiscard]] bool take(std::uint64_t now_ns) {
        if (now_ns > at_ns_) {
            credit_ns_ = std::min(capacity_ns_, credit_ns_ + (now_ns - at_ns_));
            at_ns_ = now_ns;
        }
        if (credit_ns_ < cost_ns_) return false;
        credit_ns_ -= cost_ns_;
        return true;
    }

private:
    std::uint64_t cost_ns_;     // the time one token takes to come back
    std::uint64_t capacity_ns_; // burst tokens' worth
    std::uint64_t credit_ns_;
    std::uint64_t at_ns_;
};

} // namespace cairn
