#pragma once
// Circuit-breaker ejection with exponential back-off, in the spirit of Envoy's
// outlier detection. Pure bookkeeping over a monotonic clock in ms; no I/O.
//
// An instance that falls to critical soon after it was *re*admitted (within
// `probation_ms` of coming back from an earlier fall) is flapping. It is then
// ejected: held out of DNS until it has gone `ejection_ms()` without a single
// failed probe, however many probes pass meanwhile. Each ejection in a streak
// doubles that time, up to `max_ms`; each `probation_ms` of uninterrupted
// health afterwards forgives one step. The first admission after a
// registration is not a readmission, so "stop the server, start it again"
// brings the instance back after success_before_passing passes as expected.
//
// A service that flaps (up 1 s, down 1 s) never goes `ejection_ms()` without a
// failure, so after its second fall it stays out until it really settles.
//
// Used only from the main loop.

#include <cstdint>

namespace cairn::health {

struct EjectionPolicy {
    std::int64_t base_ms = 40'000;       // the first ejection in a streak
    std::int64_t max_ms = 300'000;       // the cap on doubling
    std::int64_t probation_ms = 100'000; // "soon after readmission"; also the decay period

    // The defaults for a check run every `interval_ms`: base 4 x interval,
    // probation 10 x interval, cap 5 min (or base, if that is longer).
    [[nodiscard]] static EjectionPolicy for_interval(std::int64_t interval_ms);
};

class Ejection {
public:
    explicit Ejection(EjectionPolicy policy)
        : policy_(policy) {}

    // The check became healthy (passing or warning) at `now_ms`.
    void admitted(std::int64_t now_ms);
    // The check fell from healthy to critical at `now_ms`. Returns true if
    // this ejects it.
    bool fell(std::int64_t now_ms);
    // A probe failed at `now_ms`: while ejected, the failure-free window
    // starts again.
    void failed(std::int64_t now_ms);
    // A probe succeeded while the check is admitted: forgives one step of
    // back-off per probation period of uninterrupted health.
    void stayed_healthy(std::int64_t now_ms);

    // True while the check is held out.
    [[nodiscard]] bool holds(std::int64_t now_ms) const;
    // Ejections in the current streak (0 = none).
    [[nodiscard]] int level() const { return level_; }
    // How long the check must go without failing to be readmitted, at the
    // current level.
    [[nodiscard]] std::int64_t ejection_ms() const;
    [[nodiscard]] const EjectionPolicy& policy() const { return policy_; }

private:
    EjectionPolicy policy_;
    int level_ = 0;
    bool ejected_ = false;
    bool has_fallen_ = false; // readmissions, not the first admission, are on probation
    std::int64_t probation_until_ms_ = -1;
    std::int64_t last_failure_ms_ = 0;
    std::int64_t healthy_mark_ms_ = 0; // start of the current decay period
};

} // namespace cairn::health
