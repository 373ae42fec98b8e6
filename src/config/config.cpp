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
#include "config/service.hpp"
#include "config/toml_guard.hpp"
#include "config/values.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "registry/validate.hpp"

namespace cairn::config {
namespace {

using namespace std::chrono_literals;

constexpr Duration max_ttl = 7 * 24h;
constexpr Duration max_timeout = 1h;

void read_dns(TableReader& r, DnsConfig& d) {
    r.address_list("listen", d.listen, 8600);
    r.integer("workers", d.workers, 0, 256);
    r.duration("service_ttl", d.service_ttl, 0ms, max_ttl);
    r.duration("node_ttl", d.node_ttl, 0ms, max_ttl);
    r.duration("negative_ttl", d.negative_ttl, 0ms, max_ttl);
    r.integer("answer_limit", d.answer_limit, 0, 65535);
    std::string policy;
    r.string("policy", policy, [](std::string_view t) -> Result<void> {
        if (auto v = registry::parse_policy(t); !v) return std::unexpected(v.error());
        return {};
    });
    if (!policy.empty()) d.policy = *registry::parse_policy(policy);
    std::string serve_warning;
    r.string("serve_warning", serve_warning, [](std::string_view t) -> Result<void> {
        if (auto v = registry::parse_serve_warning(t); !v) return std::unexpected(v.error());
        return {};
    });
    if (!serve_warning.empty()) d.serve_warning = *registry::parse_serve_warning(serve_warning);
    r.string("zones_dir", d.zones_dir, [](std::string_view t) -> Result<void> {
        if (t.empty()) return fail("must not be empty");
        return {};
    });
    r.integer("tcp_max_connections", d.tcp_max_connections, 1, 1'000'000);
    r.duration("tcp_idle_timeout", d.tcp_idle_timeout, 100ms, max_timeout);
    if (const toml::table* t = r.table("forward")) {
        TableReader fr(*t, r.path_of("forward"), r.errors());
        fr.string_list("upstreams", d.forward.upstreams, [](std::string_view u) -> Result<void> {
            if (auto a = parse_socket_address(u, 53); !a) return std::unexpected(a.error());
            return {};
        });
        fr.string_list("allow", d.forward.allow, check_cidr);
        fr.string("policy", d.forward.policy, [](std::string_view p) -> Result<void> {
            if (p == "sequential" || p == "random" || p == "fastest") return {};
            return fail("must be sequential, random or fastest");
        });
        fr.duration("timeout", d.forward.timeout, 100ms, 60'000ms);
        fr.duration("probe_interval", d.forward.probe_interval, 100ms, 600'000ms);
        fr.integer("cache_size", d.forward.cache_size, 0, std::int64_t{1} << 40);
        fr.duration("serve_stale", d.forward.serve_stale, 0ms, std::chrono::hours(24 * 7));
        fr.finish();
    }
    r.finish();
}

void read_http(TableReader& r, HttpConfig& h) {
    r.address("listen", h.listen, 8500);
    r.string("token", h.token);
    r.integer("max_connections", h.max_connections, 1, 1'000'000);
    r.duration("idle_timeout", h.idle_timeout, 100ms, max_timeout);
    r.integer("max_body_bytes", h.max_body_bytes, 1024, 64 << 20);
    r.integer("max_header_bytes", h.max_header_bytes, 1024, 1 << 20);
    r.finish();
}

void read_gossip(TableReader& r, GossipConfig& g) {
    r.address("bind", g.bind, 8301);
    r.string("advertise", g.advertise, [](std::string_view t) -> Result<void> {
        if (t.empty()) return {};
        if (auto a = parse_socket_address(t, 8301); !a) return std::unexpected(a.error());
        return {};
    });
    r.string_list("join", g.join, [](std::string_view t) -> Result<void> {
        if (t.empty()) return fail("a join address must not be empty");
        return {};
    });
    r.string("encrypt", g.encrypt, [](std::string_view t) -> Result<void> {
        if (t.empty()) return {};
        // AES-128, -192 or -256, as memberlist's keyring takes them.
        static constexpr std::size_t sizes[] = {16, 24, 32};
        return check_base64_key(t, sizes);
    });
    r.string("profile", g.profile, [](std::string_view t) -> Result<void> {
        if (t == "lan" || t == "wan" || t == "local") return {};
        return fail("\"{}\" is not a profile (expected lan, wan or local)", t);
    });
    r.boolean("encrypt_verify_incoming", g.verify_incoming);
    r.boolean("encrypt_verify_outgoing", g.verify_outgoing);
    r.finish();
}

std::optional<StorageSync> parse_storage_sync(std::string_view t) {
    if (t == "none") return StorageSync::none;
    if (t == "normal") return StorageSync::normal;
    if (t == "fsync") return StorageSync::fsync;
    return std::nullopt;
}

void read_storage(TableReader& r, StorageConfig& st) {
    std::string sync;
    r.string("sync", sync, [](std::string_view t) -> Result<void> {
        if (!parse_storage_sync(t)) return fail("\"{}\" is not one of none, normal, fsync", t);
        return {};
    });
    if (auto v = parse_storage_sync(sync)) st.sync = *v;
    r.finish();
}

void read_log(TableReader& r, LogConfig& l) {
    r.string("level", l.level, [](std::string_view t) -> Result<void> {
        if (auto v = cairn::log::parse_level(t); !v) return std::unexpected(v.error());
        return {};
    });
    r.string("format", l.format, [](std::string_view t) -> Result<void> {
        if (t == "text" || t == "json") return {};
        return fail("\"{}\" is not a log format (expected text or json)", t);
    });
    r.boolean("queries", l.queries);
    r.integer("queries_per_second", l.queries_per_second, 1, 1'000'000);
    r.replaced("json", "replaced by format = \"json\" (or \"text\")");
    r.finish();
}

void read_sections(TableReader& top, Config& c, std::vector<ServiceSite>& sites) {
    top.string("node_name", c.node_name, registry::check_label);
    top.string("datacenter", c.datacenter, registry::check_label);
    top.string("domain", c.domain, [](std::string_view t) -> Result<void> {
        if (auto d = normalize_domain(t); !d) return std::unexpected(d.error());
        return {};
    });
    top.string("data_dir", c.data_dir, [](std::string_view t) -> Result<void> {
        if (t.empty()) return fail("must not be empty");
        return {};
    });
    top.string("advertise_address", c.advertise_address, [](std::string_view t) -> Result<void> {
        if (t.empty()) return {};
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
                top.errors().add(item.source().begin.line, path,
                                 fmt::format("expected a table, got {}", describe(item)));
                continue;
            }
            TableReader r(*t, path, top.errors());
            ServiceSite& site =
                sites.emplace_back(top.errors().origin(), t->source().begin.line, path);
            read_service(r, c.services.emplace_back(), site);
        }
    }
    top.finish();
}

// Reads one document over `config`: keys present override, services append.
Result<void> apply_document(std::string_view text, std::string_view origin, Config& config,
                            std::vector<ServiceSite>& sites) {
    if (auto clean = prescan_toml(text, origin); !clean) return clean;
    toml::table doc;
    try {
        doc = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        return fail("{}:{}: {}", origin, e.source().begin.line, e.description());
    }
    Errors errors{std::string(origin)};
    TableReader top(doc, "", errors);
    read_sections(top, config, sites);
    if (!errors.empty()) return fail("{}", errors.text());
    return {};
}

std::string default_node_name() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "cairn";
    std::string name(host, strnlen(host, sizeof host));
    name = name.substr(0, name.find('.'));
    for (char& ch : name) {
        auto u = static_cast<unsigned char>(ch);
        if (!std::isalnum(u) && ch != '-') ch = '-';
    }
    if (name.size() > 63) name.resize(63);
    if (!registry::check_label(name)) return "cairn";
    return name;
}

// Defaults that depend on other keys, the rulebook on each service, and the
// rules that span services.
Result<void> finish_config(Config& c, const std::vector<ServiceSite>& sites) {
    if (c.node_name.empty()) c.node_name = default_node_name();
    c.domain = *normalize_domain(c.domain);
    std::string errors;
    auto add = [&](std::string text) {
        if (!errors.empty()) errors += '\n';
        errors += text;
    };
    std::map<std::string, std::size_t, std::less<>> ids;
    std::map<std::string, std::size_t, std::less<>> check_ids;
    for (std::size_t i = 0; i < c.services.size(); ++i) {
        const ServiceSite& site = sites.at(i);
        registry::Instance& s = c.services[i];
        registry::fill_defaults(s);
        if (auto r = registry::validate(s); !r) {
            add(site.locate(r.error().message));
            continue;
        }
        if (auto [it, fresh] = ids.emplace(s.id, i); !fresh) {
            const ServiceSite& first = sites.at(it->second);
            add(site.locate(
                fmt::format("id: {} is already used by the service at {}:{} (give each its own id)",
                            quote(s.id), first.origin(), first.line())));
        }
        for (std::size_t k = 0; k < s.checks.size(); ++k) {
            const std::string& check_id = s.checks[k].definition.id;
            if (auto [it, fresh] = check_ids.emplace(check_id, i); !fresh)
                add(site.locate(
                    fmt::format("checks[{}].id: {} is already used (check ids must be unique)", k,
                                quote(check_id))));
        }
    }
    if (!errors.empty()) return std::unexpected(Error{errors});
    return {};
}

Result<std::vector<std::string>> expand_paths(const std::vector<std::string>& paths) {
    std::vector<std::string> files;
    for (const std::string& path : paths) {
        std::error_code ec;
        auto status = std::filesystem::status(path, ec);
        if (ec) return fail("{}: {}", path, ec.message());
        if (!std::filesystem::is_directory(status)) {
            files.push_back(path);
            continue;
        }
        std::vector<std::string> found;
        for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
            if (entry.path().extension() == ".toml" && !entry.is_directory())
                found.push_back(entry.path().string());
        }
        if (ec) return fail("{}: {}", path, ec.message());
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("{}: cannot read: {}", path, std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return fail("{}: cannot read: {}", path, std::strerror(errno));
    return text.str();
}

// The repository's zones/ seen from the binary: next to it, or one level up
// (build/cairn -> zones/); else ./zones.
std::string dev_zones_dir() {
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

std::string_view to_string(StorageSync s) {
    switch (s) {
    case StorageSync::none:
        return "none";
    case StorageSync::normal:
        return "normal";
    case StorageSync::fsync:
        return "fsync";
    }
    return "fsync";
}

Result<Config> parse_config(std::string_view toml_text, std::string_view origin) {
    Config config;
    std::vector<ServiceSite> sites;
    if (auto r = apply_document(toml_text, origin, config, sites); !r)
        return std::unexpected(r.error());
    if (auto r = finish_config(config, sites); !r) return std::unexpected(r.error());
    return config;
}

Result<Config> load_config(const std::vector<std::string>& paths, Config base) {
    auto files = expand_paths(paths);
    if (!files) return std::unexpected(files.error());
    if (files->empty()) return fail("no configuration files found in {}", fmt::join(paths, ", "));
    std::vector<ServiceSite> sites(base.services.size(), ServiceSite{"(built in)", 0, "service"});
    std::string errors;
    for (const std::string& file : *files) {
        auto text = read_file(file);
        if (!text) return std::unexpected(text.error());
        if (auto r = apply_document(*text, file, base, sites); !r)
            errors += (errors.empty() ? "" : "\n") + r.error().message;
    }
    if (!errors.empty()) return std::unexpected(Error{errors});
    if (auto r = finish_config(base, sites); !r) return std::unexpected(r.error());
    return base;
}

Result<Config> load_config(const std::vector<std::string>& paths) {
    return load_config(paths, Config{});
}

std::vector<std::string> known_keys() {
    // Every table present and empty, so that each reader runs and asks for
    // all of its keys; what it thinks of the values does not matter here.
    static constexpr std::string_view every_table = "[dns]\n[dns.forward]\n[http]\n[gossip]\n"
                                                    "[storage]\n[log]\n[[service]]\n"
                                                    "check = {}\nchecks = [{}]\n";
    std::set<std::string> asked;
    Errors errors{"(every table)"};
    errors.record_keys(&asked);
    toml::table doc = toml::parse(every_table);
    Config config;
    std::vector<ServiceSite> sites;
    TableReader top(doc, "", errors);
    read_sections(top, config, sites);
    std::set<std::string> keys;
    for (const std::string& path : asked) {
        std::string key;
        for (std::size_t i = 0; i < path.size(); ++i) {
            key += path[i];
            if (path[i] != '[') continue;
            while (i + 1 < path.size() && std::isdigit(static_cast<unsigned char>(path[i + 1])))
                ++i; // "[0]" -> "[]"
        }
        keys.insert(std::move(key));
    }
    return {keys.begin(), keys.end()};
}

Config dev_config(int member) {
    Config c;
    c.node_name = default_node_name();
    c.dns.listen = {literal_address("127.0.0.1:8600")};
    c.dns.zones_dir = dev_zones_dir();
    c.http.listen = literal_address("127.0.0.1:8500");
    c.gossip.bind = literal_address("127.0.0.1:8301");
    c.advertise_address = "127.0.0.1";
    if (member > 0) {
        c.node_name = fmt::format("n{}", member);
        c.dns.listen = {literal_address(fmt::format("127.0.0.{}:8600", member))};
        c.http.listen = literal_address(fmt::format("127.0.0.{}:8500", member));
        c.gossip.bind = literal_address(fmt::format("127.0.0.{}:8301", member));
        c.advertise_address = fmt::format("127.0.0.{}", member);
    }
    c.log.level = "info";
    auto base = std::filesystem::temp_directory_path() / "cairn-dev-XXXXXX";
    std::string pattern = base.string();
    if (mkdtemp(pattern.data()) != nullptr)
        c.data_dir = pattern;
    else
        c.data_dir =
            (std::filesystem::temp_directory_path() / fmt::format("cairn-dev-{}", getpid()))
                .string();
    return c;
}

SocketAddress literal_address(std::string_view text) {
    auto a = parse_socket_address(text);
    if (!a) std::abort(); // only ever called with addresses written in this file
    return *a;
}

} // namespace cairn::config
