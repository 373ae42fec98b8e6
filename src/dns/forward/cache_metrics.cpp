#include "dns/forward/cache_metrics.hpp"

#include "core/metrics_text.hpp"

namespace cairn::dns::forward {

std::string format_cache_metrics(const CacheStats& s) {
    MetricsText m;
    m.gauge("cairn_dns_cache_entries", "Forwarded answers in the cache.", s.entries);
    m.gauge("cairn_dns_cache_bytes",
            "Bytes the cache counts against [dns.forward] cache_size (messages, keys, "
            "bookkeeping).",
            s.bytes);
    m.family("cairn_dns_cache_lookups_total", "counter",
             "Cache lookups of forwarded names, by result: a fresh answer served, or a miss "
             "(nothing, or only an expired answer).");
    m.sample("cairn_dns_cache_lookups_total", s.hits, {{"result", "hit"}});
    m.sample("cairn_dns_cache_lookups_total", s.misses, {{"result", "miss"}});
    m.counter("cairn_dns_cache_stale_served_total",
              "Expired answers served (TTL 30 s, RFC 8767) because every upstream failed.",
              s.stale_served);
    m.counter("cairn_dns_cache_stored_total", "Upstream answers stored.", s.stored);
    m.counter("cairn_dns_cache_evicted_total",
              "Entries dropped for room (least recently used first), not for age.", s.evicted);
    m.counter("cairn_dns_cache_prefetches_total",
              "Popular entries near expiry handed to the forwarder for a refresh.", s.prefetches);
    return std::move(m).text();
}

} // namespace cairn::dns::forward
