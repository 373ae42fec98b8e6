// Consul's read endpoints in Consul's JSON shapes, over the whole cluster's
// registry (docs/consul-compatibility.md). Every instance has an owning
// node; a node's liveness is Consul's `serfHealth` check, maintenance is
// the `_service_maintenance:<id>` check.

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/duration.hpp"
#include "core/text.hpp"
#include "http/api.hpp"

namespace cairn::http {

using nlohmann::json;
using registry::Health;
using registry::Instance;

namespace {

// Consul's node IDs are UUIDs; cairn's nodes have names only, so the ID is
// made from the name (FNV-1a, twice), the same on every agent.
std::string node_id(std::string_view name) {
    auto fnv = [&](std::uint64_t h) {
        for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
        return h;
    };
    std::uint64_t a = fnv(0xcbf29ce484222325ULL), b = fnv(0x84222325cbf29ce4ULL);
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                       a & 0xffff, b >> 48, b & 0xffffffffffffULL);
}

std::string_view consul_status(Health h) {
    return h == Health::passing ? "passing" : h == Health::warning ? "warning" : "critical";
}

// Every value of a repeated query parameter (?tag=a&tag=b), percent-decoded.
std::vector<std::string> query_values(const Request& r, std::string_view name) {
    std::vector<std::string> out;
    std::string_view rest = r.query;
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        auto eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
        if (value) out.push_back(std::move(*value));
    }
    return out;
}

json tagged_addresses(const std::string& address) {
    if (address.empty()) return json::object();
    bool v6 = address.find(':') != std::string::npos;
    return {{"lan", address},
            {v6 ? "lan_ipv6" : "lan_ipv4", address},
            {"wan", address},
            {v6 ? "wan_ipv6" : "wan_ipv4", address}};
}

json service_json(const Instance& i) {
    json meta = json::object();
    for (const auto& [k, v] : i.meta) meta[k] = v;
    return {{"ID", i.id},
            {"Service", i.service},
            {"Tags", i.tags},
            {"Address", cairn::to_string(i.address)},
            {"TaggedAddresses", json::object()},
            {"Meta", std::move(meta)},
            {"Port", i.port},
            {"Weights", {{"Passing", i.weight}, {"Warning", 1}}},
            {"EnableTagOverride", false},
            {"CreateIndex", i.version},
            {"ModifyIndex", i.version}};
}

std::string_view check_type(registry::CheckKind k) {
    switch (k) {
    case registry::CheckKind::http:
        return "http";
    case registry::CheckKind::tcp:
        return "tcp";
    case registry::CheckKind::script:
        return "script";
    case registry::CheckKind::ttl:
        return "ttl";
    }
    return "";
}

json check_json(const Instance& i, std::string check_id, std::string name, Health status,
                std::string notes, std::string output, std::string type) {
    return {{"Node", i.node},
            {"CheckID", std::move(check_id)},
            {"Name", std::move(name)},
            {"Status", consul_status(status)},
            {"Notes", std::move(notes)},
            {"Output", std::move(output)},
            {"ServiceID", i.id},
            {"ServiceName", i.service},
            {"ServiceTags", i.tags},
            {"Type", std::move(type)},
            {"Interval", ""},
            {"Timeout", ""},
            {"Definition", json::object()},
            {"CreateIndex", i.version},
            {"ModifyIndex", i.version}};
}

// The instance's checks, and its maintenance as Consul shows it.
json service_checks(const Instance& i) {
    json out = json::array();
    for (const registry::Check& c : i.checks) {
        const registry::CheckDefinition& d = c.definition;
        json j = check_json(i, d.id, fmt::format("Service '{}' check", i.service), c.state.status,
                            "", c.state.output, std::string(check_type(d.kind)));
        if (d.kind != registry::CheckKind::ttl)
            j["Interval"] = format_duration(Duration{d.interval_ms});
        j["Timeout"] = format_duration(Duration{d.timeout_ms});
        out.push_back(std::move(j));
    }
    if (i.maintenance)
        out.push_back(check_json(i, fmt::format("_service_maintenance:{}", i.id),
                                 "Service Maintenance Mode", Health::critical,
                                 i.maintenance_reason.empty()
                                     ? "Maintenance mode is enabled for this service, but no "
                                       "reason was provided. This is a default message."
                                     : i.maintenance_reason,
                                 "", "maintenance"));
    return out;
}

bool has_tags(const Instance& i, const std::vector<std::string>& tags) {
    return std::ranges::all_of(tags, [&](const std::string& want) {
        return std::ranges::any_of(i.tags, [&](const std::string& t) {
            return registry::to_lower(t) == registry::to_lower(want);
        });
    });
}

