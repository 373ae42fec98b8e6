#pragma once
// The scaling rules and random choices of memberlist's util.go.

#include <cstdint>
#include <random>
#include <vector>

#include "gossip/time.hpp"

namespace cairn::gossip {

// Past this many nodes the push-pull interval grows with log2(N).
inline constexpr int push_pull_scale_threshold = 32;

// retransmit_mult * ceil(log10(n+1)): how often a broadcast is sent.
[[nodiscard]] int retransmit_limit(int retransmit_mult, int n);

// suspicion_mult * max(1, log10(max(1, n))) * interval, kept to the
// millisecond of the scale as memberlist does.
[[nodiscard]] Duration suspicion_timeout(int suspicion_mult, int n, Duration interval);

// interval, times ceil(log2(n) - log2(32)) + 1 once n exceeds 32.
[[nodiscard]] Duration push_pull_scale(Duration interval, int n);

// The engine's one source of randomness, seeded by its owner so that a
// simulated cluster replays exactly.
class Random {
public:
    explicit Random(std::uint64_t seed)
        : engine_(seed) {}

    [[nodiscard]] std::uint32_t next_u32() { return static_cast<std::uint32_t>(engine_()); }
    // A uniform offset in [0, n); 0 when n is 0 (memberlist's randomOffset).
    [[nodiscard]] std::size_t offset(std::size_t n) {
        return n == 0 ? 0 : static_cast<std::size_t>(next_u32() % static_cast<std::uint32_t>(n));
    }
    // A uniform duration in [0, d): the start stagger of a periodic task.
    [[nodiscard]] Duration stagger(Duration d) {
        if (d.count() <= 0) return Duration{0};
        return Duration{
            static_cast<Duration::rep>(engine_() % static_cast<std::uint64_t>(d.count()))};
    }

    // Fisher-Yates, as Go's rand.Shuffle.
    template <class T>
    void shuffle(std::vector<T>& items) {
        for (std::size_t i = items.size(); i > 1; --i) {
            const std::size_t j = offset(i);
            std::swap(items[i - 1], items[j]);
        }
    }

    // Up to k distinct items for which `skip` is false, picked at random with
    // at most 3n draws (memberlist's kRandomNodes: exhaustive for small n).
    template <class T, class Skip>
    [[nodiscard]] std::vector<T> k_random(int k, const std::vector<T>& items, Skip&& skip) {
        std::vector<T> out;
        const std::size_t n = items.size();
        for (std::size_t i = 0; i < 3 * n && out.size() < static_cast<std::size_t>(k); ++i) {
            const T& item = items[offset(n)];
            if (skip(item)) continue;
            bool seen = false;
            for (const T& o : out) seen = seen || o == item;
            if (!seen) out.push_back(item);
        }
        return out;
    }

private:
    std::mt19937_64 engine_;
};

} // namespace cairn::gossip
