#include "http/route_metrics.hpp"

#include <array>
#include <vector>

#include "core/metrics_text.hpp"
#include "http/api.hpp"

namespace cairn::http {

std::string_view route_of(std::string_view path) {
    auto p = split_path(path);
    if (!p.empty() && p[0] == "ui") return "/ui/";
    if (p.size() == 1 && p[0] == "health") return "/health";
    if (p.size() == 1 && p[0] == "metrics") return "/metrics";
    if (p.size() < 2 || p[0] != "v1") return "other";
    // The Consul-compatible API (docs/consul-compatibility.md), by group.
    if (p[1] == "catalog" && p.size() >= 3) return "/v1/catalog/*";
    if (p[1] == "health" && p.size() >= 3) return "/v1/health/*";
    if (p[1] == "status" && p.size() >= 3) return "/v1/status/*";
    if (p[1] == "agent" && p.size() >= 3) return "/v1/agent/*";
    if (p.size() > 4) return "other";
    if (p[1] == "services") {
        if (p.size() == 2) return "/v1/services";
        if (p.size() == 3) return "/v1/services/:key";
        if (p[3] == "maintenance") return "/v1/services/:id/maintenance";
        return "other";
    }
    if (p[1] == "checks" && p.size() == 4) return "/v1/checks/:id/:status";
    if (p.size() == 2 && p[1] == "members") return "/v1/members";
    if (p.size() == 2 && p[1] == "agent") return "/v1/agent";
    if (p.size() == 3 && p[1] == "dns" && p[2] == "cache") return "/v1/dns/cache";
    if (p.size() == 3 && p[1] == "dns" && p[2] == "lookup") return "/v1/dns/lookup";
    if (p.size() == 3 && p[1] == "prometheus" && p[2] == "sd") return "/v1/prometheus/sd";
    if (p[1] == "keyring") {
        if (p.size() == 2) return "/v1/keyring";
        if (p.size() == 3) return "/v1/keyring/:op";
    }
    return "other";
}

std::string_view method_label(std::string_view method) {
    constexpr std::array<std::string_view, 5> known{"GET", "HEAD", "PUT", "POST", "DELETE"};
    for (std::string_view m : known)
        if (m == method) return m;
    return "other";
}

void RouteCounters::count(std::string_view route, std::string_view method, int status) {
    ++counts_[{route, method, status}];
}

std::string RouteCounters::metrics() const {
    MetricsText m;
    m.family("cairn_http_route_requests_total", "counter",
             "HTTP API requests answered, by route pattern, method and status code.");
    for (const auto& [key, n] : counts_) {
        const auto& [route, method, status] = key;
        m.sample("cairn_http_route_requests_total", n,
                 {{"route", route}, {"method", method}, {"code", std::to_string(status)}});
    }
    return std::move(m).text();
}

} // namespace cairn::http
