// The one Prometheus text writer behind /metrics.

#include <doctest/doctest.h>

#include <string>

#include "core/metrics_text.hpp"

using cairn::MetricsText;

TEST_CASE("families, samples and labels in the text exposition format") {
    MetricsText m;
    m.family("cairn_x_total", "counter", "Things counted.");
    m.sample("cairn_x_total", std::uint64_t{42}, {{"transport", "udp"}, {"rcode", "NOERROR"}});
    m.sample("cairn_x_total", 0, {{"transport", "tcp"}});
    m.gauge("cairn_open", "Open now.", std::size_t{3});
    m.counter("cairn_seconds_total", "Time spent.", 1.25);
    m.gauge("cairn_score", "A score.", -1);
    CHECK(std::move(m).text() == "# HELP cairn_x_total Things counted.\n"
                                 "# TYPE cairn_x_total counter\n"
                                 "cairn_x_total{transport=\"udp\",rcode=\"NOERROR\"} 42\n"
                                 "cairn_x_total{transport=\"tcp\"} 0\n"
                                 "# HELP cairn_open Open now.\n"
                                 "# TYPE cairn_open gauge\n"
                                 "cairn_open 3\n"
                                 "# HELP cairn_seconds_total Time spent.\n"
                                 "# TYPE cairn_seconds_total counter\n"
                                 "cairn_seconds_total 1.250000\n"
                                 "# HELP cairn_score A score.\n"
                                 "# TYPE cairn_score gauge\n"
                                 "cairn_score -1\n");
}

TEST_CASE("label values are escaped") {
    MetricsText m;
    m.sample("cairn_x", 1, {{"name", "a\\b\"c\nd"}});
    CHECK(std::move(m).text() == "cairn_x{name=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST_CASE("a histogram's buckets are cumulative, with +Inf, _sum and _count") {
    MetricsText m;
    const double bounds[] = {0.001, 0.5};
    const std::uint64_t counts[] = {2, 0, 3};
    m.family("cairn_x_seconds", "histogram", "Times.");
    m.histogram("cairn_x_seconds", bounds, counts, 4.5, {{"kind", "tcp"}});
    CHECK(std::move(m).text() == "# HELP cairn_x_seconds Times.\n"
                                 "# TYPE cairn_x_seconds histogram\n"
                                 "cairn_x_seconds_bucket{kind=\"tcp\",le=\"0.001\"} 2\n"
                                 "cairn_x_seconds_bucket{kind=\"tcp\",le=\"0.5\"} 2\n"
                                 "cairn_x_seconds_bucket{kind=\"tcp\",le=\"+Inf\"} 5\n"
                                 "cairn_x_seconds_sum{kind=\"tcp\"} 4.500000\n"
                                 "cairn_x_seconds_count{kind=\"tcp\"} 5\n");
}
