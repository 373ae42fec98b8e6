#include "registry/load.hpp"

#include <algorithm>

namespace cairn::registry {

Result<std::uint32_t> load_value(std::int64_t load) {
    if (load < 0 || load > max_load)
        return fail("load: {} is out of range (0 to {})", load, max_load);
    return static_cast<std::uint32_t>(load);
}

namespace {

bool separator(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';' || c == '&';
}

} // namespace

std::optional<std::uint32_t> load_in_output(std::string_view output) {
    constexpr std::string_view key = "load=";
    for (std::size_t at = output.find(key); at != std::string_view::npos;
         at = output.find(key, at + 1)) {
        if (at > 0 && !separator(output[at - 1])) continue;
        std::size_t p = at + key.size();
        std::uint64_t value = 0;
        std::size_t digits = 0;
        while (p < output.size() && output[p] >= '0' && output[p] <= '9' && digits < 11) {
            value = value * 10 + static_cast<std::uint64_t>(output[p] - '0');
            ++p;
            ++digits;
        }
        if (digits == 0 || (p < output.size() && !separator(output[p]))) continue;
        if (value > max_load) continue;
        return static_cast<std::uint32_t>(value);
    }
    return std::nullopt;
}

std::int64_t load_stale_after_ms(const CheckDefinition& definition) {
    std::int64_t cadence =
        definition.kind == CheckKind::ttl ? definition.ttl_ms : definition.interval_ms;
    return load_stale_periods * std::max<std::int64_t>(cadence, 1'000);
}

bool load_moved(std::optional<std::uint32_t> before, std::optional<std::uint32_t> after) {
    if (before.has_value() != after.has_value()) return true;
    if (!before) return false;
    std::uint32_t delta = *after > *before ? *after - *before : *before - *after;
    return delta > *before / 8;
}

} // namespace cairn::registry
