#include "dns/server/metrics.hpp"

#include <fmt/format.h>

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
    std::string out;
    out += "# HELP cairn_dns_queries_total DNS queries received, by transport.\n"
           "# TYPE cairn_dns_queries_total counter\n";
    out += fmt::format("cairn_dns_queries_total{{transport=\"udp\"}} {}\n", s.udp_queries);
    out += fmt::format("cairn_dns_queries_total{{transport=\"tcp\"}} {}\n", s.tcp_queries);

    out += "# HELP cairn_dns_responses_total DNS answers made, by transport and the RCODE in "
           "their header.\n"
           "# TYPE cairn_dns_responses_total counter\n";
    for (std::size_t t = 0; t < s.answers.size(); ++t)
        for (std::size_t rcode = 0; rcode < s.answers[t].by_rcode.size(); ++rcode)
            if (always_shown(rcode) || s.answers[t].by_rcode[rcode] != 0)
                out += fmt::format(
                    "cairn_dns_responses_total{{transport=\"{}\",rcode=\"{}\"}} {}\n",
                    transport_names[t], rcode_name(rcode), s.answers[t].by_rcode[rcode]);

    out += "# HELP cairn_dns_truncated_total DNS answers with TC set (the client should retry "
           "over TCP), by transport.\n"
           "# TYPE cairn_dns_truncated_total counter\n";
    for (std::size_t t = 0; t < s.answers.size(); ++t)
        out += fmt::format("cairn_dns_truncated_total{{transport=\"{}\"}} {}\n", transport_names[t],
                           s.answers[t].truncated);

    out += "# HELP cairn_dns_dropped_total DNS queries not answered: not DNS, oversized, a failed "
           "send, or a TCP connection refused (over the per-address limit).\n"
           "# TYPE cairn_dns_dropped_total counter\n";
    out += fmt::format("cairn_dns_dropped_total {}\n", s.dropped);

    out += "# HELP cairn_dns_tcp_connections Open DNS TCP connections.\n"
           "# TYPE cairn_dns_tcp_connections gauge\n";
    out += fmt::format("cairn_dns_tcp_connections {}\n", s.tcp_connections);
    out += "# HELP cairn_dns_tcp_connections_total DNS TCP connections accepted, and closed by "
           "the server: to make room under the cap (evicted) or for being idle (timeout).\n"
           "# TYPE cairn_dns_tcp_connections_total counter\n";
    out +=
        fmt::format("cairn_dns_tcp_connections_total{{result=\"accepted\"}} {}\n", s.tcp_accepted);
    out += fmt::format("cairn_dns_tcp_connections_total{{result=\"evicted\"}} {}\n", s.tcp_evicted);
    out +=
        fmt::format("cairn_dns_tcp_connections_total{{result=\"timeout\"}} {}\n", s.tcp_timeouts);
    return out;
}

} // namespace cairn::dns