bool has_meta(const json& meta, const std::vector<std::string>& wanted) {
    return std::ranges::all_of(wanted, [&](const std::string& kv) {
        auto colon = kv.find(':');
        std::string key = kv.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : kv.substr(colon + 1);
        auto it = meta.find(key);
        return it != meta.end() && it->is_string() && it->get<std::string>() == value;
    });
}

} // namespace

bool Api::node_alive(const std::string& name) const {
    const registry::Node* n = registry_.find_node(name);
    return !n || n->alive;
}

json Api::consul_node(const std::string& name) const {
    std::string address, datacenter = options_.datacenter;
    json meta = json::object();
    if (const registry::Node* n = registry_.find_node(name)) {
        if (n->address.family != 0) address = cairn::to_string(n->address);
        if (!n->datacenter.empty()) datacenter = n->datacenter;
        for (const auto& [k, v] : n->meta) meta[k] = v;
    } else if (name == options_.node_name && options_.address.family != 0) {
        address = cairn::to_string(options_.address);
    }
    return {{"ID", node_id(name)},
            {"Node", name},
            {"Address", address},
            {"Datacenter", datacenter},
            {"TaggedAddresses", tagged_addresses(address)},
            {"Meta", std::move(meta)},
            {"CreateIndex", 1},
            {"ModifyIndex", 1}};
}

std::optional<std::string> Api::consul_read_key(const std::vector<std::string_view>& parts) {
    if (parts.size() < 3) return std::nullopt;
    std::string_view group = parts[1], what = parts[2];
    if (parts.size() == 3) {
        if (group == "agent" && (what == "self" || what == "services" || what == "checks"))
            return std::string(any_service_key);
        if (group == "catalog" && what == "services") return std::string(any_service_key);
        if (group == "catalog" && (what == "nodes" || what == "datacenters"))
            return std::string(nodes_key);
        if (group == "status" && (what == "leader" || what == "peers"))
            return std::string(nodes_key);
    }
    if (parts.size() == 4) {
        if ((group == "catalog" && what == "service") ||
            (group == "health" && (what == "service" || what == "checks")))
            return service_key(registry::to_lower(parts[3]));
        if (group == "health" && what == "state") return std::string(any_service_key);
    }
    return std::nullopt;
}

Response Api::consul_read(const Request& r, const std::vector<std::string_view>& parts) const {
    std::string_view group = parts[1], what = parts[2];
    auto ok = [](const json& j) { return Response::json(200, dump(j)); };
    if (parts.size() == 3) {
        if (group == "agent" && what == "self") return consul_agent_self();
        if (group == "agent" && what == "services") return consul_agent_services();
        if (group == "agent" && what == "checks") return consul_agent_checks();
        if (group == "catalog" && what == "services") return consul_catalog_services();
        if (group == "catalog" && what == "nodes") return consul_catalog_nodes();
        if (group == "catalog" && what == "datacenters")
            return ok(json::array({options_.datacenter}));
        // There is no leader: every agent answers for the cluster, so each
        // names itself.
        std::string self =
            fmt::format("{}:{}", cairn::to_string(options_.address), options_.http_port);
        if (what == "leader") return ok(json(self));
        return ok(json::array({self}));
    }
    std::string arg(parts[3]);
    if (what == "service") return consul_service(r, arg, group == "health");
    if (what == "checks") return consul_health_checks(arg);
    return consul_health_state(arg);
}

Response Api::consul_agent_self() const {
    json self = consul_node(options_.node_name);
    json config = {{"Datacenter", options_.datacenter},
                   {"PrimaryDatacenter", options_.datacenter},
                   {"NodeName", options_.node_name},
                   {"NodeID", node_id(options_.node_name)},
                   {"Server", false},
                   {"Revision", ""},
                   {"Version", options_.version}};
    json member = {{"Name", options_.node_name},
                   {"Addr", self["Address"]},
                   {"Port", 0},
                   {"Tags", {{"dc", options_.datacenter}, {"role", "node"}}},
                   {"Status", 1}};
    return Response::json(200, dump(json{{"Config", std::move(config)},
                                         {"DebugConfig", json::object()},
                                         {"Coord", json::object()},
                                         {"Member", std::move(member)},
                                         {"Stats", json::object()},
                                         {"Meta", self["Meta"]}}));
}

Response Api::consul_agent_services() const {
    json out = json::object();
    for (const Instance* i : registry_.local_instances()) {
        json s = service_json(*i);
        s["Datacenter"] = options_.datacenter;
        out[i->id] = std::move(s);
    }
    return Response::json(200, dump(out));
}

