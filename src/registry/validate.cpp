#include "registry/validate.hpp"

#include <algorithm>
#include <set>
#include <string>

#include "core/duration.hpp"
#include "core/net.hpp"
#include "core/text.hpp"
#include "registry/txt.hpp"

namespace cairn::registry {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_meta_string = 255; // one TXT character-string holds "key=value"
constexpr std::size_t max_url_bytes = 2048;
constexpr std::size_t max_header_value_bytes = 1024;
constexpr std::size_t max_arg_bytes = 4096;
constexpr Duration max_ttl = 7 * 24h;

bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// An HTTP token (RFC 9110 §5.6.2): method and header names.
bool is_token(std::string_view text) {
    constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return !text.empty() && text.size() <= 64 && std::ranges::all_of(text, [&](char c) {
        return is_alnum(c) || extra.find(c) != std::string_view::npos;
    });
}

Result<void> check_id(std::string_view path, std::string_view id) {
    if (id.empty()) return fail("{}: must not be empty", path);
    if (id.size() > max_id_bytes)
        return fail("{}: {} is longer than {} characters", path, quote(id), max_id_bytes);
    // Ids stand in URL paths (/v1/services/{id}) unescaped.
    for (char c : id) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '/' || c == '?' || c == '#' || c == '%')
            return fail("{}: {} may contain only printable ASCII, without spaces or any of / ? # %",
                        path, quote(id));
    }
    return {};
}

Result<void> check_range(std::string_view path, Duration value, Duration min, Duration max) {
    if (value < min || value > max)
        return fail("{}: {} is out of range ({} to {})", path, format_duration(value),
                    format_duration(min), format_duration(max));
    return {};
}

Result<void> check_identity(const Instance& in) {
    if (in.service.empty()) return fail("name: missing");
    if (auto r = check_label(in.service); !r) return fail("name: {}", r.error().message);
    if (auto r = check_id("id", in.id); !r) return r;
    if (in.address.family != 0 && in.address.family != 4 && in.address.family != 6)
        return fail("address: unknown address family");
    if (in.port == 0) return fail("port: missing");
    if (auto r = weight_value(in.weight); !r) return std::unexpected(r.error());
    if (static_cast<std::uint8_t>(in.policy) > static_cast<std::uint8_t>(Policy::least_loaded))
        return fail("policy: unknown value");
    if (in.ttl_ms % 1000 != 0)
        return fail("ttl: {} is not whole seconds (DNS TTLs are seconds)",
                    format_duration(Duration{in.ttl_ms}));
    return check_range("ttl", Duration{in.ttl_ms}, 0ms, max_ttl);
}

Result<void> check_tags(const std::vector<std::string>& tags) {
    if (tags.size() > max_tags) return fail("tags: more than {} entries", max_tags);
    for (std::size_t i = 0; i < tags.size(); ++i)
        if (auto r = check_label(tags[i]); !r) return fail("tags[{}]: {}", i, r.error().message);
    return {};
}

Result<void> check_meta(const Metadata& meta) {
    if (meta.size() > max_meta) return fail("meta: more than {} entries", max_meta);
    std::set<std::string_view> keys;
    for (const auto& [key, value] : meta) {
        std::string field = "meta." + escaped(key);
        if (key.empty()) return fail("meta: keys must not be empty");
        if (key.find('=') != std::string::npos || std::ranges::any_of(key, is_control))
            return fail("{}: keys may not contain '=' or control characters", field);
        if (std::ranges::any_of(value, is_control))
            return fail("{}: the value may not contain control characters", field);
        if (key.size() + 1 + value.size() > max_meta_string)
            return fail("{}: key=value is longer than {} bytes (one DNS TXT string)", field,
                        max_meta_string);
        if (!keys.insert(key).second) return fail("{}: appears twice", field);
    }
    return {};
}

