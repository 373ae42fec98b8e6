#include "health/ejection.hpp"

#include <algorithm>

namespace cairn::health {

EjectionPolicy EjectionPolicy::for_interval(std::int64_t interval_ms) {
    EjectionPolicy p;
    interval_ms = std::max<std::int64_t>(interval_ms, 1);
    p.base_ms = 4 * interval_ms;
    p.probation_ms = 10 * interval_ms;
    p.max_ms = std::max<std::int64_t>(300'000, p.base_ms);
    return p;
}

void Ejection::admitted(std::int64_t now_ms) {
    ejected_ = false;
    healthy_mark_ms_ = now_ms;
    probation_until_ms_ = has_fallen_ ? now_ms + policy_.probation_ms : -1;
}

bool Ejection::fell(std::int64_t now_ms) {
    has_fallen_ = true;
    last_failure_ms_ = now_ms;
    if (now_ms >= probation_until_ms_) return false;
    ++level_;
    ejected_ = true;
    return true;
}

void Ejection::failed(std::int64_t now_ms) {
    last_failure_ms_ = now_ms;
}

void Ejection::stayed_healthy(std::int64_t now_ms) {
    if (level_ == 0 || ejected_) return;
    if (now_ms - healthy_mark_ms_ >= policy_.probation_ms) {
        --level_;
        healthy_mark_ms_ = now_ms;
    }
}

bool Ejection::holds(std::int64_t now_ms) const {
    return ejected_ && now_ms - last_failure_ms_ < ejection_ms();
}

std::int64_t Ejection::ejection_ms() const {
    if (level_ == 0) return 0;
    std::int64_t t = policy_.base_ms;
    for (int i = 1; i < level_ && t < policy_.max_ms; ++i) t *= 2;
    return std::min(t, policy_.max_ms);
}

} // namespace cairn::health
