#pragma once
// Which upstream resolver to ask, how long to wait for it, and whether it is
// up: the forwarder's upstream health as pure logic. No sockets and no clock
// of its own (`now` is passed in), so it is unit-tested without waiting.
//
// - Timeouts adapt to each upstream's measured latency, as TCP's
//   retransmission timer does (RFC 6298) and unbound's infra cache for its
//   servers: a smoothed RTT and its variation give the timeout
//   srtt + 4 * rttvar, within [min_rto, max_rto]; before the first answer it
//   is `initial_rto`. A timeout doubles it (no sample is taken from an
//   answer that came after a retry: Karn's rule is the caller's, which only
//   reports answers to the attempt it timed).
// - `failures_before_down` timeouts or errors in a row mark an upstream down:
//   queries skip it, and every `probe_interval` the forwarder probes it in
//   the background; the first answer (to a probe or a query) brings it back.
// - Policies order the upstreams that are up: `sequential` in configuration
//   order, `random` shuffled per query, `fastest` by smoothed RTT (those not
//   measured yet count as `initial_rto`).
//
// Used only from the forwarder's thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace cairn::dns::forward {

using Clock = std::chrono::steady_clock;

enum class Policy : std::uint8_t { sequential, random, fastest };

[[nodiscard]] Result<Policy> parse_policy(std::string_view text);
[[nodiscard]] std::string_view to_string(Policy policy);

struct HealthSettings {
    std::chrono::milliseconds initial_rto{400};
    std::chrono::milliseconds min_rto{100};
    std::chrono::milliseconds max_rto{2000};
    unsigned failures_before_down = 3;
    std::chrono::milliseconds probe_interval{1000};
};

// RFC 6298 §2: alpha 1/8, beta 1/4, K 4; clock granularity 1 ms.
class RttEstimator {
public:
    void sample(std::chrono::microseconds rtt);
    // A timeout: the next timeout is twice as long (up to max_rto).
    void back_off() { ++backoffs_; }
    [[nodiscard]] std::chrono::milliseconds timeout(const HealthSettings& s) const;
    [[nodiscard]] bool measured() const { return measured_; }
    // The smoothed RTT; initial_rto when not measured.
    [[nodiscard]] std::chrono::microseconds smoothed(const HealthSettings& s) const;

private:
    double srtt_us_ = 0;
    double rttvar_us_ = 0;
    unsigned backoffs_ = 0;
    bool measured_ = false;
};

struct UpstreamHealth {
    RttEstimator rtt;
    unsigned failures = 0; // in a row
    bool down = false;
    bool probing = false;         // a probe is out
    Clock::time_point next_probe; // while down
    std::uint64_t answers = 0, timeouts = 0, errors = 0;
};

class UpstreamSet {
public:
    UpstreamSet(std::size_t count, Policy policy, HealthSettings settings, std::uint64_t seed);

    [[nodiscard]] std::size_t size() const { return upstreams_.size(); }
    [[nodiscard]] Policy policy() const { return policy_; }
    [[nodiscard]] const HealthSettings& settings() const { return settings_; }
    [[nodiscard]] const UpstreamHealth& health(unsigned i) const { return upstreams_[i]; }

    // The upstreams to try for one query, in order, those that are down left
    // out; empty when all are down.
    void choose(std::vector<unsigned>& order);
    [[nodiscard]] bool all_down() const;
    // How long to wait for upstream `i` before trying the next.
    [[nodiscard]] std::chrono::milliseconds timeout(unsigned i) const;

    // Upstream `i` answered (any well-formed response) after `rtt`.
    void answered(unsigned i, std::chrono::microseconds rtt, Clock::time_point now);
    // Upstream `i` did not answer within its timeout.
    void timed_out(unsigned i, Clock::time_point now);
    // Sending to `i` failed, or its answer was unusable (network error,
    // refused TCP connection).
    void failed(unsigned i, Clock::time_point now);

    // A down upstream whose probe is due at `now`, marked as being probed; the
    // caller sends the probe and reports answered() or probe_failed().
    [[nodiscard]] std::optional<unsigned> take_probe(Clock::time_point now);
    void probe_failed(unsigned i, Clock::time_point now);
    // When the next probe is due, if any upstream is down and not probing.
    [[nodiscard]] std::optional<Clock::time_point> next_probe_at() const;

private:
    void count_failure(unsigned i, Clock::time_point now);

    std::vector<UpstreamHealth> upstreams_;
    Policy policy_;
    HealthSettings settings_;
    std::mt19937_64 random_;
};

} // namespace cairn::dns::forward
