#include "http/prometheus_sd.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/ip_address.hpp"
#include "core/text.hpp"
#include "registry/types.hpp"

namespace cairn::http {

using nlohmann::json;

namespace {

// Every value of a repeatable query parameter, percent-decoded.
std::vector<std::string> query_values(const Request& r, std::string_view name) {
    std::vector<std::string> out;
    std::string_view q = r.query;
    while (!q.empty()) {
        std::size_t amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        std::size_t eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        std::string_view raw =
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        if (auto value = percent_decode(raw, true)) out.push_back(std::move(*value));
    }
    return out;
}

bool has_tag(const registry::Instance& i, std::string_view tag) {
    return std::any_of(i.tags.begin(), i.tags.end(), [&](const std::string& t) {
        return registry::to_lower(t) == registry::to_lower(tag);
    });
}

bool servable(const registry::Registry& registry, const registry::Instance& i) {
    registry::Health h = i.health();
    if (h != registry::Health::passing && h != registry::Health::warning) return false;
    const registry::Node* node = registry.find_node(i.node);
    return node == nullptr || node->alive; // an unknown node is this agent before it is set
}

std::string target_of(const registry::Instance& i) {
    std::string host = to_string(i.address);
    return i.address.family == 6 ? fmt::format("[{}]:{}", host, i.port)
                                 : fmt::format("{}:{}", host, i.port);
}

json group_of(const registry::Instance& i, const std::string& datacenter) {
    json labels = json::object();
    labels["__meta_cairn_service"] = i.service;
    labels["__meta_cairn_service_id"] = i.id;
    labels["__meta_cairn_node"] = i.node;
    labels["__meta_cairn_dc"] = datacenter;
    labels["__meta_cairn_address"] = to_string(i.address);
    labels["__meta_cairn_port"] = std::to_string(i.port);
    labels["__meta_cairn_health"] = std::string(registry::to_string(i.health()));
    labels["__meta_cairn_weight"] = std::to_string(i.weight);
    // As Prometheus's Consul discovery writes tags: joined by commas, with a
    // comma at each end, so that a relabel regex .*,tag,.* matches one tag.
    // (Appended, not "literal" + string: GCC 12 at -O3 warns falsely on that.)
    std::string tags(1, ',');
    for (const std::string& t : i.tags) tags.append(t).push_back(',');
    labels["__meta_cairn_tags"] = tags;
    for (const auto& [key, value] : i.meta)
        labels[fmt::format("__meta_cairn_service_metadata_{}", label_name_part(key))] = value;
    return json{{"targets", json::array({target_of(i)})}, {"labels", std::move(labels)}};
}

} // namespace

std::string label_name_part(std::string_view key) {
    std::string out(key);
    for (char& c : out)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
    return out;
}

Response prometheus_sd(const registry::Registry& registry, const Request& request,
                       const std::string& datacenter) {
    std::vector<std::string> services = query_values(request, "service");
    std::vector<std::string> tags = query_values(request, "tag");
    if (services.empty()) services = registry.service_names();
    std::sort(services.begin(), services.end());
    services.erase(std::unique(services.begin(), services.end()), services.end());
    json out = json::array();
    for (const std::string& name : services) {
        for (const registry::Instance* i : registry.instances_of(name)) {
            if (!servable(registry, *i)) continue;
            if (!std::all_of(tags.begin(), tags.end(),
                             [&](const std::string& t) { return has_tag(*i, t); }))
                continue;
            out.push_back(group_of(*i, datacenter));
        }
    }
    return Response::json(200, out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

} // namespace cairn::http