Response Api::consul_agent_checks() const {
    json out = json::object();
    for (const Instance* i : registry_.local_instances())
        for (json& c : service_checks(*i)) {
            std::string id = c["CheckID"].get<std::string>();
            out[id] = std::move(c);
        }
    return Response::json(200, dump(out));
}

Response Api::consul_catalog_services() const {
    json out = json::object();
    for (const std::string& name : registry_.service_names()) {
        auto instances = registry_.instances_of(name);
        if (instances.empty()) continue;
        std::set<std::string> tags;
        for (const Instance* i : instances) tags.insert(i->tags.begin(), i->tags.end());
        out[instances.front()->service] = json(std::vector<std::string>(tags.begin(), tags.end()));
    }
    return Response::json(200, dump(out));
}

Response Api::consul_catalog_nodes() const {
    std::set<std::string> names = {options_.node_name};
    for (const registry::Node* n : registry_.nodes()) names.insert(n->name);
    json out = json::array();
    for (const std::string& name : names) out.push_back(consul_node(name));
    return Response::json(200, dump(out));
}

// catalog/service and health/service: the same instances in the same
// order (the registry's: by node, then id), filtered the same way.
Response Api::consul_service(const Request& r, const std::string& name, bool health) const {
    std::vector<std::string> tags = query_values(r, "tag");
    std::vector<std::string> node_meta = query_values(r, "node-meta");
    bool passing_only = health && r.query_param("passing").has_value();
    json out = json::array();
    for (const Instance* i : registry_.instances_of(name)) {
        if (!has_tags(*i, tags)) continue;
        json node = consul_node(i->node);
        if (!has_meta(node["Meta"], node_meta)) continue;
        bool alive = node_alive(i->node);
        if (passing_only && (!alive || i->health() != Health::passing)) continue;
        json service = service_json(*i);
        if (!health) {
            json flat = {{"ID", node["ID"]},
                         {"Node", node["Node"]},
                         {"Address", node["Address"]},
                         {"Datacenter", node["Datacenter"]},
                         {"TaggedAddresses", node["TaggedAddresses"]},
                         {"NodeMeta", node["Meta"]}};
            for (const auto& [k, v] : service.items())
                flat[k == "CreateIndex" || k == "ModifyIndex" ? k
                     : k == "Service"                         ? std::string("ServiceName")
                                                              : fmt::format("Service{}", k)] = v;
            out.push_back(std::move(flat));
            continue;
        }
        json checks = json::array();
        checks.push_back(check_json(
            *i, "serfHealth", "Serf Health Status", alive ? Health::passing : Health::critical, "",
            alive ? "Agent alive and reachable" : "Agent not live or unreachable", ""));
        for (const char* k : {"ServiceID", "ServiceName"}) checks[0][k] = "";
        checks[0]["ServiceTags"] = json::array();
        for (json& c : service_checks(*i)) checks.push_back(std::move(c));
        out.push_back({{"Node", std::move(node)},
                       {"Service", std::move(service)},
                       {"Checks", std::move(checks)}});
    }
    return Response::json(200, dump(out));
}

Response Api::consul_health_checks(const std::string& service) const {
    json out = json::array();
    for (const Instance* i : registry_.instances_of(service))
        for (json& c : service_checks(*i)) out.push_back(std::move(c));
    return Response::json(200, dump(out));
}

Response Api::consul_health_state(const std::string& state) const {
    if (state != "any" && state != "passing" && state != "warning" && state != "critical")
        return Response::error(
            400, fmt::format("state: {} is not any, passing, warning or critical", quote(state)));
    json out = json::array();
    auto add = [&](json c) {
        if (state == "any" || c["Status"] == state) out.push_back(std::move(c));
    };
    std::set<std::string> nodes = {options_.node_name};
    for (const registry::Node* n : registry_.nodes()) nodes.insert(n->name);
    for (const std::string& node : nodes) {
        bool alive = node_alive(node);
        add({{"Node", node},
             {"CheckID", "serfHealth"},
             {"Name", "Serf Health Status"},
             {"Status", alive ? "passing" : "critical"},
             {"Notes", ""},
             {"Output", alive ? "Agent alive and reachable" : "Agent not live or unreachable"},
             {"ServiceID", ""},
             {"ServiceName", ""},
             {"ServiceTags", json::array()},
             {"Type", ""},
             {"Definition", json::object()},
             {"CreateIndex", 1},
             {"ModifyIndex", 1}});
    }
    for (const std::string& name : registry_.service_names())
        for (const Instance* i : registry_.instances_of(name))
            for (json& c : service_checks(*i)) add(std::move(c));
    return Response::json(200, dump(out));
}

} // namespace cairn::http
