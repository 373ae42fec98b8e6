#include "config/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/ranges.h>
#include <unistd.h>

#include "config/reader.hpp"
#include "config/toml_guard.hpp"
#include "core/log.hpp"
#include "config/values.hpp"

namespace cairn::config {
namespace {

using namespace std::chrono_literals;

constexpr Duration max_ttl = 7 * 24h;
constexpr Duration max_timeout = 1h;

// Where a [[service]] came from, for errors found after every file is read.
struct Site {
    std::string origin;
    std::uint32_t line = 0;
    std::string path; // "service[2]"
};

// Instance and check ids appear in HTTP paths (/v1/services/{id}).
Result<void> check_id(std::string_view id)
{
    if (id.empty() || id.size() > 128)
        return fail("\"{}\" must be 1 to 128 characters", id.substr(0, 64));
    for (char ch : id)
        if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '%')
            return fail("\"{}\" may not contain spaces, control characters or any of / ? # %", id.substr(0, 64));
    return {};
}

Result<void> check_policy(std::string_view text)
{
    if (auto p = parse_policy(text); !p)
        return std::unexpected(p.error());
    return {};
}

void read_check(TableReader& r, CheckConfig& c)
{
    r.string("id", c.id);
    r.string("http", c.http);
    r.string("method", c.method);
    r.string_map("headers", c.headers);
    r.boolean("tls_skip_verify", c.tls_skip_verify);
    r.string("tcp", c.tcp);
    r.string_list("args", c.args);
    r.duration("ttl", c.ttl, 0ms, max_ttl);
    r.duration("interval", c.interval, 100ms, 24h);
    r.duration("timeout", c.timeout, 10ms, max_timeout);
    r.integer("success_before_passing", c.success_before_passing, 1, 100);
    r.integer("failures_before_warning", c.failures_before_warning, 1, 100);
    r.integer("failures_before_critical", c.failures_before_critical, 1, 100);
    r.duration("deregister_critical_after", c.deregister_critical_after, 0ms, max_ttl);
    r.finish();
}

void read_checks(TableReader& r, ServiceConfig& s)
{
    if (const toml::table* t = r.table("check")) {
        TableReader cr(*t, r.path_of("check"), r.errors());
        read_check(cr, s.checks.emplace_back());
    }
    if (const toml::array* a = r.table_array("checks")) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const toml::node& item = *a->get(i);
            std::string path = fmt::format("{}[{}]", r.path_of("checks"), i);
            const toml::table* t = item.as_table();
            if (!t) {
                r.errors().add(item.source().begin.line, path, fmt::format("expected a table, got {}", describe(item)));
                continue;
            }
            TableReader cr(*t, path, r.errors());
            read_check(cr, s.checks.emplace_back());
        }
    }
}

void read_service(TableReader& r, ServiceConfig& s)
{
    r.string("id", s.id);
    r.string("name", s.name, check_label);
    r.string("address", s.address, check_ip_address);
    r.integer("port", s.port, 1, 65535);
    r.string_list("tags", s.tags, check_label);
    r.string_map("meta", s.meta);
    r.integer("weight", s.weight, 1, 65535);
    r.string("policy", s.policy, check_policy);
    r.duration("ttl", s.ttl, 0ms, max_ttl);
    read_checks(r, s);
    r.finish();
}

