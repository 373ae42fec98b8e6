#pragma once
// The cache's figures as Prometheus text (cairn_dns_cache_*), for GET
// /metrics; documented in docs/http-api.md.

#include <string>

#include "dns/forward/cache.hpp"

namespace cairn::dns::forward {

[[nodiscard]] std::string format_cache_metrics(const CacheStats& stats);

} // namespace cairn::dns::forward
