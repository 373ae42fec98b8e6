#include "core/metrics_text.hpp"

#include <vector>

#include <fmt/format.h>

namespace cairn {

void MetricsText::family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void MetricsText::sample(std::string_view name, double value, Labels labels) {
    line(name, labels, fmt::format("{:.6f}", value));
}

void MetricsText::histogram(std::string_view name, std::span<const double> bounds,
                            std::span<const std::uint64_t> counts, double sum, Labels labels) {
    std::vector<std::pair<std::string_view, std::string_view>> with_le(labels.begin(),
                                                                       labels.end());
    with_le.emplace_back("le", "");
    std::string bucket = fmt::format("{}_bucket", name);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        total += counts[i];
        std::string le = i < bounds.size() ? fmt::format("{}", bounds[i]) : "+Inf";
        with_le.back().second = le;
        line(bucket, LabelSpan(with_le), std::to_string(total));
    }
    line(fmt::format("{}_sum", name), labels, fmt::format("{:.6f}", sum));
    line(fmt::format("{}_count", name), labels, std::to_string(total));
}

void MetricsText::histogram(std::string_view name, const DurationHistogram& h, Labels labels) {
    std::vector<double> bounds;
    bounds.reserve(h.bounds_us.size());
    for (std::uint64_t us : h.bounds_us) bounds.push_back(static_cast<double>(us) / 1e6);
    histogram(name, bounds, h.buckets, static_cast<double>(h.sum_us) / 1e6, labels);
}

void MetricsText::line(std::string_view name, LabelSpan labels, std::string_view value) {
    out_ += name;
    if (labels.size() != 0) {
        char separator = '{';
        for (const auto& [label, text] : labels) {
            out_ += separator;
            out_ += label;
            out_ += "=\"";
            for (char c : text) {
                if (c == '\\' || c == '"')
                    out_ += {'\\', c};
                else if (c == '\n')
                    out_ += "\\n";
                else
                    out_ += c;
            }
            out_ += '"';
            separator = ',';
        }
        out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
}

} // namespace cairn
