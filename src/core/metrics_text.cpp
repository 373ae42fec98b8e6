#include "core/metrics_text.hpp"

#include <fmt/format.h>

namespace cairn {

void MetricsText::family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void MetricsText::sample(std::string_view name, double value, Labels labels) {
    line(name, labels, fmt::format("{:.6f}", value));
}

void MetricsText::line(std::string_view name, Labels labels, std::string_view value) {
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
