#include "http/consul_decode.hpp"

#include <algorithm>
#include <array>
#include <span>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "core/ip_address.hpp"
#include "core/text.hpp"
#include "http/json_fields.hpp"
#include "registry/validate.hpp"

namespace cairn::http {

using nlohmann::json;
using registry::CheckDefinition;
using registry::CheckKind;

namespace {

// What cairn does with a key Consul defines (docs/consul-compatibility.md).
enum class Use : std::uint8_t { read, ignore, refuse };

struct Key {
    std::string_view name; // Consul's spelling, the one used in messages
    Use use = Use::read;
    std::string_view why = {}; // for refused keys
    std::string_view alias = {};
};

constexpr std::array<Key, 19> service_keys = {{
    {"ID"},
    {"Name"},
    {"Tags"},
    {"Address"},
    {"Port"},
    {"Meta"},
    {"Weights"},
    {"Check"},
    {"Checks"},
    {"TaggedAddresses", Use::ignore},
    {"EnableTagOverride", Use::ignore},
    {"Namespace", Use::ignore},
    {"Partition", Use::ignore},
    {"Locality", Use::ignore},
    {"Datacenter", Use::ignore},
    {"Kind", Use::refuse, "cairn has no Connect proxies or gateways; leave it out or \"\""},
    {"Proxy", Use::refuse, "cairn has no Connect proxies"},
    {"Connect", Use::refuse, "cairn has no Connect service mesh"},
    {"SocketPath", Use::refuse, "cairn serves addresses and ports, not Unix sockets"},
}};

constexpr std::array<Key, 35> check_keys = {{
    {"CheckID", Use::read, {}, "ID"},
    {"HTTP"},
    {"Method"},
    {"Header"},
    {"TLSSkipVerify"},
    {"TCP"},
    {"Args", Use::read, {}, "ScriptArgs"},
    {"TTL"},
    {"Interval"},
    {"Timeout"},
    {"SuccessBeforePassing"},
    {"FailuresBeforeWarning"},
    {"FailuresBeforeCritical"},
    {"DeregisterCriticalServiceAfter"},
    {"Status"},
    {"Name", Use::ignore},
    {"Notes", Use::ignore},
    {"ServiceID", Use::ignore},
    {"TLSServerName", Use::ignore},
    {"OutputMaxSize", Use::ignore},
    {"DisableRedirects", Use::ignore},
    {"Namespace", Use::ignore},
    {"Partition", Use::ignore},
    {"Body", Use::refuse, "cairn's HTTP checks send no body"},
    {"TCPUseTLS", Use::refuse, "cairn's TCP checks do not speak TLS"},
    {"UDP", Use::refuse, "cairn has no UDP checks"},
    {"GRPC", Use::refuse, "cairn has no gRPC checks; use an HTTP, TCP or script check"},
    {"GRPCUseTLS", Use::refuse, "cairn has no gRPC checks"},
    {"H2PING", Use::refuse, "cairn has no HTTP/2 ping checks"},
    {"H2PingUseTLS", Use::refuse, "cairn has no HTTP/2 ping checks"},
    {"DockerContainerID", Use::refuse, "cairn runs scripts on the host, not in containers"},
    {"Shell", Use::refuse, "cairn runs scripts on the host, not in containers"},
    {"AliasNode", Use::refuse, "cairn has no alias checks"},
    {"AliasService", Use::refuse, "cairn has no alias checks"},
    {"OSService", Use::refuse, "cairn has no OS service checks"},
}};

constexpr std::array<Key, 2> weight_keys = {{{"Passing"}, {"Warning", Use::ignore}}};
constexpr std::array<Key, 2> update_keys = {{{"Status"}, {"Output"}}};

// A refused key that is present with an empty value ("Kind": "", "Body":
// "", "TCPUseTLS": false) asks for nothing, so it is let through.
bool empty_value(const json& v) {
    return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) ||
           (v.is_boolean() && !v.get<bool>()) || (v.is_object() && v.empty()) ||
           (v.is_array() && v.empty());
}

// The object with each key in Consul's spelling, ignored keys dropped, and
// unknown or refused keys an error naming them.
Result<json> canonical(const json& object, std::string_view at, std::span<const Key> keys) {
    if (!object.is_object())
        return fail("{}: expected an object, got {}", at.empty() ? "body" : at, type_name(object));
    std::string prefix = at.empty() ? std::string() : std::string(at) + ".";
    json out = json::object();
    for (const auto& [k, v] : object.items()) {
        std::string key = consul_key(k);
        auto known = std::ranges::find_if(keys, [&](const Key& c) {
            return consul_key(c.name) == key || (!c.alias.empty() && consul_key(c.alias) == key);
        });
        if (known == keys.end()) return fail("{}{}: unknown field", prefix, escaped(k));
        if (known->use == Use::ignore) continue;
        if (known->use == Use::refuse && !empty_value(v))
            return fail("{}{}: not supported ({})", prefix, known->name, known->why);
        if (known->use == Use::refuse) continue;
        if (out.contains(known->name))
            return fail("{}{}: given twice (keys are matched without regard to case or '_')",
                        prefix, known->name);
        out[std::string(known->name)] = v;
    }
    return out;
}

// Every duration parse_go_duration accepts fits (max_duration is 30 days).
std::uint32_t ms32(Duration d) {
    return static_cast<std::uint32_t>(d.count());
}

// A Go duration string or an integer of nanoseconds.
Result<std::optional<Duration>> go_duration(const Fields& f, std::string_view key) {
    const json* v = f.get(key);
    if (!v) return std::nullopt;
    if (v->is_number_integer() || v->is_number_unsigned()) {
        auto ns = f.integer(key);
        if (!ns) return std::unexpected(ns.error());
        if (**ns < 0) return fail("{}: {} is negative", f.path(key), **ns);
        if (**ns > std::chrono::nanoseconds(max_duration).count())
            return fail("{}: {} ns is more than {}", f.path(key), **ns,
                        format_duration(max_duration));
        return ceil_to_ms(std::chrono::nanoseconds(**ns));
    }
    if (!v->is_string())
        return fail("{}: expected a duration such as \"10s\" or an integer of nanoseconds, got {}",
                    f.path(key), type_name(*v));
    auto d = parse_go_duration(v->get_ref<const std::string&>());
    if (!d) return fail("{}: {}", f.path(key), d.error().message);
    return ceil_to_ms(*d);
}

template <class T, class Store>
Result<void> take(Result<std::optional<T>> value, Store&& store) {
    if (!value) return std::unexpected(value.error());
    if (*value) store(std::move(**value));
    return {};
}

// Consul's counters count from 0 (= "at once"); cairn's from 1. A missing
// FailuresBeforeWarning is FailuresBeforeCritical, as in Consul.
Result<void> read_counters(const Fields& f, CheckDefinition& c) {
    auto read = [&](std::string_view key) -> Result<std::optional<std::int64_t>> {
        auto n = f.integer(key);
        if (!n || !*n) return n;
        if (**n < 0 || **n > registry::max_counter)
            return fail("{}: {} is out of range (0 to {})", f.path(key), **n,
                        registry::max_counter);
        return std::max<std::int64_t>(**n, 1);
    };
    auto pass = read("SuccessBeforePassing");
    auto warn = read("FailuresBeforeWarning");
    auto crit = read("FailuresBeforeCritical");
    for (const auto* r : {&pass, &warn, &crit})
        if (!*r) return std::unexpected(r->error());
    c.success_before_passing = static_cast<std::uint32_t>(pass->value_or(1));
    c.failures_before_critical = static_cast<std::uint32_t>(crit->value_or(1));
    c.failures_before_warning = static_cast<std::uint32_t>(
        warn->value_or(static_cast<std::int64_t>(c.failures_before_critical)));
    return {};
}

Result<void> read_header(const Fields& f, CheckDefinition& c) {
    const json* h = f.get("Header");
    if (!h) return {};
    if (!h->is_object())
        return fail("{}: expected an object of string arrays, got {}", f.path("Header"),
                    type_name(*h));
    for (const auto& [name, values] : h->items()) {
        std::string at = f.path("Header") + "." + escaped(name);
        if (values.is_string()) {
            c.headers.emplace_back(name, values.get<std::string>());
            continue;
        }
        if (!values.is_array())
            return fail("{}: expected an array of strings, got {}", at, type_name(values));
        for (const json& v : values) {
            if (!v.is_string()) return fail("{}: expected strings, got {}", at, type_name(v));
            c.headers.emplace_back(name, v.get<std::string>());
        }
        if (c.headers.size() > registry::max_headers)
            return fail("{}: more than {} values", f.path("Header"), registry::max_headers);
    }
    return {};
}

Result<CheckKind> kind_of(const Fields& f, std::string_view at) {
    bool http = f.get("HTTP"), tcp = f.get("TCP"), args = f.get("Args"), ttl = f.get("TTL");
    int kinds = http + tcp + args + ttl;
    if (kinds != 1)
        return fail("{}: exactly one of HTTP, TCP, Args (ScriptArgs) or TTL must be set (found {})",
                    at, kinds);
    if (!http)
        for (std::string_view key : {"Method", "Header", "TLSSkipVerify"})
            if (f.get(key)) return fail("{}: only for HTTP checks", f.path(key));
    return http   ? CheckKind::http
           : tcp  ? CheckKind::tcp
           : args ? CheckKind::script
                  : CheckKind::ttl;
}

Result<void> read_target(const Fields& f, CheckDefinition& c) {
    switch (c.kind) {
    case CheckKind::http:
        if (auto r = take(f.string("HTTP"), [&](std::string v) { c.target = std::move(v); }); !r)
            return r;
        if (auto r = take(f.string("Method"), [&](std::string v) { c.method = std::move(v); }); !r)
            return r;
        if (auto r = read_header(f, c); !r) return r;
        return take(f.boolean("TLSSkipVerify"), [&](bool v) { c.tls_skip_verify = v; });
    case CheckKind::tcp:
        return take(f.string("TCP"), [&](std::string v) { c.target = std::move(v); });
    case CheckKind::script: {
        auto args = f.strings("Args", registry::max_args);
        if (!args) return std::unexpected(args.error());
        c.args = std::move(*args);
        return {};
    }
    case CheckKind::ttl:
        return take(go_duration(f, "TTL"), [&](Duration d) { c.ttl_ms = ms32(d); });
    }
    return {};
}

Result<registry::Check> decode_check(const json& j, const std::string& at) {
    auto object = canonical(j, at, check_keys);
    if (!object) return std::unexpected(object.error());
    Fields f(*object, at + ".");
    registry::Check check;
    CheckDefinition& c = check.definition;
    auto kind = kind_of(f, at);
    if (!kind) return std::unexpected(kind.error());
    c.kind = *kind;
    if (auto r = take(f.string("CheckID"), [&](std::string v) { c.id = std::move(v); }); !r)
        return std::unexpected(r.error());
    if (auto r = read_target(f, c); !r) return std::unexpected(r.error());
    // Consul lets a TTL check carry an Interval and ignores it.
    if (c.kind != CheckKind::ttl)
        if (auto r = take(go_duration(f, "Interval"), [&](Duration d) { c.interval_ms = ms32(d); });
            !r)
            return std::unexpected(r.error());
    if (auto r = take(go_duration(f, "Timeout"), [&](Duration d) { c.timeout_ms = ms32(d); }); !r)
        return std::unexpected(r.error());
    if (auto r = take(go_duration(f, "DeregisterCriticalServiceAfter"),
                      [&](Duration d) { c.deregister_critical_after_ms = ms32(d); });
        !r)
        return std::unexpected(r.error());
    if (auto r = read_counters(f, c); !r) return std::unexpected(r.error());
    auto status = f.string("Status");
    if (!status) return std::unexpected(status.error());
    if (*status) {
        auto h = registry::parse_health(**status);
        if (!h || *h == registry::Health::maintenance)
            return fail("{}: {} is not passing, warning or critical", f.path("Status"),
                        quote(**status));
        check.state.status = *h;
    }
    return check;
}

Result<void> decode_checks(const Fields& f, registry::Instance& out,
                           std::vector<std::string>& labels) {
    if (const json* one = f.get("Check")) {
        // An empty Check ({}) is how some clients say "no check".
        if (!(one->is_object() && one->empty())) {
            auto c = decode_check(*one, "Check");
            if (!c) return std::unexpected(c.error());
            out.checks.push_back(std::move(*c));
            labels.emplace_back("Check");
        }
    }
    if (const json* many = f.get("Checks")) {
        if (!many->is_array()) return fail("Checks: expected an array, got {}", type_name(*many));
        if (many->size() > registry::max_checks)
            return fail("Checks: more than {} entries", registry::max_checks);
        for (std::size_t i = 0; i < many->size(); ++i) {
            std::string at = fmt::format("Checks[{}]", i);
            auto c = decode_check((*many)[i], at);
            if (!c) return std::unexpected(c.error());
            out.checks.push_back(std::move(*c));
            labels.push_back(std::move(at));
        }
    }
    for (std::size_t i = 0; i < out.checks.size(); ++i) {
        std::string& id = out.checks[i].definition.id;
        if (!id.empty()) continue;
        id = fmt::format("service:{}", out.id);
        if (out.checks.size() > 1) id += fmt::format(":{}", i + 1);
    }
    return {};
}

Result<void> decode_weights(const Fields& f, registry::Instance& out) {
    const json* w = f.get("Weights");
    if (!w) return {};
    auto object = canonical(*w, "Weights", weight_keys);
    if (!object) return std::unexpected(object.error());
    Fields wf(*object, "Weights.");
    auto passing = wf.integer("Passing");
    if (!passing) return std::unexpected(passing.error());
    if (!*passing) return {};
    auto weight = registry::weight_value(**passing);
    if (!weight) return fail("Weights.Passing: {} is out of range (1 to 65535)", **passing);
    out.weight = *weight;
    return {};
}

Result<void> decode_service(const Fields& f, registry::Instance& out,
                            const RegistrationDefaults& defaults) {
    if (auto r = take(f.string("Name"), [&](std::string v) { out.service = std::move(v); }); !r)
        return r;
    if (auto r = take(f.string("ID"), [&](std::string v) { out.id = std::move(v); }); !r) return r;
    if (out.id.empty()) out.id = out.service;
    auto address = f.string("Address");
    if (!address) return std::unexpected(address.error());
    if (!*address || (*address)->empty()) {
        if (defaults.address.family == 0)
            return fail("Address: missing, and the agent has no address of its own to use");
        out.address = defaults.address;
    } else {
        auto a = parse_ip_address(**address);
        if (!a)
            return fail("Address: {} (cairn serves A/AAAA records from it, so it must be an IP "
                        "address)",
                        a.error().message);
        out.address = *a;
    }
    auto port = f.integer("Port");
    if (!port) return std::unexpected(port.error());
    if (*port) {
        auto p = registry::port_value(**port);
        if (!p) return fail("Port: {} is out of range (1 to 65535)", **port);
        out.port = *p;
    }
    auto tags = f.strings("Tags", registry::max_tags);
    if (!tags) return std::unexpected(tags.error());
    out.tags = std::move(*tags);
    auto meta = f.string_map("Meta", registry::max_meta);
    if (!meta) return std::unexpected(meta.error());
    out.meta = std::move(*meta);
    return decode_weights(f, out);
}

constexpr std::array<std::pair<std::string_view, std::string_view>, 8> service_paths = {{
    {"name", "Name"},
    {"id", "ID"},
    {"address", "Address"},
    {"port", "Port"},
    {"weight", "Weights.Passing"},
    {"tags", "Tags"},
    {"meta", "Meta"},
    {"checks", "Checks"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 14> check_paths = {{
    {"id", "CheckID"},
    {"http", "HTTP"},
    {"method", "Method"},
    {"headers", "Header"},
    {"tls_skip_verify", "TLSSkipVerify"},
    {"tcp", "TCP"},
    {"args", "Args"},
    {"ttl", "TTL"},
    {"interval", "Interval"},
    {"timeout", "Timeout"},
    {"deregister_critical_after", "DeregisterCriticalServiceAfter"},
    {"success_before_passing", "SuccessBeforePassing"},
    {"failures_before_warning", "FailuresBeforeWarning"},
    {"failures_before_critical", "FailuresBeforeCritical"},
}};

// The head of a path segment: "tags[2]" -> "tags", "[2]".
std::pair<std::string_view, std::string_view> split_index(std::string_view segment) {
    auto bracket = segment.find('[');
    if (bracket == std::string_view::npos) return {segment, {}};
    return {segment.substr(0, bracket), segment.substr(bracket)};
}

template <std::size_t N>
std::string rename(std::string_view head,
                   const std::array<std::pair<std::string_view, std::string_view>, N>& table) {
    for (const auto& [from, to] : table)
        if (from == head) return std::string(to);
    return std::string(head);
}

} // namespace

std::string consul_key(std::string_view key) {
    std::string out;
    out.reserve(key.size());
    for (char c : key)
        if (c != '_') out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return out;
}

std::string consul_message(std::string_view message, const std::vector<std::string>& check_labels) {
    auto colon = message.find(": ");
    if (colon == std::string_view::npos) return std::string(message);
    std::string_view path = message.substr(0, colon);
    std::string_view rest = message.substr(colon);
    auto dot = path.find('.');
    std::string_view first = path.substr(0, dot);
    std::string_view tail = dot == std::string_view::npos ? std::string_view{} : path.substr(dot);
    auto [head, index] = split_index(first);
    std::string out;
    if (head == "checks" && !index.empty()) {
        std::size_t i = 0;
        for (char c : index.substr(1, index.size() - 2))
            i = i * 10 + static_cast<std::size_t>(c - '0');
        out = i < check_labels.size() ? check_labels[i] : std::string(first);
        if (!tail.empty()) {
            std::string_view field = tail.substr(1);
            auto sub = field.find('.');
            auto [fhead, findex] = split_index(field.substr(0, sub));
            out += fmt::format(".{}{}", rename(fhead, check_paths), findex);
            if (sub != std::string_view::npos) out += std::string(field.substr(sub));
        }
    } else {
        out = rename(head, service_paths) + std::string(index) + std::string(tail);
    }
    return out + std::string(rest);
}

Result<registry::Instance> decode_consul_registration(const json& body,
                                                      const RegistrationDefaults& defaults) {
    auto object = canonical(body, "", service_keys);
    if (!object) return std::unexpected(object.error());
    Fields f(*object, "");
    registry::Instance out;
    if (auto r = decode_service(f, out, defaults); !r) return std::unexpected(r.error());
    std::vector<std::string> labels;
    if (auto r = decode_checks(f, out, labels); !r) return std::unexpected(r.error());
    registry::fill_defaults(out);
    if (auto ok = registry::validate(out); !ok)
        return fail("{}", consul_message(ok.error().message, labels));
    return out;
}

Result<ConsulCheckUpdate> decode_consul_check_update(const json& body) {
    auto object = canonical(body, "", update_keys);
    if (!object) return std::unexpected(object.error());
    Fields f(*object, "");
    ConsulCheckUpdate out;
    auto status = f.string("Status");
    if (!status) return std::unexpected(status.error());
    if (!*status) return fail("Status: missing (passing, warning or critical)");
    auto h = registry::parse_health(**status);
    if (!h || *h == registry::Health::maintenance)
        return fail("Status: {} is not passing, warning or critical", quote(**status));
    out.status = *h;
    auto output = f.string("Output");
    if (!output) return std::unexpected(output.error());
    out.output = output->value_or("");
    return out;
}

} // namespace cairn::http