void read_dns(TableReader& r, DnsConfig& d)
{
    r.address_list("listen", d.listen, 8600);
    r.integer("workers", d.workers, 0, 256);
    r.duration("service_ttl", d.service_ttl, 0ms, max_ttl);
    r.duration("node_ttl", d.node_ttl, 0ms, max_ttl);
    r.duration("negative_ttl", d.negative_ttl, 0ms, max_ttl);
    r.integer("answer_limit", d.answer_limit, 0, 65535);
    std::string policy;
    r.string("policy", policy, check_policy);
    if (!policy.empty())
        d.policy = *parse_policy(policy);
    std::string serve_warning;
    r.string("serve_warning", serve_warning, [](std::string_view t) -> Result<void> {
        if (auto v = parse_serve_warning(t); !v)
            return std::unexpected(v.error());
        return {};
    });
    if (!serve_warning.empty())
        d.serve_warning = *parse_serve_warning(serve_warning);
    r.string("zones_dir", d.zones_dir, [](std::string_view t) -> Result<void> {
        if (t.empty())
            return fail("must not be empty");
        return {};
    });
    r.integer("tcp_max_connections", d.tcp_max_connections, 1, 1'000'000);
    r.duration("tcp_idle_timeout", d.tcp_idle_timeout, 100ms, max_timeout);
    if (const toml::table* t = r.table("forward")) {
        TableReader fr(*t, r.path_of("forward"), r.errors());
        fr.string_list("upstreams", d.forward.upstreams, [](std::string_view u) -> Result<void> {
            if (auto a = parse_socket_address(u, 53); !a)
                return std::unexpected(a.error());
            return {};
        });
        fr.string_list("allow", d.forward.allow, check_cidr);
        fr.finish();
    }
    r.finish();
}

void read_http(TableReader& r, HttpConfig& h)
{
    r.address("listen", h.listen, 8500);
    r.string("token", h.token);
    r.integer("max_connections", h.max_connections, 1, 1'000'000);
    r.duration("idle_timeout", h.idle_timeout, 100ms, max_timeout);
    r.integer("max_body_bytes", h.max_body_bytes, 1024, 64 << 20);
    r.integer("max_header_bytes", h.max_header_bytes, 1024, 1 << 20);
    r.finish();
}

void read_gossip(TableReader& r, GossipConfig& g)
{
    r.address("bind", g.bind, 8301);
    r.string("advertise", g.advertise, [](std::string_view t) -> Result<void> {
        if (t.empty())
            return {};
        if (auto a = parse_socket_address(t, 8301); !a)
            return std::unexpected(a.error());
        return {};
    });
    r.string_list("join", g.join, [](std::string_view t) -> Result<void> {
        if (t.empty())
            return fail("a join address must not be empty");
        return {};
    });
    r.string("encrypt", g.encrypt, [](std::string_view t) -> Result<void> {
        if (t.empty())
            return {};
        // AES-128, -192 or -256, as memberlist's keyring takes them.
        static constexpr std::size_t sizes[] = {16, 24, 32};
        return check_base64_key(t, sizes);
    });
    r.string("profile", g.profile, [](std::string_view t) -> Result<void> {
        if (t == "lan" || t == "wan" || t == "local")
            return {};
        return fail("\"{}\" is not a profile (expected lan, wan or local)", t);
    });
    r.boolean("encrypt_verify_incoming", g.verify_incoming);
    r.boolean("encrypt_verify_outgoing", g.verify_outgoing);
    r.finish();
}

std::optional<StorageSync> parse_storage_sync(std::string_view t)
{
    if (t == "none")
        return StorageSync::none;
    if (t == "normal")
        return StorageSync::normal;
    if (t == "fsync")
        return StorageSync::fsync;
    return std::nullopt;
}

void read_storage(TableReader& r, StorageConfig& st)
{
    std::string sync;
    r.string("sync", sync, [](std::string_view t) -> Result<void> {
        if (!parse_storage_sync(t))
            return fail("\"{}\" is not one of none, normal, fsync", t);
        return {};
    });
    if (auto v = parse_storage_sync(sync))
        st.sync = *v;
    r.finish();
}

void read_log(TableReader& r, LogConfig& l)
{
    r.string("level", l.level, [](std::string_view t) -> Result<void> {
        if (auto v = cairn::log::parse_level(t); !v)
            return std::unexpected(v.error());
        return {};
    });
    r.boolean("json", l.json);
    r.finish();
}

