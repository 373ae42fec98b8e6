#include "health/check_stats.hpp"

#include "core/metrics_text.hpp"

namespace cairn::health {

using registry::CheckKind;
using registry::Health;

void CheckStats::count(CheckKind kind, Health outcome, std::optional<std::uint32_t> duration_us) {
    std::size_t k = index(kind);
    std::size_t o = outcome == Health::passing ? 0 : outcome == Health::warning ? 1 : 2;
    ++results[k][o];
    if (duration_us) durations[k].add(*duration_us);
}

std::string format_check_metrics(const CheckStats& s, std::size_t checks) {
    constexpr std::array<const char*, CheckStats::outcomes> outcome_names{"passing", "warning",
                                                                          "critical"};
    MetricsText m;
    m.gauge("cairn_health_checks", "Health checks this agent runs.", checks);
    m.family("cairn_health_check_results_total", "counter",
             "Health check results by check kind and outcome (a probe's result; for TTL checks "
             "a report or an expiry), before the thresholds that turn them into a status.");
    for (std::size_t k = 0; k < CheckStats::kinds; ++k)
        for (std::size_t o = 0; o < CheckStats::outcomes; ++o)
            m.sample("cairn_health_check_results_total", s.results[k][o],
                     {{"kind", registry::to_string(static_cast<CheckKind>(k))},
                      {"result", outcome_names[o]}});
    m.family("cairn_health_check_duration_seconds", "histogram",
             "How long health check probes took, by check kind (HTTP and TCP as the probe "
             "measured them, scripts from start to exit).");
    for (std::size_t k = 0; k < CheckStats::kinds; ++k) {
        if (static_cast<CheckKind>(k) == CheckKind::ttl) continue;
        m.histogram("cairn_health_check_duration_seconds", s.durations[k],
                    {{"kind", registry::to_string(static_cast<CheckKind>(k))}});
    }
    m.family("cairn_health_ejections_total", "counter",
             "Checks held critical for flapping (fell soon after being readmitted), by kind.");
    for (std::size_t k = 0; k < CheckStats::kinds; ++k)
        m.sample("cairn_health_ejections_total", s.ejections[k],
                 {{"kind", registry::to_string(static_cast<CheckKind>(k))}});
    return std::move(m).text();
}

} // namespace cairn::health
