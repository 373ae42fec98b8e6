#pragma once
// The check state machine: turns a stream of probe results into the status
// the registry serves. Pure: time comes in with every call (a monotonic ms
// for durations, the wall clock for CheckState::last_change_ms), so tests
// drive it with a fake clock and no sleeping.
//
// Rules (docs/health.md; Consul's semantics for the counters):
// - A passing or warning result counts as a success; after
//   success_before_passing consecutive successes the status becomes that
//   result. A healthy check stays healthy and follows passing <-> warning at
//   once.
// - A critical result counts as a failure; after failures_before_warning
//   consecutive failures a healthy check shows warning, after
//   failures_before_critical it is critical.
// - Ejection (see ejection.hpp): a check that falls to critical soon after it
//   was readmitted is held critical, whatever its probes say, until it has
//   gone the ejection time without failing.
// - deregister_critical_after: should_deregister() turns true once the check
//   has been critical that long.
// - Load: a result that reports one (ProbeResult::load, or a `load=N` word in
//   its output) sets CheckState::load; a result without one keeps the last
//   until it is registry::load_stale_after_ms() old, then the load is gone.
//
// Used only from the main loop.

#include <cstdint>
#include <optional>
#include <string>

#include "health/ejection.hpp"
#include "registry/types.hpp"

namespace cairn::health {

// One clock reading: monotonic for durations, wall for what users see.
struct Now {
    std::int64_t mono_ms = 0;
    std::int64_t wall_ms = 0;
};

// What one probe found.
struct ProbeResult {
    registry::Health status = registry::Health::critical;
    std::string output;
    std::optional<std::uint32_t> latency_us; // measured by HTTP and TCP probes
    // A load the probe found (an HTTP check's JSON body); else the machine
    // looks for a `load=N` word in the output (registry/load.hpp).
    std::optional<std::uint32_t> load = std::nullopt;
};

// Outputs are cut to this many bytes (docs/health.md: at most 4 KiB).
inline constexpr std::size_t max_output_bytes = 4096;

class CheckMachine {
public:
    // `initial` is the status the check starts with (critical unless the
    // registration said otherwise, or restored); `now` is when it starts.
    CheckMachine(const registry::CheckDefinition& definition, registry::CheckState initial,
                 EjectionPolicy policy, Now now);

    // Feeds one result. Returns true if the status changed.
    bool observe(ProbeResult result, Now now);

    [[nodiscard]] const registry::CheckState& state() const { return state_; }
    [[nodiscard]] bool ejected(std::int64_t mono_ms) const { return ejection_.holds(mono_ms); }
    [[nodiscard]] const Ejection& ejection() const { return ejection_; }
    // True when the last observe() ejected the check (for /metrics).
    [[nodiscard]] bool just_ejected() const { return just_ejected_; }
    // True once the check has been critical for deregister_critical_after.
    [[nodiscard]] bool should_deregister(std::int64_t mono_ms) const;

private:
    [[nodiscard]] registry::Health next_status(registry::Health observed,
                                               std::int64_t mono_ms) const;
    void update_latency(std::uint32_t sample_us);
    void update_load(std::optional<std::uint32_t> reported, std::int64_t mono_ms);

    std::uint32_t success_before_passing_;
    std::uint32_t failures_before_warning_;
    std::uint32_t failures_before_critical_;
    std::int64_t deregister_critical_after_ms_;
    registry::CheckState state_;
    Ejection ejection_;
    std::uint32_t successes_ = 0;
    std::uint32_t failures_ = 0;
    std::int64_t critical_since_ms_ = 0; // monotonic; meaningful while critical
    std::int64_t load_stale_after_ms_;
    std::int64_t load_at_ms_ = 0; // monotonic; when state_.load was reported
    bool has_latency_ = false;
    bool just_ejected_ = false;
};

// Cuts `text` to at most max_output_bytes without splitting a UTF-8 sequence.
void truncate_output(std::string& text);

} // namespace cairn::health
