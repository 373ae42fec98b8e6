#pragma once
// Prometheus' text exposition format (version 0.0.4), which /metrics
// serves: every layer that exports figures writes them with this one
// writer, so that the format is said once.
//
//   MetricsText m;
//   m.family("cairn_dns_queries_total", "counter", "DNS queries received.");
//   m.sample("cairn_dns_queries_total", 42, {{"transport", "udp"}});
//   std::string text = std::move(m).text();
//
// gives "# HELP cairn_dns_queries_total DNS queries received.\n# TYPE
// cairn_dns_queries_total counter\ncairn_dns_queries_total{transport="udp"} 42\n".

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn {

// The histogram bucket of `value`: the first whose upper bound it does not
// exceed, or bounds.size() above them all.
inline std::size_t histogram_bucket(std::span<const std::uint64_t> bounds, std::uint64_t value) {
    std::size_t b = 0;
    while (b < bounds.size() && value > bounds[b]) ++b;
    return b;
}

// Durations in microseconds counted for one histogram series: one count
// per bucket of `bounds_us` (ascending upper bounds; the last bucket is
// above them) and their sum. One owner thread.
struct DurationHistogram {
    explicit DurationHistogram(std::span<const std::uint64_t> bounds)
        : bounds_us(bounds)
        , buckets(bounds.size() + 1) {}
    void add(std::uint64_t us) {
        ++buckets[histogram_bucket(bounds_us, us)];
        sum_us += us;
    }

    std::span<const std::uint64_t> bounds_us;
    std::vector<std::uint64_t> buckets;
    std::uint64_t sum_us = 0;
};

class MetricsText {
public:
    using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

    // The "# HELP" and "# TYPE" lines, once before a metric's samples;
    // `type` is "counter", "gauge" or "histogram".
    void family(std::string_view name, std::string_view type, std::string_view help);
    // One sample line: name{label="value",...} value. Label values are
    // escaped as the format says (backslash, double quote, newline).
    template <std::integral Value>
    void sample(std::string_view name, Value value, Labels labels = {}) {
        line(name, labels, std::to_string(value));
    }
    // Seconds and other fractions, with six decimals.
    void sample(std::string_view name, double value, Labels labels = {});
    // A family with a single unlabelled sample.
    template <class Value>
    void counter(std::string_view name, std::string_view help, Value value) {
        family(name, "counter", help);
        sample(name, value);
    }
    template <class Value>
    void gauge(std::string_view name, std::string_view help, Value value) {
        family(name, "gauge", help);
        sample(name, value);
    }

    // One histogram's samples (after family(name, "histogram", ...)):
    // name_bucket{...,le="bound"} for each bound and "+Inf", cumulative;
    // name_sum and name_count. `counts` is per bucket, not cumulative: one
    // more than `bounds`, the last being the count above the last bound.
    void histogram(std::string_view name, std::span<const double> bounds,
                   std::span<const std::uint64_t> counts, double sum, Labels labels = {});
    // The same for durations, in seconds.
    void histogram(std::string_view name, const DurationHistogram& h, Labels labels = {});

    [[nodiscard]] std::string text() && { return std::move(out_); }

private:
    using LabelSpan = std::span<const std::pair<std::string_view, std::string_view>>;
    void line(std::string_view name, LabelSpan labels, std::string_view value);
    void line(std::string_view name, Labels labels, std::string_view value) {
        line(name, LabelSpan(labels.begin(), labels.size()), value);
    }

    std::string out_;
};

} // namespace cairn
