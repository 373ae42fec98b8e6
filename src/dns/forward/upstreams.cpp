#include "dns/forward/upstreams.hpp"

#include <algorithm>
#include <cmath>

namespace cairn::dns::forward {

using std::chrono::microseconds;
using std::chrono::milliseconds;

Result<Policy> parse_policy(std::string_view text) {
    if (text == "sequential") return Policy::sequential;
    if (text == "random") return Policy::random;
    if (text == "fastest") return Policy::fastest;
    return fail("unknown policy '{}' (sequential, random or fastest)", text);
}

std::string_view to_string(Policy policy) {
    switch (policy) {
    case Policy::sequential:
        return "sequential";
    case Policy::random:
        return "random";
    case Policy::fastest:
        return "fastest";
    }
    return "?";
}

void RttEstimator::sample(microseconds rtt) {
    double r = static_cast<double>(std::max<microseconds::rep>(rtt.count(), 0));
    if (!measured_) {
        srtt_us_ = r;
        rttvar_us_ = r / 2;
        measured_ = true;
    } else {
        rttvar_us_ = 0.75 * rttvar_us_ + 0.25 * std::fabs(srtt_us_ - r);
        srtt_us_ = 0.875 * srtt_us_ + 0.125 * r;
    }
    backoffs_ = 0;
}

milliseconds RttEstimator::timeout(const HealthSettings& s) const {
    double base_us = measured_ ? srtt_us_ + std::max(1000.0, 4 * rttvar_us_)
                               : static_cast<double>(microseconds(s.initial_rto).count());
    double max_us = static_cast<double>(microseconds(s.max_rto).count());
    for (unsigned i = 0; i < backoffs_ && base_us < max_us; ++i) base_us *= 2;
    auto ms = milliseconds(static_cast<milliseconds::rep>(std::ceil(base_us / 1000)));
    return std::clamp(ms, s.min_rto, s.max_rto);
}

microseconds RttEstimator::smoothed(const HealthSettings& s) const {
    if (!measured_) return s.initial_rto;
    return microseconds(static_cast<microseconds::rep>(srtt_us_));
}

UpstreamSet::UpstreamSet(std::size_t count, Policy policy, HealthSettings settings,
                         std::uint64_t seed)
    : upstreams_(count)
    , policy_(policy)
    , settings_(settings)
    , random_(seed) {
    if (settings_.failures_before_down == 0) settings_.failures_before_down = 1;
    settings_.max_rto = std::max(settings_.max_rto, settings_.min_rto);
}

void UpstreamSet::choose(std::vector<unsigned>& order) {
    order.clear();
    for (unsigned i = 0; i < upstreams_.size(); ++i)
        if (!upstreams_[i].down) order.push_back(i);
    switch (policy_) {
    case Policy::sequential:
        break;
    case Policy::random:
        std::shuffle(order.begin(), order.end(), random_);
        break;
    case Policy::fastest:
        // Shuffled first, so that equally fast ones share the load.
        std::shuffle(order.begin(), order.end(), random_);
        std::stable_sort(order.begin(), order.end(), [&](unsigned a, unsigned b) {
            return upstreams_[a].rtt.smoothed(settings_) < upstreams_[b].rtt.smoothed(settings_);
        });
        break;
    }
}

bool UpstreamSet::all_down() const {
    return std::all_of(upstreams_.begin(), upstreams_.end(),
                       [](const UpstreamHealth& u) { return u.down; });
}

milliseconds UpstreamSet::timeout(unsigned i) const {
    return upstreams_[i].rtt.timeout(settings_);
}

void UpstreamSet::answered(unsigned i, microseconds rtt, Clock::time_point) {
    UpstreamHealth& u = upstreams_[i];
    u.rtt.sample(rtt);
    u.failures = 0;
    u.down = false;
    u.probing = false;
    ++u.answers;
}

void UpstreamSet::timed_out(unsigned i, Clock::time_point now) {
    UpstreamHealth& u = upstreams_[i];
    ++u.timeouts;
    u.rtt.back_off();
    count_failure(i, now);
}

void UpstreamSet::failed(unsigned i, Clock::time_point now) {
    ++upstreams_[i].errors;
    count_failure(i, now);
}

void UpstreamSet::count_failure(unsigned i, Clock::time_point now) {
    UpstreamHealth& u = upstreams_[i];
    if (++u.failures >= settings_.failures_before_down && !u.down) {
        u.down = true;
        u.probing = false;
        u.next_probe = now + settings_.probe_interval;
    }
}

std::optional<unsigned> UpstreamSet::take_probe(Clock::time_point now) {
    for (unsigned i = 0; i < upstreams_.size(); ++i) {
        UpstreamHealth& u = upstreams_[i];
        if (u.down && !u.probing && u.next_probe <= now) {
            u.probing = true;
            return i;
        }
    }
    return std::nullopt;
}

void UpstreamSet::probe_failed(unsigned i, Clock::time_point now) {
    UpstreamHealth& u = upstreams_[i];
    u.probing = false;
    u.next_probe = now + settings_.probe_interval;
}

std::optional<Clock::time_point> UpstreamSet::next_probe_at() const {
    std::optional<Clock::time_point> next;
    for (const UpstreamHealth& u : upstreams_)
        if (u.down && !u.probing && (!next || u.next_probe < *next)) next = u.next_probe;
    return next;
}

} // namespace cairn::dns::forward
