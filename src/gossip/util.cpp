#include "gossip/util.hpp"

#include <algorithm>
#include <cmath>

namespace cairn::gossip {

int retransmit_limit(int retransmit_mult, int n) {
    const double node_scale = std::ceil(std::log10(double(n) + 1.0));
    return retransmit_mult * static_cast<int>(node_scale);
}

Duration suspicion_timeout(int suspicion_mult, int n, Duration interval) {
    const double node_scale = std::max(1.0, std::log10(std::max(1.0, double(n))));
    // Go: Duration(mult) * Duration(nodeScale*1000) * interval / 1000.
    const auto scale_milli = static_cast<Duration::rep>(node_scale * 1000);
    return Duration{suspicion_mult * scale_milli * interval.count() / 1000};
}

Duration push_pull_scale(Duration interval, int n) {
    if (n <= push_pull_scale_threshold) return interval;
    const double multiplier =
        std::ceil(std::log2(double(n)) - std::log2(double(push_pull_scale_threshold))) + 1.0;
    return interval * static_cast<int>(multiplier);
}

} // namespace cairn::gossip
