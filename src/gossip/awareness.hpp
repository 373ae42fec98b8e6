#pragma once
// Lifeguard's local health awareness (memberlist's awareness.go): a score from
// 0 (healthy) to max-1 that rises when this node misses acks or nacks it
// should have had, or has to refute, and falls with every successful probe.
// Probe interval and timeouts are multiplied by score+1, so a struggling node
// slows its own failure detector instead of accusing healthy peers.

#include "gossip/time.hpp"

namespace cairn::gossip {

class Awareness {
public:
    explicit Awareness(int max)
        : max_(max) {}

    // Adds delta, keeping the score within [0, max-1].
    void apply_delta(int delta) {
        score_ += delta;
        if (score_ < 0)
            score_ = 0;
        else if (score_ > max_ - 1)
            score_ = max_ - 1;
    }

    [[nodiscard]] int health_score() const { return score_; }

    [[nodiscard]] Duration scale_timeout(Duration timeout) const { return timeout * (score_ + 1); }

private:
    int max_;
    int score_ = 0;
};

} // namespace cairn::gossip
