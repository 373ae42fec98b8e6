#include "core/duration.hpp"

#include <array>
#include <cstdint>

#include "core/text.hpp"

namespace cairn {
namespace {

constexpr std::size_t max_text = 32;
constexpr std::int64_t max_ms = max_duration.count();

struct Unit {
    std::string_view name;
    std::int64_t ms;
};
// Largest first: a duration's parts must follow this order.
constexpr std::array<Unit, 4> units = {{{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// The index in `units` of the unit at the start of `text`, or units.size().
std::size_t unit_at(std::string_view text) {
    if (text.starts_with("ms")) return 3;
    for (std::size_t i = 0; i < 3; ++i)
        if (text.starts_with(units[i].name)) return i;
    return units.size();
}

// One "<digits>[.<digits>]<unit>" at the front of `rest`, in units of
// 1/1e9 ms so that a fraction is exact; removes it from `rest`. `next_unit`
// is the smallest index the unit may have (the order rule).
Result<std::int64_t> read_part(std::string_view& rest, std::size_t& next_unit,
                               std::string_view text) {
    constexpr std::int64_t nano = 1'000'000'000;
    std::size_t i = 0;
    std::int64_t whole = 0;
    for (; i < rest.size() && is_digit(rest[i]); ++i) {
        whole = whole * 10 + (rest[i] - '0');
        if (whole > max_ms)
            return fail("{} is too long a duration (at most {})", quote(text),
                        format_duration(max_duration));
    }
    std::int64_t fraction = 0; // in units of 1e-9
    if (i < rest.size() && rest[i] == '.') {
        std::size_t start = ++i;
        std::int64_t scale = nano / 10;
        for (; i < rest.size() && is_digit(rest[i]); ++i, scale /= 10)
            fraction += (rest[i] - '0') * scale;
        if (i == start)
            return fail("{} is not a duration (a '.' must be followed by digits)", quote(text));
    }
    if (i == 0)
        return fail(
            "{} is not a duration (expected a number before each unit, e.g. \"5s\", \"1m30s\")",
            quote(text));
    std::size_t u = unit_at(rest.substr(i));
    if (u == units.size())
        return fail("{} is not a duration (each number needs a unit: h, m, s or ms)", quote(text));
    if (u < next_unit)
        return fail("{} is not a duration (units must go from h to m, s and ms, each at most once)",
                    quote(text));
    next_unit = u + 1;
    rest.remove_prefix(i + units[u].name.size());
    std::int64_t unit_ms = units[u].ms;
    if (whole > max_ms / unit_ms)
        return fail("{} is too long a duration (at most {})", quote(text),
                    format_duration(max_duration));
    // whole * unit_ms <= max_ms < 2^32, so the sum stays below 2^63.
    return whole * unit_ms * nano + fraction * unit_ms;
}

} // namespace

Result<Duration> parse_duration(std::string_view text) {
    constexpr std::int64_t nano = 1'000'000'000;
    if (text == "0") return Duration{0};
    if (text.empty())
        return fail("\"\" is not a duration (expected e.g. \"5s\", \"250ms\", \"1m30s\")");
    if (text.size() > max_text)
        return fail("{} is not a duration (longer than {} characters)", quote(text), max_text);
    std::int64_t total = 0; // in 1e-9 ms; checked after each part, so it cannot overflow
    std::size_t next_unit = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        auto part = read_part(rest, next_unit, text);
        if (!part) return std::unexpected(part.error());
        total += *part;
        if (total / nano > max_ms)
            return fail("{} is too long a duration (at most {})", quote(text),
                        format_duration(max_duration));
    }
    if (total % nano != 0) return fail("{} is not a whole number of milliseconds", quote(text));
    return Duration{total / nano};
}

std::string format_duration(Duration d) {
    std::int64_t ms = d.count();
    if (ms <= 0) return "0";
    std::string out;
    for (const Unit& unit : units) {
        if (ms >= unit.ms) {
            out += fmt::format("{}{}", ms / unit.ms, unit.name);
            ms %= unit.ms;
        }
    }
    return out;
}

} // namespace cairn

namespace cairn {
namespace {

constexpr std::size_t max_go_text = 64;

struct GoUnit {
    std::string_view name;
    std::int64_t ns;
};
// Longest names first where one is a prefix of another ("ms" before "m").
constexpr std::array<GoUnit, 8> go_units = {{{"ns", 1},
                                             {"us", 1'000},
                                             {"\xC2\xB5s", 1'000}, // µs (U+00B5)
                                             {"\xCE\xBCs", 1'000}, // μs (U+03BC)
                                             {"ms", 1'000'000},
                                             {"s", 1'000'000'000},
                                             {"m", 60'000'000'000},
                                             {"h", 3'600'000'000'000}}};

constexpr std::int64_t max_go_ns = std::chrono::nanoseconds(max_duration).count();

} // namespace

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text) {
    if (text.size() > max_go_text)
        return fail("{} is not a duration (longer than {} characters)", quote(text), max_go_text);
    std::string_view rest = text;
    if (rest.starts_with('-'))
        return fail("{} is not a duration (it must not be negative)", quote(text));
    if (rest.starts_with('+')) rest.remove_prefix(1);
    if (rest == "0") return std::chrono::nanoseconds{0};
    if (rest.empty())
        return fail("{} is not a duration (expected e.g. \"10s\", \"1m30s\", \"250ms\")",
                    quote(text));
    // Whole parts and fractions are kept apart in nanoseconds so that
    // "1.5s" is exact; the checks against max_go_ns keep every product in
    // range (max_duration is far below 2^63 ns).
    std::int64_t total = 0;
    while (!rest.empty()) {
        std::size_t i = 0;
        std::int64_t whole = 0;
        for (; i < rest.size() && is_digit(rest[i]); ++i) {
            whole = whole * 10 + (rest[i] - '0');
            if (whole > max_go_ns) return fail("{} is too long a duration", quote(text));
        }
        std::size_t whole_digits = i;
        std::string_view digits_after;
        if (i < rest.size() && rest[i] == '.') {
            std::size_t start = ++i;
            while (i < rest.size() && is_digit(rest[i])) ++i;
            digits_after = rest.substr(start, i - start);
        }
        if (whole_digits == 0 && digits_after.empty())
            return fail("{} is not a duration (expected a number before each unit)", quote(text));
        rest.remove_prefix(i);
        const GoUnit* unit = nullptr;
        for (const GoUnit& u : go_units)
            if (rest.starts_with(u.name)) {
                unit = &u;
                break;
            }
        if (!unit)
            return fail("{} is not a duration (each number needs a unit: ns, us, ms, s, m or h)",
                        quote(text));
        rest.remove_prefix(unit->name.size());
        if (whole > max_go_ns / unit->ns) return fail("{} is too long a duration", quote(text));
        std::int64_t part = whole * unit->ns;
        std::int64_t scale = unit->ns;
        for (char c : digits_after) {
            scale /= 10;
            if (scale == 0) break; // below a nanosecond
            part += (c - '0') * scale;
        }
        total += part;
        if (total > max_go_ns)
            return fail("{} is too long a duration (at most {})", quote(text),
                        format_duration(max_duration));
    }
    return std::chrono::nanoseconds{total};
}

Duration ceil_to_ms(std::chrono::nanoseconds d) {
    return std::chrono::ceil<Duration>(d);
}

} // namespace cairn