// What the probe of each kind is given reaches a system call or a request
// line: no NUL anywhere, no CR or LF in what becomes HTTP header lines.
Result<void> check_http_target(const std::string& at, const CheckDefinition& d) {
    if (!d.target.starts_with("http://") && !d.target.starts_with("https://"))
        return fail("{}.http: {} is not an http:// or https:// URL", at, quote(d.target));
    if (d.target.size() > max_url_bytes)
        return fail("{}.http: the URL is longer than {} bytes", at, max_url_bytes);
    if (std::ranges::any_of(d.target, [](char c) { return is_control(c) || c == ' '; }))
        return fail("{}.http: {} contains spaces or control characters", at, quote(d.target));
    if (!is_token(d.method))
        return fail("{}.method: {} is not an HTTP method", at, quote(d.method));
    if (d.headers.size() > max_headers)
        return fail("{}.headers: more than {} entries", at, max_headers);
    for (const auto& [name, value] : d.headers) {
        if (!is_token(name)) return fail("{}.headers: {} is not a header name", at, quote(name));
        std::string field = at + ".headers." + escaped(name);
        if (value.size() > max_header_value_bytes)
            return fail("{}: longer than {} bytes", field, max_header_value_bytes);
        // CR or LF would end the header line and inject another.
        if (std::ranges::any_of(value, [](char c) { return is_control(c) && c != '\t'; }))
            return fail("{}: {} contains CR, LF or another control character", field, quote(value));
    }
    return {};
}

Result<void> check_tcp_target(const std::string& at, const CheckDefinition& d) {
    // What the TCP probe dials: an address, or localhost (127.0.0.1).
    std::string_view target = d.target;
    std::string dialed =
        target.starts_with("localhost:") ? "127.0.0.1" + d.target.substr(9) : d.target;
    auto a = parse_socket_address(dialed);
    if (!a || a->port() == 0)
        return fail(
            "{}.tcp: {} is not host:port (an IP address or localhost, and a port 1 to 65535)", at,
            quote(d.target));
    return {};
}

Result<void> check_script(const std::string& at, const CheckDefinition& d) {
    if (d.args.empty() || d.args.front().empty())
        return fail("{}.args: the command must not be empty", at);
    if (d.args.size() > max_args) return fail("{}.args: more than {} entries", at, max_args);
    for (std::size_t i = 0; i < d.args.size(); ++i) {
        // execve() reads C strings: a NUL would silently cut the argument.
        if (has_nul(d.args[i])) return fail("{}.args[{}]: contains a NUL byte", at, i);
        if (d.args[i].size() > max_arg_bytes)
            return fail("{}.args[{}]: longer than {} bytes", at, i, max_arg_bytes);
    }
    return {};
}

Result<void> check_target(const std::string& at, const CheckDefinition& d) {
    switch (d.kind) {
    case CheckKind::http:
        return check_http_target(at, d);
    case CheckKind::tcp:
        return check_tcp_target(at, d);
    case CheckKind::script:
        return check_script(at, d);
    case CheckKind::ttl:
        if (d.ttl_ms == 0) return fail("{}.ttl: must be more than 0", at);
        return check_range(at + ".ttl", Duration{d.ttl_ms}, 1ms, max_ttl);
    }
    return fail("{}: unknown kind", at);
}

Result<void> check_timing(const std::string& at, const CheckDefinition& d) {
    if (d.kind != CheckKind::ttl) {
        if (auto r = check_range(at + ".interval", Duration{d.interval_ms}, 100ms, 24h); !r)
            return r;
    }
    if (auto r = check_range(at + ".timeout", Duration{d.timeout_ms}, 10ms, 1h); !r) return r;
    if (auto r = check_range(at + ".deregister_critical_after",
                             Duration{d.deregister_critical_after_ms}, 0ms, max_ttl);
        !r)
        return r;
    for (auto [key, value] : {std::pair<std::string_view, std::uint32_t>{"success_before_passing",
                                                                         d.success_before_passing},
                              {"failures_before_warning", d.failures_before_warning},
                              {"failures_before_critical", d.failures_before_critical}})
        if (auto r = counter_value(at + "." + std::string(key), value); !r)
            return std::unexpected(r.error());
    if (d.failures_before_warning > d.failures_before_critical)
        return fail("{}.failures_before_warning: {} must not exceed failures_before_critical ({})",
                    at, d.failures_before_warning, d.failures_before_critical);
    return {};
}