void read_sections(TableReader& top, Config& c, std::vector<Site>& sites)
{
    top.string("node_name", c.node_name, check_label);
    top.string("datacenter", c.datacenter, check_label);
    top.string("domain", c.domain, [](std::string_view t) -> Result<void> {
        if (auto d = normalize_domain(t); !d)
            return std::unexpected(d.error());
        return {};
    });
    top.string("data_dir", c.data_dir, [](std::string_view t) -> Result<void> {
        if (t.empty())
            return fail("must not be empty");
        return {};
    });
    top.string("advertise_address", c.advertise_address, [](std::string_view t) -> Result<void> {
        if (t.empty())
            return {};
        return check_ip_address(t);
    });
    if (const toml::table* t = top.table("dns")) {
        TableReader r(*t, "dns", top.errors());
        read_dns(r, c.dns);
    }
    if (const toml::table* t = top.table("http")) {
        TableReader r(*t, "http", top.errors());
        read_http(r, c.http);
    }
    if (const toml::table* t = top.table("gossip")) {
        TableReader r(*t, "gossip", top.errors());
        read_gossip(r, c.gossip);
    }
    if (const toml::table* t = top.table("storage")) {
        TableReader r(*t, "storage", top.errors());
        read_storage(r, c.storage);
    }
    if (const toml::table* t = top.table("log")) {
        TableReader r(*t, "log", top.errors());
        read_log(r, c.log);
    }
    if (const toml::array* a = top.table_array("service")) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const toml::node& item = *a->get(i);
            std::string path = fmt::format("service[{}]", i);
            const toml::table* t = item.as_table();
            if (!t) {
                top.errors().add(item.source().begin.line, path, fmt::format("expected a table, got {}", describe(item)));
                continue;
            }
            TableReader r(*t, path, top.errors());
            read_service(r, c.services.emplace_back());
            sites.push_back({top.errors().origin(), t->source().begin.line, path});
        }
    }
    top.finish();
}

// Reads one document over `config`: keys present override, services append.
Result<void> apply_document(std::string_view text, std::string_view origin, Config& config, std::vector<Site>& sites)
{
    if (auto clean = prescan_toml(text, origin); !clean)
        return clean;
    toml::table doc;
    try {
        doc = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        return fail("{}:{}: {}", origin, e.source().begin.line, e.description());
    }
    Errors errors{std::string(origin)};
    TableReader top(doc, "", errors);
    read_sections(top, config, sites);
    if (!errors.empty())
        return fail("{}", errors.text());
    return {};
}

std::string default_node_name()
{
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        return "cairn";
    std::string name(host, strnlen(host, sizeof host));
    name = name.substr(0, name.find('.'));
    for (char& ch : name) {
        auto u = static_cast<unsigned char>(ch);
        if (!std::isalnum(u) && ch != '-')
            ch = '-';
    }
    if (name.size() > 63)
        name.resize(63);
    if (!check_label(name))
        return "cairn";
    return name;
}

// Defaults that depend on other keys, and the rules that span services.
Result<void> finish_config(Config& c, const std::vector<Site>& sites)
{
    if (c.node_name.empty())
        c.node_name = default_node_name();
    c.domain = *normalize_domain(c.domain);
    std::string errors;
    auto add = [&](const Site& site, std::string_view message) {
        if (!errors.empty())
            errors += '\n';
        errors += fmt::format("{}:{}: {}{}", site.origin, site.line, site.path, message);
    };
    std::map<std::string, std::size_t, std::less<>> ids;
    std::map<std::string, std::size_t, std::less<>> check_ids;
    for (std::size_t i = 0; i < c.services.size(); ++i) {
        const Site& site = sites.at(i);
        if (auto r = validate_service(c.services[i]); !r) {
            add(site, fmt::format(".{}", r.error().message));
            continue;
        }
        const ServiceConfig& s = c.services[i];
        if (auto [it, fresh] = ids.emplace(s.id, i); !fresh) {
            const Site& first = sites.at(it->second);
            add(site, fmt::format(": id \"{}\" is already used by the service at {}:{} (give each its own id)", s.id,
                                  first.origin, first.line));
        }
        for (const CheckConfig& check : s.checks) {
            if (auto [it, fresh] = check_ids.emplace(check.id, i); !fresh)
                add(site, fmt::format(": check id \"{}\" is already used (check ids must be unique)", check.id));
        }
    }
    if (!errors.empty())
        return std::unexpected(Error{errors});
    return {};
}

