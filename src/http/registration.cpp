#include "http/registration.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <span>

#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "http/json_body.hpp"

namespace cairn::http {

using nlohmann::json;
using registry::CheckKind;

namespace {

// Generous caps so that one registration cannot bloat the registry or DNS.
constexpr std::size_t max_tags = 64;
constexpr std::size_t max_meta = 64;
constexpr std::size_t max_checks = 32;
constexpr std::size_t max_id_bytes = 128;
constexpr std::size_t max_txt_bytes = 255; // one TXT string holds "key=value"

std::string show(const json& j)
{
    std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > 64 ? s.substr(0, 61) + "..." : s;
}

std::string_view type_name(const json& j)
{
    switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "a value of another type";
    }
}

// A DNS label as used for service names and tags: letters, digits, '-'.
bool is_label(std::string_view s)
{
    if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-')
        return false;
    return std::ranges::all_of(s, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    });
}

// Ids appear in URL paths and check ids: printable, no '/', no spaces.
bool is_id(std::string_view s)
{
    if (s.empty() || s.size() > max_id_bytes)
        return false;
    return std::ranges::all_of(s, [](char c) { return c > ' ' && c < 0x7f && c != '/' && c != '?' && c != '#'; });
}

// Reads one object's fields with the path used in error messages.
class Fields {
public:
    Fields(const json& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

    std::string path(std::string_view key) const { return prefix_ + std::string(key); }
    const json* get(std::string_view key) const
    {
        auto it = object_.find(key);
        return it == object_.end() || it->is_null() ? nullptr : &*it;
    }

    Result<std::optional<std::string>> string(std::string_view key) const
    {
        const json* v = get(key);
        if (!v)
            return std::nullopt;
        if (!v->is_string())
            return fail("{}: expected a string, got {}", path(key), type_name(*v));
        return v->get<std::string>();
    }

    Result<std::optional<std::uint64_t>> integer(std::string_view key, std::uint64_t lo, std::uint64_t hi) const
    {
        const json* v = get(key);
        if (!v)
            return std::nullopt;
        if (v->is_number_unsigned()) {
            auto n = v->get<std::uint64_t>();
            if (n < lo || n > hi)
                return fail("{}: {} is out of range ({}..{})", path(key), n, lo, hi);
            return n;
        }
        if (v->is_number_integer())
            return fail("{}: {} is out of range ({}..{})", path(key), v->get<std::int64_t>(), lo, hi);
        return fail("{}: expected an integer, got {}", path(key), type_name(*v));
    }

    Result<std::optional<bool>> boolean(std::string_view key) const
    {
        const json* v = get(key);
        if (!v)
            return std::nullopt;
        if (!v->is_boolean())
            return fail("{}: expected true or false, got {}", path(key), type_name(*v));
        return v->get<bool>();
    }

    Result<std::optional<std::uint32_t>> duration(std::string_view key) const
    {
        const json* v = get(key);
        if (!v)
            return std::nullopt;
        if (!v->is_string())
            return fail("{}: expected a duration string such as \"10s\", got {}", path(key), type_name(*v));
        auto d = parse_duration(v->get_ref<const std::string&>());
        if (!d)
            return fail("{}: {}", path(key), d.error().message);
        return static_cast<std::uint32_t>(d->count());
    }

    Result<std::vector<std::string>> strings(std::string_view key, std::size_t max) const
    {
        std::vector<std::string> out;
        const json* v = get(key);
        if (!v)
            return out;
        if (!v->is_array())
            return fail("{}: expected an array of strings, got {}", path(key), type_name(*v));
        if (v->size() > max)
            return fail("{}: more than {} entries", path(key), max);
        for (std::size_t i = 0; i < v->size(); ++i) {
            const json& e = (*v)[i];
            if (!e.is_string())
                return fail("{}[{}]: expected a string, got {}", path(key), i, type_name(e));
            out.push_back(e.get<std::string>());
        }
        return out;
    }

    Result<std::vector<std::pair<std::string, std::string>>> string_map(std::string_view key) const
    {
        std::vector<std::pair<std::string, std::string>> out;
        const json* v = get(key);
        if (!v)
            return out;
        if (!v->is_object())
            return fail("{}: expected an object of strings, got {}", path(key), type_name(*v));
        if (v->size() > max_meta)
            return fail("{}: more than {} entries", path(key), max_meta);
        for (const auto& [k, e] : v->items()) {
            if (!e.is_string())
                return fail("{}.{}: expected a string, got {}", path(key), k, type_name(e));
            out.emplace_back(k, e.get<std::string>());
        }
        return out;
    }

    // Every key must be one we know, so that a typo ("tag") is an error
    // rather than silently ignored.
    Result<void> only(std::span<const std::string_view> known) const
    {
        for (const auto& [k, v] : object_.items())
            if (std::ranges::find(known, std::string_view(k)) == known.end())
                return fail("{}: unknown field", path(k));
        return {};
    }

private:
    const json& object_;
    std::string prefix_;
};

// Fields the encoder writes that a registration may carry back unchanged.
constexpr std::array<std::string_view, 15> instance_fields = {
    "id", "name", "address", "port", "tags", "meta", "weight", "policy", "ttl", "checks",
    "maintenance", "maintenance_reason",
    // read-only, ignored on input
    "node", "version", "health"};

constexpr std::array<std::string_view, 18> check_fields = {
    "id", "http", "method", "headers", "tls_skip_verify", "tcp", "args", "ttl", "interval", "timeout",
    "success_before_passing", "failures_before_warning", "failures_before_critical",
    "deregister_critical_after",
    // read-only, ignored on input
    "status", "output", "last_change", "latency_ms"};

Result<registry::CheckDefinition> decode_check(const json& j, std::size_t index, const std::string& instance_id)
{
    std::string prefix = fmt::format("checks[{}]", index);
    if (!j.is_object())
        return fail("{}: expected an object, got {}", prefix, type_name(j));
    Fields f(j, prefix + ".");
    if (auto ok = f.only(check_fields); !ok)
        return std::unexpected(ok.error());

    registry::CheckDefinition c;
    auto id = f.string("id");
    if (!id)
        return std::unexpected(id.error());
    c.id = id->value_or(fmt::format("{}:{}", instance_id, index + 1));
    if (!is_id(c.id))
        return fail("{}: {} is not a valid id (1 to {} printable characters, no '/', '?', '#' or spaces)",
                    f.path("id"), show(c.id), max_id_bytes);

    int kinds = 0;
    for (auto k : {"http", "tcp", "args", "ttl"})
        kinds += f.get(k) ? 1 : 0;
    if (kinds != 1)
        return fail("{}: needs exactly one of http, tcp, args, ttl", prefix);

    auto http_url = f.string("http");
    auto tcp = f.string("tcp");
    auto args = f.strings("args", 64);
    auto ttl = f.duration("ttl");
    auto method = f.string("method");
    auto headers = f.string_map("headers");
    auto skip = f.boolean("tls_skip_verify");
    auto interval = f.duration("interval");
    auto timeout = f.duration("timeout");
    auto sbp = f.integer("success_before_passing", 1, 1000);
    auto fbw = f.integer("failures_before_warning", 1, 1000);
    auto fbc = f.integer("failures_before_critical", 1, 1000);
    auto dca = f.duration("deregister_critical_after");
    for (const Error* e : {http_url ? nullptr : &http_url.error(), tcp ? nullptr : &tcp.error(),
                           args ? nullptr : &args.error(), ttl ? nullptr : &ttl.error(),
                           method ? nullptr : &method.error(), headers ? nullptr : &headers.error(),
                           skip ? nullptr : &skip.error(), interval ? nullptr : &interval.error(),
                           timeout ? nullptr : &timeout.error(), sbp ? nullptr : &sbp.error(),
                           fbw ? nullptr : &fbw.error(), fbc ? nullptr : &fbc.error(),
                           dca ? nullptr : &dca.error()})
        if (e)
            return std::unexpected(*e);

    if (*http_url) {
        c.kind = CheckKind::http;
        c.target = **http_url;
        if (!c.target.starts_with("http://") && !c.target.starts_with("https://"))
            return fail("{}: {} is not an http:// or https:// URL", f.path("http"), show(c.target));
    } else if (*tcp) {
        c.kind = CheckKind::tcp;
        c.target = **tcp;
        auto colon = c.target.rfind(':');
        unsigned port = 0;
        auto tail = std::string_view(c.target).substr(colon == std::string::npos ? c.target.size() : colon + 1);
        auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), port);
        if (colon == std::string::npos || colon == 0 || ec != std::errc{} || p != tail.data() + tail.size() ||
            port == 0 || port > 65535)
            return fail("{}: {} is not host:port", f.path("tcp"), show(c.target));
    } else if (f.get("args")) {
        c.kind = CheckKind::script;
        c.args = std::move(*args);
        if (c.args.empty() || c.args.front().empty())
            return fail("{}: needs a command", f.path("args"));
    } else {
        c.kind = CheckKind::ttl;
        c.ttl_ms = **ttl;
        if (c.ttl_ms == 0)
            return fail("{}: must be longer than 0", f.path("ttl"));
    }
    if (*method) {
        if (c.kind != CheckKind::http)
            return fail("{}: only for http checks", f.path("method"));
        c.method = **method;
        if (!is_label(c.method))
            return fail("{}: {} is not an HTTP method", f.path("method"), show(c.method));
    }
    if (!headers->empty() && c.kind != CheckKind::http)
        return fail("{}: only for http checks", f.path("headers"));
    c.headers = std::move(*headers);
    c.tls_skip_verify = skip->value_or(false);
    if (c.kind == CheckKind::ttl) {
        if (*interval)
            return fail("{}: not used by ttl checks (the application reports)", f.path("interval"));
        c.interval_ms = 0;
    } else {
        c.interval_ms = interval->value_or(10'000);
        if (c.interval_ms < 100)
            return fail("{}: must be at least 100ms", f.path("interval"));
    }
    c.timeout_ms = timeout->value_or(2'000);
    if (c.timeout_ms == 0)
        return fail("{}: must be longer than 0", f.path("timeout"));
    c.success_before_passing = static_cast<std::uint32_t>(sbp->value_or(1));
    c.failures_before_warning = static_cast<std::uint32_t>(fbw->value_or(1));
    c.failures_before_critical = static_cast<std::uint32_t>(fbc->value_or(1));
    c.deregister_critical_after_ms = dca->value_or(0);
    return c;
}

Result<void> decode_identity(const Fields& f, registry::Instance& out, const RegistrationDefaults& defaults)
{
    auto name = f.string("name");
    if (!name)
        return std::unexpected(name.error());
    if (!*name)
        return fail("name: missing");
    out.service = **name;
    if (!is_label(out.service))
        return fail("name: {} is not a valid service name (1 to 63 letters, digits or '-', "
                    "not starting or ending with '-')",
                    show(out.service));
    auto id = f.string("id");
    if (!id)
        return std::unexpected(id.error());
    out.id = id->value_or(out.service);
    if (!is_id(out.id))
        return fail("id: {} is not a valid id (1 to {} printable characters, no '/', '?', '#' or spaces)",
                    show(out.id), max_id_bytes);
    auto address = f.string("address");
    if (!address)
        return std::unexpected(address.error());
    if (*address) {
        auto a = parse_ip_address(**address);
        if (!a)
            return fail("address: {} is not an IPv4 or IPv6 address", show(**address));
        out.address = *a;
    } else if (defaults.address.family != 0) {
        out.address = defaults.address;
    } else {
        return fail("address: missing, and the agent has no address of its own to use");
    }
    auto port = f.integer("port", 1, 65535);
    if (!port)
        return std::unexpected(port.error());
    if (!*port)
        return fail("port: missing");
    out.port = static_cast<std::uint16_t>(**port);
    return {};
}

Result<void> decode_dns_fields(const Fields& f, registry::Instance& out)
{
    auto tags = f.strings("tags", max_tags);
    if (!tags)
        return std::unexpected(tags.error());
    for (std::size_t i = 0; i < tags->size(); ++i)
        if (!is_label((*tags)[i]))
            return fail("tags[{}]: {} is not a valid tag (a DNS label: letters, digits, '-')", i,
                        show((*tags)[i]));
    out.tags = std::move(*tags);
    auto meta = f.string_map("meta");
    if (!meta)
        return std::unexpected(meta.error());
    for (const auto& [k, v] : *meta) {
        if (k.empty() || k.find('=') != std::string::npos)
            return fail("meta: key {} must be non-empty and without '='", show(k));
        if (k.size() + 1 + v.size() > max_txt_bytes)
            return fail("meta.{}: key=value is longer than {} bytes (one TXT string)", k, max_txt_bytes);
    }
    out.meta = std::move(*meta);
    auto weight = f.integer("weight", 1, 65535);
    if (!weight)
        return std::unexpected(weight.error());
    out.weight = static_cast<std::uint32_t>(weight->value_or(1));
    auto policy = f.string("policy");
    if (!policy)
        return std::unexpected(policy.error());
    if (*policy) {
        auto p = registry::parse_policy(**policy);
        if (!p)
            return fail("policy: {} is not one of random, round_robin, weighted, affinity, fastest", show(**policy));
        out.policy = *p;
    }
    auto ttl = f.duration("ttl");
    if (!ttl)
        return std::unexpected(ttl.error());
    out.ttl_ms = ttl->value_or(0);
    if (out.ttl_ms % 1000 != 0)
        return fail("ttl: {} is not whole seconds (DNS TTLs are seconds)", format_duration(Duration{out.ttl_ms}));
    auto maintenance = f.boolean("maintenance");
    auto reason = f.string("maintenance_reason");
    if (!maintenance)
        return std::unexpected(maintenance.error());
    if (!reason)
        return std::unexpected(reason.error());
    out.maintenance = maintenance->value_or(false);
    out.maintenance_reason = reason->value_or("");
    return {};
}

} // namespace