Result<void> check_one_check(const Check& check, std::size_t index) {
    const CheckDefinition& d = check.definition;
    std::string at = "checks[" + std::to_string(index) + "]";
    if (auto r = check_id(at + ".id", d.id); !r) return r;
    if (d.kind != CheckKind::http && (d.method != "GET" || !d.headers.empty() || d.tls_skip_verify))
        return fail("{}: method, headers and tls_skip_verify are only for http checks", at);
    if (auto r = check_target(at, d); !r) return r;
    if (auto r = check_timing(at, d); !r) return r;
    if (check.state.status == Health::maintenance)
        return fail("{}.status: a check cannot be in maintenance", at);
    return {};
}

Result<void> check_checks(const std::vector<Check>& checks) {
    if (checks.size() > max_checks) return fail("checks: more than {} entries", max_checks);
    std::set<std::string_view> ids;
    for (std::size_t i = 0; i < checks.size(); ++i) {
        if (auto r = check_one_check(checks[i], i); !r) return r;
        if (!ids.insert(checks[i].definition.id).second)
            return fail("checks[{}].id: {} is used twice", i, quote(checks[i].definition.id));
    }
    return {};
}

} // namespace

Result<void> check_label(std::string_view text) {
    if (text.empty()) return fail("must not be empty");
    bool ok = text.size() <= 63 && text.front() != '-' && text.back() != '-' &&
              std::ranges::all_of(text, [](char c) { return is_alnum(c) || c == '-'; });
    if (!ok)
        return fail("{} is not a DNS label (1 to 63 letters, digits and '-', not starting or "
                    "ending with '-')",
                    quote(text));
    return {};
}

Result<std::uint16_t> port_value(std::int64_t port) {
    if (port < 1 || port > 65535) return fail("port: {} is out of range (1 to 65535)", port);
    return static_cast<std::uint16_t>(port);
}

Result<std::uint32_t> weight_value(std::int64_t weight) {
    if (weight < 1 || weight > 65535)
        return fail("weight: {} is out of range (1 to 65535)", weight);
    return static_cast<std::uint32_t>(weight);
}

Result<std::uint32_t> counter_value(std::string_view path, std::int64_t count) {
    if (count < 1 || count > max_counter)
        return fail("{}: {} is out of range (1 to {})", path, count, max_counter);
    return static_cast<std::uint32_t>(count);
}

Result<CheckKind> check_kind(std::string_view path,
                             const std::function<bool(std::string_view key)>& has) {
    int kinds = 0;
    for (std::string_view key : check_kind_keys) kinds += has(key) ? 1 : 0;
    if (kinds != 1)
        return fail("{}: exactly one of http, tcp, args or ttl must be set (found {})", path,
                    kinds);
    CheckKind kind = has("http")   ? CheckKind::http
                     : has("tcp")  ? CheckKind::tcp
                     : has("args") ? CheckKind::script
                                   : CheckKind::ttl;
    if (kind != CheckKind::http)
        for (std::string_view key : {"method", "headers", "tls_skip_verify"})
            if (has(key)) return fail("{}.{}: only for http checks", path, key);
    if (kind == CheckKind::ttl && has("interval"))
        return fail("{}.interval: not used by ttl checks (the application reports)", path);
    return kind;
}

void fill_defaults(Instance& instance) {
    if (instance.id.empty()) instance.id = instance.service;
    for (std::size_t i = 0; i < instance.checks.size(); ++i) {
        CheckDefinition& d = instance.checks[i].definition;
        if (d.id.empty()) d.id = instance.id + ":" + std::to_string(i + 1);
        if (d.kind == CheckKind::ttl) d.interval_ms = 0;
    }
}

Result<void> validate(const Instance& instance) {
    if (auto r = check_identity(instance); !r) return r;
    if (auto r = check_tags(instance.tags); !r) return r;
    if (auto r = check_meta(instance.meta); !r) return r;
    return check_checks(instance.checks);
}

} // namespace cairn::registry