Result<std::vector<std::string>> expand_paths(const std::vector<std::string>& paths)
{
    std::vector<std::string> files;
    for (const std::string& path : paths) {
        std::error_code ec;
        auto status = std::filesystem::status(path, ec);
        if (ec)
            return fail("{}: {}", path, ec.message());
        if (!std::filesystem::is_directory(status)) {
            files.push_back(path);
            continue;
        }
        std::vector<std::string> found;
        for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
            if (entry.path().extension() == ".toml" && !entry.is_directory())
                found.push_back(entry.path().string());
        }
        if (ec)
            return fail("{}: {}", path, ec.message());
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

Result<std::string> read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return fail("{}: cannot read: {}", path, std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        return fail("{}: cannot read: {}", path, std::strerror(errno));
    return text.str();
}

// The repository's zones/ seen from the binary: next to it, or one level up
// (build/cairn -> zones/); else ./zones.
std::string dev_zones_dir()
{
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        for (const auto& dir : {exe.parent_path(), exe.parent_path().parent_path()}) {
            auto candidate = dir / "zones";
            if (!dir.empty() && std::filesystem::is_directory(candidate, ec))
                return candidate.string();
        }
    }
    return "zones";
}

} // namespace

std::string_view to_string(Policy p)
{
    switch (p) {
    case Policy::random: return "random";
    case Policy::round_robin: return "round_robin";
    case Policy::weighted: return "weighted";
    case Policy::affinity: return "affinity";
    case Policy::fastest: return "fastest";
    }
    return "random";
}

Result<Policy> parse_policy(std::string_view text)
{
    for (Policy p : {Policy::random, Policy::round_robin, Policy::weighted, Policy::affinity, Policy::fastest})
        if (text == to_string(p))
            return p;
    return fail("\"{}\" is not a policy (expected random, round_robin, weighted, affinity or fastest)", text);
}

std::string_view to_string(StorageSync s)
{
    switch (s) {
    case StorageSync::none: return "none";
    case StorageSync::normal: return "normal";
    case StorageSync::fsync: return "fsync";
    }
    return "fsync";
}

std::string_view to_string(ServeWarning s)
{
    switch (s) {
    case ServeWarning::fallback: return "fallback";
    case ServeWarning::always: return "always";
    case ServeWarning::never: return "never";
    }
    return "fallback";
}

Result<ServeWarning> parse_serve_warning(std::string_view text)
{
    for (ServeWarning s : {ServeWarning::fallback, ServeWarning::always, ServeWarning::never})
        if (text == to_string(s))
            return s;
    return fail("\"{}\" is not a serve_warning value (expected fallback, always or never)", text);
}

Result<void> validate_check(CheckConfig& c)
{
    int kinds = !c.http.empty() + !c.tcp.empty() + !c.args.empty() + (c.ttl.count() > 0);
    if (kinds != 1)
        return fail("exactly one of http, tcp, args or ttl must be set (found {})", kinds);
    if (!c.http.empty() && !c.http.starts_with("http://") && !c.http.starts_with("https://"))
        return fail("http: \"{}\" is not an http:// or https:// URL", c.http);
    if (!c.tcp.empty()) {
        if (auto a = parse_socket_address(c.tcp); !a)
            return fail("tcp: {}", a.error().message);
    }
    if (!c.args.empty() && c.args.front().empty())
        return fail("args[0]: the command must not be empty");
    if (c.method.empty())
        return fail("method: must not be empty");
    if (c.interval < Duration{100})
        return fail("interval: must be at least 100ms");
    if (c.timeout < Duration{10})
        return fail("timeout: must be at least 10ms");
    for (int v : {c.success_before_passing, c.failures_before_warning, c.failures_before_critical})
        if (v < 1 || v > 100)
            return fail("success_before_passing, failures_before_warning and failures_before_critical must be 1 to 100");
    if (c.failures_before_warning > c.failures_before_critical)
        return fail("failures_before_warning ({}) must not exceed failures_before_critical ({})",
                    c.failures_before_warning, c.failures_before_critical);
    return {};
}

