#include "gossip/suspicion.hpp"

#include <cmath>

namespace cairn::gossip {

Suspicion::Suspicion(const std::string& from, int k, Duration min, Duration max, TimePoint start)
    : k_(k)
    , min_(min)
    , max_(max)
    , start_(start) {
    confirmed_.insert(from);
}

bool Suspicion::confirm(const std::string& from) {
    if (n_ >= k_) return false;
    if (!confirmed_.insert(from).second) return false;
    ++n_;
    return true;
}

TimePoint Suspicion::deadline() const {
    if (k_ < 1) return start_ + min_;
    return start_ + remaining_suspicion_time(n_, k_, Duration{0}, min_, max_);
}

Duration remaining_suspicion_time(int n, int k, Duration elapsed, Duration min, Duration max) {
    using fseconds = std::chrono::duration<double>;
    const double frac = std::log(double(n) + 1.0) / std::log(double(k) + 1.0);
    const double max_s = fseconds(max).count();
    const double min_s = fseconds(min).count();
    const double raw = max_s - frac * (max_s - min_s);
    Duration timeout = milliseconds(static_cast<long long>(std::floor(1000.0 * raw)));
    if (timeout < min) timeout = min;
    return timeout - elapsed;
}

} // namespace cairn::gossip
