#include "dns/server/metrics.hpp"

#include <array>

#include <fmt/format.h>

#include "core/metrics_text.hpp"

namespace cairn::dns {

namespace {

constexpr const char* transport_names[] = {"udp", "tcp"};

// RFC 1035 and RFC 2136 names of the header's RCODE values; the others by
// number.
std::string rcode_name(std::size_t rcode) {
    constexpr const char* names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                     "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                     "NXRRSET", "NOTAUTH", "NOTZONE"};
    if (rcode < std::size(names)) return names[rcode];
    return fmt::format("RCODE{}", rcode);
}

// The RCODEs cairn answers with are always shown, so that their series
// exist from the start; any other only once it was counted.
bool always_shown(std::size_t rcode) {
    return rcode <= 5;
}

} // namespace

std::string format_metrics(const Server::Stats& s) {
    MetricsText m;
    m.family("cairn_dns_queries_total", "counter", "DNS queries received, by transport.");
    m.sample("cairn_dns_queries_total", s.udp_queries, {{"transport", "udp"}});
    m.sample("cairn_dns_queries_total", s.tcp_queries, {{"transport", "tcp"}});

    m.family("cairn_dns_responses_total", "counter",
             "DNS answers made, by transport and the RCODE in their header.");
    for (std::size_t t = 0; t < s.answers.size(); ++t)
        for (std::size_t rcode = 0; rcode < s.answers[t].by_rcode.size(); ++rcode)
            if (always_shown(rcode) || s.answers[t].by_rcode[rcode] != 0)
                m.sample("cairn_dns_responses_total", s.answers[t].by_rcode[rcode],
                         {{"transport", transport_names[t]}, {"rcode", rcode_name(rcode)}});

    m.family("cairn_dns_truncated_total", "counter",
             "DNS answers with TC set (the client should retry over TCP), by transport.");
    for (std::size_t t = 0; t < s.answers.size(); ++t)
        m.sample("cairn_dns_truncated_total", s.answers[t].truncated,
                 {{"transport", transport_names[t]}});

    m.counter("cairn_dns_deferred_total",
              "DNS queries whose answer came later (forwarded upstream), counted when deferred; "
              "their answers are in cairn_dns_responses_total when sent.",
              s.deferred);

    m.counter("cairn_dns_dropped_total",
              "DNS queries not answered: not DNS, oversized, a failed send, or a TCP connection "
              "refused (over the per-address limit).",
              s.dropped);

    m.gauge("cairn_dns_tcp_connections", "Open DNS TCP connections.", s.tcp_connections);
    m.family("cairn_dns_tcp_connections_total", "counter",
             "DNS TCP connections accepted, and closed by the server: to make room under the cap "
             "(evicted) or for being idle (timeout).");
    m.sample("cairn_dns_tcp_connections_total", s.tcp_accepted, {{"result", "accepted"}});
    m.sample("cairn_dns_tcp_connections_total", s.tcp_evicted, {{"result", "evicted"}});
    m.sample("cairn_dns_tcp_connections_total", s.tcp_timeouts, {{"result", "timeout"}});

    std::array<double, Server::Stats::latency_bounds_ns.size()> bounds{};
    for (std::size_t b = 0; b < bounds.size(); ++b)
        bounds[b] = static_cast<double>(Server::Stats::latency_bounds_ns[b]) / 1e9;
    m.family("cairn_dns_answer_duration_seconds", "histogram",
             "Time from reading a DNS query to its answer being made, by transport (UDP: from "
             "the read of its batch).");
    for (std::size_t t = 0; t < s.latency.size(); ++t)
        m.histogram("cairn_dns_answer_duration_seconds", bounds, s.latency[t].buckets,
                    static_cast<double>(s.latency[t].sum_ns) / 1e9,
                    {{"transport", transport_names[t]}});
    return std::move(m).text();
}

} // namespace cairn::dns
