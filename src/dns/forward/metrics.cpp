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

    m.family("cairn_dns_upstream_sent_total", "counter", "Queries and probes sent, by upstream.");
    for (const auto& u : s.upstreams)
        m.sample("cairn_dns_upstream_sent_total", u.sent, {{"upstream", u.address}});
    m.family("cairn_dns_upstream_answers_total", "counter",
             "Well-formed replies received, by upstream.");
    for (const auto& u : s.upstreams)
        m.sample("cairn_dns_upstream_answers_total", u.answers, {{"upstream", u.address}});
    m.family("cairn_dns_upstream_timeouts_total", "counter", "Timeouts, by upstream.");
    for (const auto& u : s.upstreams)
        m.sample("cairn_dns_upstream_timeouts_total", u.timeouts, {{"upstream", u.address}});
    m.family("cairn_dns_upstream_errors_total", "counter",
             "Failures other than timeouts, by upstream.");
    for (const auto& u : s.upstreams)
        m.sample("cairn_dns_upstream_errors_total", u.errors, {{"upstream", u.address}});
    m.family("cairn_dns_upstream_rtt_seconds", "gauge",
             "Smoothed round-trip time (RFC 6298), by upstream; 0 before its first reply.");
    for (const auto& u : s.upstreams)
        m.sample("cairn_dns_upstream_rtt_seconds", static_cast<double>(u.srtt_us) / 1e6,
                 {{"upstream", u.address}});
    m.family("cairn_dns_upstream_timeout_seconds", "gauge",
             "The adaptive timeout of the next query, by upstream.");
    for (const auto& u : s.upstreams)
        m.sample("cairn_dns_upstream_timeout_seconds", static_cast<double>(u.timeout_ms) / 1e3,
                 {{"upstream", u.address}});
    m.family("cairn_dns_upstream_up", "gauge",
             "1 while the upstream is used, 0 while it is down (skipped and probed).");
    for (const auto& u : s.upstreams)
        m.sample("cairn_dns_upstream_up", u.down ? 0 : 1, {{"upstream", u.address}});
    return std::move(m).text();
}

} // namespace cairn::dns::forward
