#pragma once
// The one duration syntax of cairn, for config files, the HTTP API and the
// state it keeps. A duration is "0", or one to four parts, each a decimal
// number (a fraction allowed) and a unit, the units in the order h, m, s, ms
// and each at most once: "250ms", "5s", "1.5s", "1m30s", "2h45m", "1s500ms".
// The value must be a whole number of milliseconds (cairn's resolution) and
// at most max_duration; the text at most 32 characters. Repeating a unit
// ("1m1m"), putting a smaller unit first ("30s1m"), microseconds ("250us"),
// signs, spaces and upper case are errors.

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace cairn {

using Duration = std::chrono::milliseconds;

// 30 days: every duration cairn reads fits in 32 bits of milliseconds.
inline constexpr Duration max_duration = std::chrono::hours(30 * 24);

// Errors quote the text (escaped) and say what is wrong with it.
[[nodiscard]] Result<Duration> parse_duration(std::string_view text);
// The shortest form parse_duration reads back: "0", "250ms", "5s", "1m30s",
// "1h0m1s" is written "1h1s".
[[nodiscard]] std::string format_duration(Duration d);

} // namespace cairn

namespace cairn {

// Go's time.ParseDuration syntax, which Consul's API speaks ("10s",
// "1m30s", "1.5h", "250ms", "500us", "120000ms", "0"): parts in any order,
// units ns, us (or µs), ms, s, m, h, a leading '+' allowed. Negative
// durations are refused (nothing cairn reads can be negative), as is
// anything above max_duration. At most 64 characters.
[[nodiscard]] Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

// Nanoseconds to cairn's milliseconds, rounded up so that a positive
// duration never becomes 0.
[[nodiscard]] Duration ceil_to_ms(std::chrono::nanoseconds d);

} // namespace cairn
