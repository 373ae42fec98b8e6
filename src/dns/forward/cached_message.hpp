#pragma once
// One forwarded answer as the cache keeps it, and how it is served again.
// Pure and allocation-free when serving; the cache (cache.hpp) holds these in
// its shards. Parses upstream bytes, so every read is bounds-checked
// (tests/fuzz/cache_message.cpp).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/result.hpp"
#include "dns/wire/query.hpp"

namespace cairn::dns::forward {

struct CacheSettings;

struct CachedMessage {
    // The upstream message without its OPT record (ARCOUNT lowered) and
    // without bytes after the last record; TTLs as stored (capped, the
    // negative SOA's set to the negative TTL).
    std::vector<std::uint8_t> wire;
    // Offset in `wire` of every record's 32-bit TTL field, and that TTL.
    std::vector<std::uint16_t> ttl_offsets;
    std::vector<std::uint32_t> ttls;
    std::uint32_t lifetime_s = 0; // how long it is fresh: the smallest TTL
    bool negative = false;        // NXDOMAIN or NODATA
};

// Reads `response` (an upstream's answer to `query`) into what the cache
// keeps; an error says why it is not cacheable (malformed, truncated, an
// rcode other than NOERROR and NXDOMAIN, a question that is not the query's,
// a negative answer without SOA, TTL 0, ...).
[[nodiscard]] Result<CachedMessage> prepare_for_cache(const Query& query,
                                                      std::span<const std::uint8_t> response,
                                                      const CacheSettings& settings);

// How one served copy differs from the stored one.
struct ServeAs {
    std::uint32_t elapsed_s = 0;   // since it was stored: subtracted from each TTL
    std::uint32_t fixed_ttl = 0;   // when not 0, every TTL is this instead (stale answers)
    std::uint16_t udp_payload = 0; // the OPT's payload size, when the client sent EDNS
};

// Writes `message` for the client whose query is `query` (its bytes
// `packet`) into `out`, at most `limit` bytes (see cache.hpp for what is
// rewritten); header and question with TC when it does not fit. Returns the
// length, 0 when `out` cannot hold even that. Never allocates.
[[nodiscard]] std::size_t serve_cached(const CachedMessage& message, const Query& query,
                                       std::span<const std::uint8_t> packet, const ServeAs& as,
                                       std::span<std::uint8_t> out, std::size_t limit) noexcept;

} // namespace cairn::dns::forward
