#pragma once
// What the health prober counts for /metrics: probe results by check kind
// and outcome, how long probes took, and ejections for flapping. Main loop
// only, like the prober.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/metrics_text.hpp"
#include "registry/types.hpp"

namespace cairn::health {

struct CheckStats {
    static constexpr std::size_t kinds = 4;    // registry::CheckKind: http, tcp, script, ttl
    static constexpr std::size_t outcomes = 3; // passing, warning, critical
    // Bounds of the duration histogram, in microseconds.
    static constexpr std::array<std::uint64_t, 12> duration_bounds_us{
        1'000,   5'000,   10'000,    25'000,    50'000,    100'000,
        250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

    // A probe's result (or a TTL check's report or expiry): its outcome, and
    // for probes how long they took.
    void count(registry::CheckKind kind, registry::Health outcome,
               std::optional<std::uint32_t> duration_us);
    void count_ejection(registry::CheckKind kind) { ++ejections[index(kind)]; }

    std::array<std::array<std::uint64_t, outcomes>, kinds> results{};
    std::array<DurationHistogram, kinds> durations{
        DurationHistogram(duration_bounds_us), DurationHistogram(duration_bounds_us),
        DurationHistogram(duration_bounds_us), DurationHistogram(duration_bounds_us)};
    std::array<std::uint64_t, kinds> ejections{};

    static std::size_t index(registry::CheckKind kind) {
        auto k = static_cast<std::size_t>(kind);
        return k < kinds ? k : kinds - 1;
    }
};

// cairn_health_checks (gauge), cairn_health_check_results_total{kind,result},
// cairn_health_check_duration_seconds{kind} (histogram, TTL checks have none)
// and cairn_health_ejections_total{kind}.
[[nodiscard]] std::string format_check_metrics(const CheckStats& stats, std::size_t checks);

} // namespace cairn::health