Result<void> validate_service(ServiceConfig& s)
{
    if (s.name.empty())
        return fail("name: missing");
    if (auto r = check_label(s.name); !r)
        return fail("name: {}", r.error().message);
    if (s.id.empty())
        s.id = s.name;
    if (auto r = check_id(s.id); !r)
        return fail("id: {}", r.error().message);
    if (!s.address.empty()) {
        if (auto r = check_ip_address(s.address); !r)
            return fail("address: {}", r.error().message);
    }
    if (s.port == 0)
        return fail("port: missing (1 to 65535)");
    if (s.weight < 1 || s.weight > 65535)
        return fail("weight: {} is out of range (1 to 65535)", s.weight);
    for (std::size_t i = 0; i < s.tags.size(); ++i)
        if (auto r = check_label(s.tags[i]); !r)
            return fail("tags[{}]: {}", i, r.error().message);
    for (const auto& [key, value] : s.meta) {
        if (key.empty() || key.find('=') != std::string::npos)
            return fail("meta: key \"{}\" must be non-empty and without '='", key);
        if (key.size() + 1 + value.size() > 255)
            return fail("meta.{}: key=value is longer than 255 bytes (one DNS TXT string)", key);
    }
    if (!s.policy.empty()) {
        if (auto p = parse_policy(s.policy); !p)
            return fail("policy: {}", p.error().message);
    }
    for (std::size_t i = 0; i < s.checks.size(); ++i) {
        CheckConfig& check = s.checks[i];
        if (auto r = validate_check(check); !r)
            return fail("checks[{}]: {}", i, r.error().message);
        if (check.id.empty())
            check.id = fmt::format("{}:{}", s.id, i + 1);
        if (auto r = check_id(check.id); !r)
            return fail("checks[{}].id: {}", i, r.error().message);
    }
    return {};
}

Result<Config> parse_config(std::string_view toml_text, std::string_view origin)
{
    Config config;
    std::vector<Site> sites;
    if (auto r = apply_document(toml_text, origin, config, sites); !r)
        return std::unexpected(r.error());
    if (auto r = finish_config(config, sites); !r)
        return std::unexpected(r.error());
    return config;
}

Result<Config> load_config(const std::vector<std::string>& paths, Config base)
{
    auto files = expand_paths(paths);
    if (!files)
        return std::unexpected(files.error());
    if (files->empty())
        return fail("no configuration files found in {}", fmt::join(paths, ", "));
    std::vector<Site> sites(base.services.size(), Site{"(built in)", 0, "service"});
    std::string errors;
    for (const std::string& file : *files) {
        auto text = read_file(file);
        if (!text)
            return std::unexpected(text.error());
        if (auto r = apply_document(*text, file, base, sites); !r)
            errors += (errors.empty() ? "" : "\n") + r.error().message;
    }
    if (!errors.empty())
        return std::unexpected(Error{errors});
    if (auto r = finish_config(base, sites); !r)
        return std::unexpected(r.error());
    return base;
}

Result<Config> load_config(const std::vector<std::string>& paths)
{
    return load_config(paths, Config{});
}

Config dev_config()
{
    Config c;
    c.node_name = default_node_name();
    c.dns.listen = {literal_address("127.0.0.1:8600")};
    c.dns.zones_dir = dev_zones_dir();
    c.http.listen = literal_address("127.0.0.1:8500");
    c.gossip.bind = literal_address("127.0.0.1:8301");
    c.advertise_address = "127.0.0.1";
    c.log.level = "info";
    auto base = std::filesystem::temp_directory_path() / "cairn-dev-XXXXXX";
    std::string pattern = base.string();
    if (mkdtemp(pattern.data()) != nullptr)
        c.data_dir = pattern;
    else
        c.data_dir = (std::filesystem::temp_directory_path() / fmt::format("cairn-dev-{}", getpid())).string();
    return c;
}

SocketAddress literal_address(std::string_view text)
{
    auto a = parse_socket_address(text);
    if (!a)
        std::abort(); // only ever called with literals written in this file
    return *a;
}

} // namespace cairn::config
