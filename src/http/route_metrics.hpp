#pragma once
// HTTP API requests by route and status for /metrics. The route is the
// pattern the API matched (/v1/services/:key), never the raw path, so the
// number of series stays bounded whatever clients send: a path no route
// matches is "other", a method the API does not use is "other".
//
//   RouteCounters counters;
//   counters.count(route_of(r.path), method_label(r.method), 200);
//   std::string text = counters.metrics();

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

namespace cairn::http {

// The pattern of `path` (percent-decoded, without the query): "/health",
// "/metrics", "/v1/services", "/v1/services/:key",
// "/v1/services/:id/maintenance", "/v1/checks/:id/:status", "/v1/members",
// "/v1/keyring", "/v1/keyring/:op", "/v1/agent", "/v1/dns/cache"; the
// Consul-compatible groups "/v1/catalog/*", "/v1/health/*", "/v1/status/*",
// "/v1/agent/*"; else "other". A route added to the API is added here too.
[[nodiscard]] std::string_view route_of(std::string_view path);
// GET, HEAD, PUT, POST or DELETE; anything else "other".
[[nodiscard]] std::string_view method_label(std::string_view method);

// Main loop only (the API's thread), like the API itself.
class RouteCounters {
public:
    // `route` and `method` are what route_of() and method_label() return
    // (static strings); `status` is the response's.
    void count(std::string_view route, std::string_view method, int status);
    // cairn_http_route_requests_total{route,method,code}: the series seen so far.
    [[nodiscard]] std::string metrics() const;

private:
    std::map<std::tuple<std::string_view, std::string_view, int>, std::uint64_t> counts_;
};

} // namespace cairn::http
