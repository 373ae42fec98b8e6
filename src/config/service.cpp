#include "config/service.hpp"

#include "core/ip_address.hpp"
#include "registry/validate.hpp"

namespace cairn::config {
namespace {

using registry::CheckDefinition;

std::uint32_t ms32(Duration d) {
    return static_cast<std::uint32_t>(d.count());
}

// A duration with no range of its own: the rulebook has the bounds.
void read_duration(TableReader& r, std::string_view key, std::uint32_t& out_ms) {
    Duration d{out_ms};
    r.duration(key, d, Duration{0}, max_duration);
    out_ms = ms32(d);
}

// A number the rulebook must see before it is narrowed into the struct.
template <class Out, class Rule>
void read_number(TableReader& r, const ServiceSite& site, std::string_view key, Out& out,
                 Rule&& rule) {
    auto n = r.integer(key);
    if (!n) return;
    auto v = rule(*n);
    if (!v)
        site.report(r.errors(), v.error().message);
    else
        out = *v;
}

void read_check_timing(TableReader& r, const ServiceSite& site, const std::string& at,
                       CheckDefinition& c) {
    read_duration(r, "interval", c.interval_ms);
    read_duration(r, "timeout", c.timeout_ms);
    read_duration(r, "deregister_critical_after", c.deregister_critical_after_ms);
    for (auto [key, out] : {std::pair<std::string_view, std::uint32_t*>{"success_before_passing",
                                                                        &c.success_before_passing},
                            {"failures_before_warning", &c.failures_before_warning},
                            {"failures_before_critical", &c.failures_before_critical}}) {
        std::string path = at + "." + std::string(key);
        read_number(r, site, key, *out,
                    [&](std::int64_t n) { return registry::counter_value(path, n); });
    }
}

void read_check(TableReader& r, ServiceSite& site, std::size_t index, CheckDefinition& c) {
    std::string at = fmt::format("checks[{}]", index);
    site.note_table(r, at + ".");
    auto kind = registry::check_kind(at, [&](std::string_view key) { return r.has(key); });
    if (kind)
        c.kind = *kind;
    else
        site.report(r.errors(), kind.error().message);
    std::string http, tcp;
    r.string("id", c.id);
    r.string("http", http);
    r.string("tcp", tcp);
    r.string_list("args", c.args);
    read_duration(r, "ttl", c.ttl_ms);
    c.target = c.kind == registry::CheckKind::http ? http : tcp;
    r.string("method", c.method);
    std::map<std::string, std::string> headers;
    r.string_map("headers", headers);
    c.headers.assign(headers.begin(), headers.end());
    r.boolean("tls_skip_verify", c.tls_skip_verify);
    read_check_timing(r, site, at, c);
    r.finish();
}

void read_checks(TableReader& r, registry::Instance& s, ServiceSite& site) {
    auto add = [&](const toml::table& t, std::string path) {
        TableReader cr(t, std::move(path), r.errors());
        std::size_t index = s.checks.size();
        read_check(cr, site, index, s.checks.emplace_back().definition);
    };
    if (const toml::table* t = r.table("check")) add(*t, r.path_of("check"));
    if (const toml::array* a = r.table_array("checks")) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const toml::node& item = *a->get(i);
            std::string path = fmt::format("{}[{}]", r.path_of("checks"), i);
            if (const toml::table* t = item.as_table())
                add(*t, path);
            else
                r.errors().add(item.source().begin.line, path,
                               fmt::format("expected a table, got {}", describe(item)));
        }
    }
}

void read_dns_fields(TableReader& r, registry::Instance& s, ServiceSite& site) {
    r.string_list("tags", s.tags);
    site.note_items(r, "tags");
    std::map<std::string, std::string> meta;
    r.string_map("meta", meta);
    s.meta.assign(meta.begin(), meta.end());
    read_number(r, site, "weight", s.weight, registry::weight_value);
    std::string policy;
    r.string("policy", policy, [](std::string_view t) -> Result<void> {
        if (auto p = registry::parse_policy(t); !p) return std::unexpected(p.error());
        return {};
    });
    if (!policy.empty()) s.policy = *registry::parse_policy(policy);
    read_duration(r, "ttl", s.ttl_ms);
}

} // namespace

ServiceSite::ServiceSite(std::string origin, std::uint32_t line, std::string path)
    : origin_(std::move(origin))
    , line_(line)
    , path_(std::move(path)) {}

void ServiceSite::note_table(const TableReader& r, std::string_view registry_prefix) {
    if (!registry_prefix.empty()) {
        std::string self(registry_prefix.substr(0, registry_prefix.size() - 1));
        fields_[self] = {r.path(), r.line()};
    }
    for (const auto& [k, v] : r.node()) {
        std::uint32_t line = k.source().begin.line ? k.source().begin.line : v.source().begin.line;
        fields_[std::string(registry_prefix) + std::string(k.str())] = {r.path_of(k.str()), line};
    }
}

void ServiceSite::note_items(const TableReader& r, std::string_view key) {
    const toml::array* a = r.node().get_as<toml::array>(key);
    if (!a) return;
    for (std::size_t i = 0; i < a->size(); ++i)
        fields_[fmt::format("{}[{}]", key, i)] = {fmt::format("{}[{}]", r.path_of(key), i),
                                                  a->get(i)->source().begin.line};
}

std::pair<ServiceSite::Where, std::string> ServiceSite::find(std::string_view message) const {
    auto colon = message.find(": ");
    std::string_view field = message.substr(0, colon);
    std::string_view text = colon == std::string_view::npos ? "" : message.substr(colon + 2);
    // The nearest noted field: "checks[0].headers.X" falls back to
    // "checks[0].headers", then "checks[0]".
    for (std::size_t cut = field.size();;) {
        if (auto it = fields_.find(field.substr(0, cut)); it != fields_.end()) {
            Where w = it->second;
            w.path += field.substr(cut);
            return {w, std::string(text)};
        }
        auto dot = field.find_last_of(".[", cut - 1);
        if (dot == std::string_view::npos || dot == 0) break;
        cut = dot;
    }
    return {Where{fmt::format("{}.{}", path_, field), line_}, std::string(text)};
}

std::string ServiceSite::locate(std::string_view message) const {
    auto [where, text] = find(message);
    return fmt::format("{}:{}: {}: {}", origin_, where.line, where.path, text);
}

void ServiceSite::report(Errors& errors, std::string_view message) const {
    auto [where, text] = find(message);
    errors.add(where.line, where.path, text);
}

void read_service(TableReader& r, registry::Instance& s, ServiceSite& site) {
    site.note_table(r, "");
    r.string("id", s.id);
    r.string("name", s.service);
    std::string address;
    r.string("address", address, [](std::string_view t) -> Result<void> {
        if (auto a = parse_ip_address(t); !a) return std::unexpected(a.error());
        return {};
    });
    if (!address.empty()) s.address = *parse_ip_address(address);
    read_number(r, site, "port", s.port, registry::port_value);
    read_dns_fields(r, s, site);
    read_checks(r, s, site);
    r.finish();
}

} // namespace cairn::config
