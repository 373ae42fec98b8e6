#include "http/registration.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "core/ip_address.hpp"
#include "http/json_body.hpp"
#include "http/json_fields.hpp"
#include "registry/validate.hpp"

namespace cairn::http {

using nlohmann::json;
using registry::CheckKind;

namespace {

using registry::CheckDefinition;

// Fields the encoder writes that a registration may carry back unchanged.
constexpr std::array<std::string_view, 15> instance_fields = {
    "id", "name", "address", "port", "tags", "meta", "weight", "policy", "ttl", "checks",
    "maintenance", "maintenance_reason",
    // read-only, ignored on input
    "node", "version", "health"};

constexpr std::array<std::string_view, 19> check_fields = {
    "id", "http", "method", "headers", "tls_skip_verify", "tcp", "args", "ttl", "interval",
    "timeout", "success_before_passing", "failures_before_warning", "failures_before_critical",
    "deregister_critical_after",
    // read-only, ignored on input
    "status", "output", "last_change", "latency_ms", "load"};

// Every duration parse_duration accepts fits (max_duration is 30 days).
std::uint32_t ms32(Duration d) {
    return static_cast<std::uint32_t>(d.count());
}

// Stores a field that is present; passes a type error on.
template <class T, class Store>
Result<void> take(Result<std::optional<T>> value, Store&& store) {
    if (!value) return std::unexpected(value.error());
    if (*value) store(std::move(**value));
    return {};
}

// A number the rulebook must see before it is narrowed into the struct.
template <class Out, class Rule>
Result<void> take_number(const Fields& f, std::string_view key, Out& out, Rule&& rule) {
    auto n = f.integer(key);
    if (!n) return std::unexpected(n.error());
    if (!*n) return {};
    auto v = rule(**n);
    if (!v) return std::unexpected(v.error());
    out = *v;
    return {};
}

Result<void> read_check_target(const Fields& f, CheckDefinition& c) {
    switch (c.kind) {
    case CheckKind::http:
        return take(f.string("http"), [&](std::string v) { c.target = std::move(v); });
    case CheckKind::tcp:
        return take(f.string("tcp"), [&](std::string v) { c.target = std::move(v); });
    case CheckKind::script: {
        auto args = f.strings("args", registry::max_args);
        if (!args) return std::unexpected(args.error());
        c.args = std::move(*args);
        return {};
    }
    case CheckKind::ttl:
        return take(f.duration("ttl"), [&](Duration d) { c.ttl_ms = ms32(d); });
    }
    return {};
}

Result<void> read_http_options(const Fields& f, CheckDefinition& c) {
    if (auto r = take(f.string("method"), [&](std::string v) { c.method = std::move(v); }); !r)
        return r;
    auto headers = f.string_map("headers", registry::max_headers);
    if (!headers) return std::unexpected(headers.error());
    c.headers = std::move(*headers);
    return take(f.boolean("tls_skip_verify"), [&](bool v) { c.tls_skip_verify = v; });
}

// (No structured bindings in the loops: clang 14, which builds the fuzzers,
// cannot capture them in a lambda.)
Result<void> read_check_timing(const Fields& f, CheckDefinition& c) {
    for (const auto& field :
         {std::pair<std::string_view, std::uint32_t*>{"interval", &c.interval_ms},
          {"timeout", &c.timeout_ms},
          {"deregister_critical_after", &c.deregister_critical_after_ms}}) {
        std::uint32_t* out = field.second;
        if (auto r = take(f.duration(field.first), [out](Duration d) { *out = ms32(d); }); !r)
            return r;
    }
    for (const auto& field : {std::pair<std::string_view, std::uint32_t*>{
                                  "success_before_passing", &c.success_before_passing},
                              {"failures_before_warning", &c.failures_before_warning},
                              {"failures_before_critical", &c.failures_before_critical}}) {
        std::string_view key = field.first;
        auto rule = [&](std::int64_t n) { return registry::counter_value(f.path(key), n); };
        if (auto r = take_number(f, key, *field.second, rule); !r) return r;
    }
    return {};
}

// One element of "checks": its kind from its keys, then each group of
// fields; the rules about the values are validate()'s.
Result<CheckDefinition> decode_check(const json& j, std::size_t index) {
    std::string at = fmt::format("checks[{}]", index);
    if (!j.is_object()) return fail("{}: expected an object, got {}", at, type_name(j));
    Fields f(j, at + ".");
    if (auto ok = f.only(check_fields); !ok) return std::unexpected(ok.error());
    CheckDefinition c;
    auto kind =
        registry::check_kind(at, [&](std::string_view key) { return f.get(key) != nullptr; });
    if (!kind) return std::unexpected(kind.error());
    c.kind = *kind;
    if (auto r = take(f.string("id"), [&](std::string v) { c.id = std::move(v); }); !r)
        return std::unexpected(r.error());
    if (auto r = read_check_target(f, c); !r) return std::unexpected(r.error());
    if (auto r = read_http_options(f, c); !r) return std::unexpected(r.error());
    if (auto r = read_check_timing(f, c); !r) return std::unexpected(r.error());
    return c;
}

Result<void> decode_address(const Fields& f, registry::Instance& out,
                            const RegistrationDefaults& defaults) {
    auto address = f.string("address");
    if (!address) return std::unexpected(address.error());
    if (!*address) {
        if (defaults.address.family == 0)
            return fail("address: missing, and the agent has no address of its own to use");
        out.address = defaults.address;
        return {};
    }
    auto a = parse_ip_address(**address);
    if (!a) return fail("address: {}", a.error().message);
    out.address = *a;
    return {};
}

Result<void> decode_identity(const Fields& f, registry::Instance& out,
                             const RegistrationDefaults& defaults) {
    if (auto r = take(f.string("name"), [&](std::string v) { out.service = std::move(v); }); !r)
        return r;
    if (auto r = take(f.string("id"), [&](std::string v) { out.id = std::move(v); }); !r) return r;
    if (auto r = decode_address(f, out, defaults); !r) return r;
    return take_number(f, "port", out.port, registry::port_value);
}

Result<void> decode_dns_fields(const Fields& f, registry::Instance& out) {
    auto tags = f.strings("tags", registry::max_tags);
    if (!tags) return std::unexpected(tags.error());
    out.tags = std::move(*tags);
    auto meta = f.string_map("meta", registry::max_meta);
    if (!meta) return std::unexpected(meta.error());
    out.meta = std::move(*meta);
    if (auto r = take_number(f, "weight", out.weight, registry::weight_value); !r) return r;
    auto policy = f.string("policy");
    if (!policy) return std::unexpected(policy.error());
    if (*policy) {
        auto p = registry::parse_policy(**policy);
        if (!p) return fail("policy: {}", p.error().message);
        out.policy = *p;
    }
    if (auto r = take(f.duration("ttl"), [&](Duration d) { out.ttl_ms = ms32(d); }); !r) return r;
    if (auto r = take(f.boolean("maintenance"), [&](bool v) { out.maintenance = v; }); !r) return r;
    return take(f.string("maintenance_reason"),
                [&](std::string v) { out.maintenance_reason = std::move(v); });
}

Result<void> decode_checks(const Fields& f, registry::Instance& out) {
    const json* checks = f.get("checks");
    if (!checks) return {};
    if (!checks->is_array()) return fail("checks: expected an array, got {}", type_name(*checks));
    if (checks->size() > registry::max_checks)
        return fail("checks: more than {} entries", registry::max_checks);
    for (std::size_t i = 0; i < checks->size(); ++i) {
        auto c = decode_check((*checks)[i], i);
        if (!c) return std::unexpected(c.error());
        out.checks.push_back(registry::Check{std::move(*c), {}});
    }
    return {};
}

} // namespace

Result<registry::Instance> decode_registration(std::string_view body,
                                               const RegistrationDefaults& defaults) {
    auto j = parse_json_body(body);
    if (!j) return std::unexpected(j.error());
    return decode_registration_json(*j, defaults);
}

Result<registry::Instance> decode_registration_json(const json& j,
                                                    const RegistrationDefaults& defaults) {
    if (!j.is_object()) return fail("body: expected a JSON object, got {}", type_name(j));
    Fields f(j, "");
    if (auto ok = f.only(instance_fields); !ok) return std::unexpected(ok.error());
    registry::Instance out;
    if (auto ok = decode_identity(f, out, defaults); !ok) return std::unexpected(ok.error());
    if (auto ok = decode_dns_fields(f, out); !ok) return std::unexpected(ok.error());
    if (auto ok = decode_checks(f, out); !ok) return std::unexpected(ok.error());
    registry::fill_defaults(out);
    if (auto ok = registry::validate(out); !ok) return std::unexpected(ok.error());
    return out;
}

json encode_instance(const registry::Instance& in) {
    json j = {{"id", in.id},
              {"name", in.service},
              {"node", in.node},
              {"version", in.version},
              {"address", cairn::to_string(in.address)},
              {"port", in.port},
              {"tags", in.tags},
              {"meta", json::object()},
              {"weight", in.weight},
              {"health", registry::to_string(in.health())}};
    for (const auto& [k, v] : in.meta) j["meta"][k] = v;
    if (in.policy != registry::Policy::unset) j["policy"] = registry::to_string(in.policy);
    if (in.ttl_ms != 0) j["ttl"] = format_duration(Duration{in.ttl_ms});
    if (in.maintenance) {
        j["maintenance"] = true;
        j["maintenance_reason"] = in.maintenance_reason;
    }
    json checks = json::array();
    for (const auto& c : in.checks) {
        const auto& d = c.definition;
        json jc = {{"id", d.id}};
        switch (d.kind) {
        case CheckKind::http:
            jc["http"] = d.target;
            jc["method"] = d.method;
            if (!d.headers.empty()) {
                jc["headers"] = json::object();
                for (const auto& [k, v] : d.headers) jc["headers"][k] = v;
            }
            if (d.tls_skip_verify) jc["tls_skip_verify"] = true;
            break;
        case CheckKind::tcp:
            jc["tcp"] = d.target;
            break;
        case CheckKind::script:
            jc["args"] = d.args;
            break;
        case CheckKind::ttl:
            jc["ttl"] = format_duration(Duration{d.ttl_ms});
            break;
        }
        if (d.kind != CheckKind::ttl) jc["interval"] = format_duration(Duration{d.interval_ms});
        jc["timeout"] = format_duration(Duration{d.timeout_ms});
        jc["success_before_passing"] = d.success_before_passing;
        jc["failures_before_warning"] = d.failures_before_warning;
        jc["failures_before_critical"] = d.failures_before_critical;
        if (d.deregister_critical_after_ms != 0)
            jc["deregister_critical_after"] =
                format_duration(Duration{d.deregister_critical_after_ms});
        jc["status"] = registry::to_string(c.state.status);
        jc["output"] = c.state.output;
        jc["last_change"] = c.state.last_change_ms;
        jc["latency_ms"] = static_cast<double>(c.state.latency_us) / 1000.0;
        if (c.state.load) jc["load"] = *c.state.load;
        checks.push_back(std::move(jc));
    }
    j["checks"] = std::move(checks);
    return j;
}

} // namespace cairn::http
