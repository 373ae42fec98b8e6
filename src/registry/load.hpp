#pragma once
// Reported load, for the least_loaded policy (docs/discovery.md): what a
// valid load is, how it is read from a check's output, when a report goes
// stale and when a change is worth replicating. Said once here; the health
// checks, the HTTP API and replication call it.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/result.hpp"
#include "registry/types.hpp"

namespace cairn::registry {

// A load is a whole number from 0 to max_load (active connections, requests
// in flight, or any count where lower is better).
inline constexpr std::uint32_t max_load = 1'000'000'000;

// "load: -3 is out of range (0 to 1000000000)".
[[nodiscard]] Result<std::uint32_t> load_value(std::int64_t load);

// The first `load=N` word of a check's output (a word starts the text or
// follows white space, ',', ';' or '&', and N is a whole number in range,
// followed by the end, white space, ',', ';' or '&'); none if there is
// none.
[[nodiscard]] std::optional<std::uint32_t> load_in_output(std::string_view output);

// A load is stale, and counts as unknown, once this long has passed without
// a new one: load_stale_periods of the check's cadence (its interval, or for
// a TTL check its ttl).
inline constexpr std::int64_t load_stale_periods = 3;
[[nodiscard]] std::int64_t load_stale_after_ms(const CheckDefinition& definition);

// Whether a load change is worth a new version (and a gossip broadcast): a
// load appears or goes, or moves by more than an eighth (so any change
// below 8, and 100 -> 113 but not 100 -> 112). Smaller moves reach the
// local snapshot at once and the cluster with the next replicated change.
[[nodiscard]] bool load_moved(std::optional<std::uint32_t> before,
                              std::optional<std::uint32_t> after);

} // namespace cairn::registry
