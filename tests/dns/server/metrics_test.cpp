// The DNS counters: what a thread counts from an answer's header, and how
// /metrics shows the sum.

#include <doctest/doctest.h>

#include <string>

#include "dns/server/metrics.hpp"
#include "dns/server/stats.hpp"

using namespace cairn::dns;

namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

} // namespace

TEST_CASE(
    "a thread counts each answer by the RCODE and TC bit in its header, under its transport") {
    WorkerStats udp;
    const std::uint8_t nxdomain_tc[12] = {0x12, 0x34, 0x82, 0x03};
    const std::uint8_t noerror[12] = {0x12, 0x34, 0x80, 0x00};
    udp.count_answer(nxdomain_tc, sizeof nxdomain_tc);
    udp.count_answer(noerror, sizeof noerror);
    udp.count_answer(noerror, 2); // too short to be DNS: not counted
    WorkerStats tcp;
    tcp.count_answer(noerror, sizeof noerror);

    Server::Stats total;
    udp.add_to(total, Transport::udp);
    tcp.add_to(total, Transport::tcp);
    const auto& u = total.answers[static_cast<std::size_t>(Transport::udp)];
    const auto& t = total.answers[static_cast<std::size_t>(Transport::tcp)];
    CHECK(u.by_rcode[0] == 1);
    CHECK(u.by_rcode[3] == 1);
    CHECK(u.truncated == 1);
    CHECK(t.by_rcode[0] == 1);
    CHECK(t.truncated == 0);
}

TEST_CASE("format_metrics: queries, answers by transport and rcode, truncations, drops, TCP "
          "connections") {
    Server::Stats s;
    s.udp_queries = 10;
    s.tcp_queries = 4;
    s.dropped = 2;
    s.tcp_connections = 1;
    s.tcp_accepted = 3;
    s.tcp_evicted = 1;
    s.tcp_timeouts = 5;
    s.answers[0].by_rcode[0] = 6;
    s.answers[0].by_rcode[3] = 2;
    s.answers[0].by_rcode[9] = 7; // not one cairn sends: shown because counted
    s.answers[0].truncated = 1;
    s.answers[1].by_rcode[5] = 4;
    std::string text = format_metrics(s);

    CHECK(has_line(text, "# TYPE cairn_dns_queries_total counter"));
    CHECK(has_line(text, R"(cairn_dns_queries_total{transport="udp"} 10)"));
    CHECK(has_line(text, R"(cairn_dns_queries_total{transport="tcp"} 4)"));
    CHECK(has_line(text, R"(cairn_dns_responses_total{transport="udp",rcode="NOERROR"} 6)"));
    CHECK(has_line(text, R"(cairn_dns_responses_total{transport="udp",rcode="NXDOMAIN"} 2)"));
    CHECK(has_line(text, R"(cairn_dns_responses_total{transport="udp",rcode="NOTAUTH"} 7)"));
    CHECK(has_line(text, R"(cairn_dns_responses_total{transport="tcp",rcode="REFUSED"} 4)"));
    // NOERROR to REFUSED always have a series; other rcodes only once counted.
    CHECK(has_line(text, R"(cairn_dns_responses_total{transport="tcp",rcode="SERVFAIL"} 0)"));
    CHECK(text.find(R"(transport="tcp",rcode="NOTAUTH")") == std::string::npos);
    CHECK(text.find("RCODE1") == std::string::npos);
    CHECK(has_line(text, R"(cairn_dns_truncated_total{transport="udp"} 1)"));
    CHECK(has_line(text, R"(cairn_dns_truncated_total{transport="tcp"} 0)"));
    CHECK(has_line(text, "cairn_dns_dropped_total 2"));
    CHECK(has_line(text, "# TYPE cairn_dns_tcp_connections gauge"));
    CHECK(has_line(text, "cairn_dns_tcp_connections 1"));
    CHECK(has_line(text, R"(cairn_dns_tcp_connections_total{result="accepted"} 3)"));
    CHECK(has_line(text, R"(cairn_dns_tcp_connections_total{result="evicted"} 1)"));
    CHECK(has_line(text, R"(cairn_dns_tcp_connections_total{result="timeout"} 5)"));
    // Every line is a comment or "name{labels} value".
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        REQUIRE(end != std::string::npos);
        std::string line = text.substr(start, end - start);
        CAPTURE(line);
        CHECK((line.rfind("# ", 0) == 0 || line.rfind("cairn_dns_", 0) == 0));
        start = end + 1;
    }
}

TEST_CASE("answer latency: a thread files each answer in the first bucket whose bound it does not "
          "exceed; /metrics shows the histogram per transport in seconds") {
    WorkerStats udp;
    udp.count_latency(1'500);      // <= 2 us
    udp.count_latency(2'000);      // <= 2 us (bounds are inclusive)
    udp.count_latency(7'200);      // <= 10 us
    udp.count_latency(50'000'000); // above the last bound
    Server::Stats total;
    udp.add_to(total, Transport::udp);
    const auto& l = total.latency[static_cast<std::size_t>(Transport::udp)];
    CHECK(l.buckets[0] == 2);
    CHECK(l.buckets[1] == 0);
    CHECK(l.buckets[2] == 1);
    CHECK(l.buckets.back() == 1);
    CHECK(l.sum_ns == 50'010'700);

    std::string text = format_metrics(total);
    CHECK(has_line(text, "# TYPE cairn_dns_answer_duration_seconds histogram"));
    CHECK(has_line(text,
                   R"(cairn_dns_answer_duration_seconds_bucket{transport="udp",le="2e-06"} 2)"));
    CHECK(has_line(text,
                   R"(cairn_dns_answer_duration_seconds_bucket{transport="udp",le="1e-05"} 3)"));
    CHECK(
        has_line(text, R"(cairn_dns_answer_duration_seconds_bucket{transport="udp",le="0.01"} 3)"));
    CHECK(
        has_line(text, R"(cairn_dns_answer_duration_seconds_bucket{transport="udp",le="+Inf"} 4)"));
    CHECK(has_line(text, R"(cairn_dns_answer_duration_seconds_count{transport="udp"} 4)"));
    CHECK(has_line(text, R"(cairn_dns_answer_duration_seconds_sum{transport="udp"} 0.050011)"));
    CHECK(has_line(text, R"(cairn_dns_answer_duration_seconds_count{transport="tcp"} 0)"));
}