Result<registry::Instance> decode_registration(std::string_view body, const RegistrationDefaults& defaults)
{
    auto j = parse_json_body(body);
    if (!j)
        return std::unexpected(j.error());
    return decode_registration_json(*j, defaults);
}

Result<registry::Instance> decode_registration_json(const json& j, const RegistrationDefaults& defaults)
{
    if (!j.is_object())
        return fail("body: expected a JSON object, got {}", type_name(j));
    Fields f(j, "");
    if (auto ok = f.only(instance_fields); !ok)
        return std::unexpected(ok.error());
    registry::Instance out;
    if (auto ok = decode_identity(f, out, defaults); !ok)
        return std::unexpected(ok.error());
    if (auto ok = decode_dns_fields(f, out); !ok)
        return std::unexpected(ok.error());
    if (const json* checks = f.get("checks")) {
        if (!checks->is_array())
            return fail("checks: expected an array, got {}", type_name(*checks));
        if (checks->size() > max_checks)
            return fail("checks: more than {} entries", max_checks);
        std::set<std::string> ids;
        for (std::size_t i = 0; i < checks->size(); ++i) {
            auto c = decode_check((*checks)[i], i, out.id);
            if (!c)
                return std::unexpected(c.error());
            if (!ids.insert(c->id).second)
                return fail("checks[{}].id: {} is used twice", i, show(c->id));
            out.checks.push_back(registry::Check{std::move(*c), {}});
        }
    }
    return out;
}

