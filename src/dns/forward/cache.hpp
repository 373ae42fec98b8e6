#pragma once
// The cache of forwarded answers, shared by every DNS worker thread.
//
// Pure logic: no sockets, no clock of its own (`now` is passed in), so it is
// unit-tested without waiting. Keyed by the question's lower-cased name, type,
// class and the DO bit. What it keeps (docs/forwarding.md, "The cache"):
//
// - positive answers (NOERROR with records) for the smallest TTL among their
//   records; negative answers (NXDOMAIN, and NODATA: NOERROR without answers)
//   only with the zone's SOA in authority, for min(SOA TTL, SOA minimum)
//   (RFC 2308 §5); nothing truncated, no other rcode, nothing with TTL 0;
// - never a name at or below cairn's own domain: those come fresh from the
//   registry.
//
// What it serves is the stored message rewritten for the client: its ID, its
// question bytes (so its case), its RD and CD, RA set, AA cleared, every TTL
// counted down by the time since the answer was stored, and an OPT record
// when the client sent one (DO echoed). An answer that does not fit the
// client's limit is sent as header and question with TC, for the TCP retry.
//
// Thread safety: every method may be called from any thread. The entries are
// split over shards by a hash of the name, each shard behind its own mutex,
// so workers asking different names do not meet. A hit allocates nothing.
//
// Size: `max_bytes` counts each entry's stored message, key and bookkeeping;
// past it, the shard drops its least recently used entries.
//
// Prefetch: a hit on an entry that was asked `prefetch_hits` times and has
// under a tenth of its TTL left says so (once per stored answer); the
// forwarder then asks upstream again in the background and stores the
// answer, so popular names never expire for their clients.
//
// Serve-stale (RFC 8767): an expired entry is kept `stale_limit_s` longer.
// lookup() reports it as `stale` without serving it; the forwarder calls
// lookup_stale() only when every upstream has failed, which serves it with
// every TTL 30 s (RFC 8767 §4).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "dns/wire/query.hpp"
#include "dns/wire/wire.hpp"

namespace cairn::dns::forward {

using Clock = std::chrono::steady_clock;

struct CacheSettings {
    std::size_t max_bytes = std::size_t{32} << 20; // whole cache; 0 disables storing
    std::uint32_t max_ttl_s = 86400;               // longer TTLs are kept and served as this
    std::uint32_t max_negative_ttl_s = 3600;       // the same for negative answers
    std::uint32_t stale_limit_s = 86400; // how long past expiry an answer may be served stale
    std::uint32_t stale_ttl_s = 30;      // the TTL of a stale answer (RFC 8767 §4)
    std::uint32_t prefetch_hits = 2;     // hits before an entry counts as popular
    std::uint16_t udp_payload = 1232;    // advertised in the OPT of what is served
    NameBuffer own_domain;               // never stored at or below (lower case); empty: none
    std::size_t shards = 64;             // rounded up to a power of two
};

enum class CacheStatus : std::uint8_t {
    miss,  // nothing usable: ask upstream
    hit,   // a fresh answer was written to `out`
    stale, // expired but within stale_limit: ask upstream; lookup_stale() if all fail
};

struct CacheAnswer {
    CacheStatus status = CacheStatus::miss;
    std::size_t size = 0;  // bytes written to `out` (0 unless served)
    bool prefetch = false; // popular and about to expire: refresh it from upstream now
};

struct CacheStats {
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t stale_served = 0;
    std::uint64_t stored = 0;
    std::uint64_t evicted = 0; // dropped for room (LRU), not for age
    std::uint64_t prefetches = 0;
};

class Cache {
public:
    explicit Cache(const CacheSettings& settings);
    ~Cache();
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;

    // A fresh answer to `query` (parsed from `packet`, the client's bytes),
    // written to `out` ready to send. `limit` is the most the client takes
    // (response_limit(query, tcp)). Never allocates.
    [[nodiscard]] CacheAnswer lookup(const Query& query, std::span<const std::uint8_t> packet,
                                     Clock::time_point now, std::span<std::uint8_t> out,
                                     std::size_t limit) noexcept;

    // The same answer when fresh, or an expired one within stale_limit with
    // stale TTLs (status `stale`, size > 0). Only for when every upstream is
    // failing.
    [[nodiscard]] CacheAnswer lookup_stale(const Query& query, std::span<const std::uint8_t> packet,
                                           Clock::time_point now, std::span<std::uint8_t> out,
                                           std::size_t limit) noexcept;

    // Stores an upstream's response to `query` (its ID and question already
    // checked by the forwarder), replacing what was there, if it is cacheable
    // (see above). Returns whether it was stored.
    bool store(const Query& query, std::span<const std::uint8_t> response, Clock::time_point now);

    // Removes everything; returns the number of entries removed.
    std::size_t flush() noexcept;
    // Removes every type, class and DO variant of one name (exactly that
    // name, not those below it).
    std::size_t flush(WireName name) noexcept;

    [[nodiscard]] CacheStats stats() const noexcept;
    [[nodiscard]] const CacheSettings& settings() const noexcept { return settings_; }

private:
    struct Shard;
    [[nodiscard]] CacheAnswer find(const Query& query, std::span<const std::uint8_t> packet,
                                   Clock::time_point now, std::span<std::uint8_t> out,
                                   std::size_t limit, bool allow_stale) noexcept;
    [[nodiscard]] Shard& shard_for(WireName lower_name) const noexcept;

    CacheSettings settings_;
    std::size_t shard_bytes_ = 0; // max_bytes split over the shards
    std::size_t shard_mask_ = 0;
    std::unique_ptr<Shard[]> shards_;
};

} // namespace cairn::dns::forward
