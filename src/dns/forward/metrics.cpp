#include "dns/forward/metrics.hpp"

#include "core/metrics_text.hpp"

namespace cairn::dns::forward {

std::string format_metrics(const ForwarderStats& s) {
    MetricsText m;
    m.counter("cairn_dns_forward_queries_total",
              "Client queries (and cache prefetches) handed to the forwarder.", s.queries);
    m.counter("cairn_dns_forward_joined_total",
              "Of those, joined an identical query already in flight (not sent again).", s.joined);
    m.counter("cairn_dns_forward_sent_total", "Queries sent to upstreams, UDP and TCP.", s.sent);
    m.counter("cairn_dns_forward_tcp_retries_total",
              "Truncated upstream replies asked again over TCP.", s.tcp_retries);
    m.family("cairn_dns_forward_answers_total", "counter",
             "Forwarded client queries answered, by how: from an upstream's reply, stale from "
             "the cache or SERVFAIL when every upstream failed or is down.");
    m.sample("cairn_dns_forward_answers_total", s.answered, {{"result", "upstream"}});
    m.sample("cairn_dns_forward_answers_total", s.stale, {{"result", "stale"}});
    m.sample("cairn_dns_forward_answers_total", s.servfail, {{"result", "servfail"}});
    m.counter("cairn_dns_forward_timeouts_total", "Upstream attempts that timed out.", s.timeouts);
    m.counter("cairn_dns_forward_failures_total",
              "Upstream attempts that failed: send errors, failed TCP, error RCODEs.", s.failures);
    m.family("cairn_dns_forward_bad_replies_total", "counter",
             "Upstream replies dropped: malformed, larger than asked, or not matching the query "
             "(ID, question, source address and port); late ones (after their upstream's "
             "timeout, while the query still waited) were taken and are counted too.");
    m.sample("cairn_dns_forward_bad_replies_total", s.malformed, {{"reason", "malformed"}});
    m.sample("cairn_dns_forward_bad_replies_total", s.oversized, {{"reason", "oversized"}});
    m.sample("cairn_dns_forward_bad_replies_total", s.mismatched, {{"reason", "mismatched"}});
    m.sample("cairn_dns_forward_bad_replies_total", s.late, {{"reason", "late"}});

    // A family with one sample per upstream, labelled with its address.
    const auto per_upstream = [&](const char* name, const char* type, const char* help,
                                  auto value) {
        m.family(name, type, help);
        for (const auto& u : s.upstreams) m.sample(name, value(u), {{"upstream", u.address}});
    };
    using Upstream = ForwarderStats::Upstream;
    per_upstream("cairn_dns_upstream_sent_total", "counter",
                 "Queries and probes sent, by upstream.", [](const Upstream& u) { return u.sent; });
    per_upstream("cairn_dns_upstream_answers_total", "counter",
                 "Well-formed replies received, by upstream.",
                 [](const Upstream& u) { return u.answers; });
    per_upstream("cairn_dns_upstream_timeouts_total", "counter", "Timeouts, by upstream.",
                 [](const Upstream& u) { return u.timeouts; });
    per_upstream("cairn_dns_upstream_errors_total", "counter",
                 "Failures other than timeouts, by upstream.",
                 [](const Upstream& u) { return u.errors; });
    per_upstream("cairn_dns_upstream_rtt_seconds", "gauge",
                 "Smoothed round-trip time (RFC 6298), by upstream; 0 before its first reply.",
                 [](const Upstream& u) { return static_cast<double>(u.srtt_us) / 1e6; });
    per_upstream("cairn_dns_upstream_timeout_seconds", "gauge",
                 "The adaptive timeout of the next query, by upstream.",
                 [](const Upstream& u) { return static_cast<double>(u.timeout_ms) / 1e3; });
    m.family("cairn_dns_upstream_duration_seconds", "histogram",
             "Time from a query (or probe) sent to its well-formed reply, by upstream.");
    for (const auto& u : s.upstreams)
        m.histogram("cairn_dns_upstream_duration_seconds", u.durations, {{"upstream", u.address}});
    per_upstream("cairn_dns_upstream_up", "gauge",
                 "1 while the upstream is used, 0 while it is down (skipped and probed).",
                 [](const Upstream& u) { return u.down ? 0 : 1; });
    return std::move(m).text();
}

} // namespace cairn::dns::forward