json encode_instance(const registry::Instance& in)
{
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
    for (const auto& [k, v] : in.meta)
        j["meta"][k] = v;
    if (in.policy != registry::Policy::unset)
        j["policy"] = registry::to_string(in.policy);
    if (in.ttl_ms != 0)
        j["ttl"] = format_duration(Duration{in.ttl_ms});
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
                for (const auto& [k, v] : d.headers)
                    jc["headers"][k] = v;
            }
            if (d.tls_skip_verify)
                jc["tls_skip_verify"] = true;
            break;
        case CheckKind::tcp: jc["tcp"] = d.target; break;
        case CheckKind::script: jc["args"] = d.args; break;
        case CheckKind::ttl: jc["ttl"] = format_duration(Duration{d.ttl_ms}); break;
        }
        if (d.kind != CheckKind::ttl)
            jc["interval"] = format_duration(Duration{d.interval_ms});
        jc["timeout"] = format_duration(Duration{d.timeout_ms});
        jc["success_before_passing"] = d.success_before_passing;
        jc["failures_before_warning"] = d.failures_before_warning;
        jc["failures_before_critical"] = d.failures_before_critical;
        if (d.deregister_critical_after_ms != 0)
            jc["deregister_critical_after"] = format_duration(Duration{d.deregister_critical_after_ms});
        jc["status"] = registry::to_string(c.state.status);
        jc["output"] = c.state.output;
        jc["last_change"] = c.state.last_change_ms;
        jc["latency_ms"] = static_cast<double>(c.state.latency_us) / 1000.0;
        checks.push_back(std::move(jc));
    }
    j["checks"] = std::move(checks);
    return j;
}

} // namespace cairn::http
