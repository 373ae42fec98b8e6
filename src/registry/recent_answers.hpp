#pragma once
// How many DNS answers listed an endpoint first lately, for least_loaded
// (docs/discovery.md): the clients of a burst that arrives between two load
// reports count as load of their own, so that the burst spreads over the
// least-loaded instances instead of all going to the one with the lowest
// report. Shared by every DNS worker through relaxed atomics inside the
// otherwise immutable snapshot; a copy starts from zero (a rebuilt entry
// comes with newer reports, which count those clients themselves).
//
// Counted in windows of recent_window_ms: the estimate is this window's
// count plus the previous window's, fading out linearly over this one, so
// an answer counts fully for one window and not at all after two.

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace cairn::registry {

inline constexpr std::uint64_t recent_window_ms = 500;

class RecentAnswers {
public:
    RecentAnswers() = default;
    RecentAnswers(const RecentAnswers&) noexcept {}
    RecentAnswers& operator=(const RecentAnswers&) noexcept {
        packed_.store(0, std::memory_order_relaxed);
        return *this;
    }

    // The answers of about the last window at `now_ms` (a monotonic clock).
    [[nodiscard]] std::uint32_t estimate(std::uint64_t now_ms) const noexcept {
        return estimate_of(packed_.load(std::memory_order_relaxed), now_ms);
    }

    // One more answer at `now_ms`.
    void add(std::uint64_t now_ms) const noexcept {
        std::uint64_t old = packed_.load(std::memory_order_relaxed);
        std::uint64_t next = 0;
        do {
            next = added(old, now_ms);
        } while (!packed_.compare_exchange_weak(old, next, std::memory_order_relaxed));
    }

private:
    // window index (32 bits) | this window's count (16) | the previous one's (16)
    static std::uint32_t window(std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32); }
    static std::uint32_t current(std::uint64_t v) { return (v >> 16) & 0xffff; }
    static std::uint32_t previous(std::uint64_t v) { return v & 0xffff; }
    static std::uint64_t pack(std::uint32_t w, std::uint32_t cur, std::uint32_t prev) {
        return (std::uint64_t{w} << 32) | (std::uint64_t{cur} << 16) | prev;
    }

    static std::uint32_t estimate_of(std::uint64_t v, std::uint64_t now_ms) noexcept {
        auto w = static_cast<std::uint32_t>(now_ms / recent_window_ms);
        std::uint64_t left = recent_window_ms - now_ms % recent_window_ms; // of this window
        if (v == 0) return 0;
        if (window(v) == w)
            return current(v) + static_cast<std::uint32_t>(previous(v) * left / recent_window_ms);
        if (window(v) + 1 == w)
            return static_cast<std::uint32_t>(current(v) * left / recent_window_ms);
        return 0;
    }

    static std::uint64_t added(std::uint64_t v, std::uint64_t now_ms) noexcept {
        auto w = static_cast<std::uint32_t>(now_ms / recent_window_ms);
        if (v != 0 && window(v) == w)
            return pack(w, std::min(current(v) + 1, 0xffffu), previous(v));
        if (v != 0 && window(v) + 1 == w) return pack(w, 1, current(v));
        return pack(w, 1, 0);
    }

    mutable std::atomic<std::uint64_t> packed_{0};
};

} // namespace cairn::registry
