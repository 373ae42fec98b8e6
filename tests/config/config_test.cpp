#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "config/config.hpp"
#include "core/ip_address.hpp"

using namespace cairn::config;
namespace registry = cairn::registry;
using namespace std::chrono_literals;

namespace {

// The error text of a document that must be rejected.
std::string error_of(std::string_view toml) {
    auto c = parse_config(toml, "agent.toml");
    REQUIRE_FALSE(c);
    return c.error().message;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "cairn-config-test-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string write(const std::string& name, std::string_view text) const {
        auto p = path / name;
        std::ofstream(p) << text;
        return p.string();
    }
};

} // namespace

TEST_CASE("an empty document gives the documented defaults") {
    auto c = parse_config("", "agent.toml");
    REQUIRE(c);
    CHECK_FALSE(c->node_name.empty());
    CHECK(c->datacenter == "dc1");
    CHECK(c->domain == "cairn.");
    CHECK(c->data_dir == "/var/lib/cairn");
    REQUIRE(c->dns.listen.size() == 1);
    CHECK(c->dns.listen[0].to_string() == "127.0.0.1:8600");
    CHECK(c->dns.workers == 0);
    CHECK(c->dns.service_ttl == 5s);
    CHECK(c->dns.node_ttl == 30s);
    CHECK(c->dns.negative_ttl == 5s);
    CHECK(c->dns.answer_limit == 0);
    CHECK(c->dns.policy == registry::Policy::random);
    CHECK(c->dns.serve_warning == registry::ServeWarning::fallback);
    CHECK(c->dns.zones_dir == "zones");
    CHECK(c->dns.forward.upstreams.empty());
    CHECK(c->dns.forward.allow == std::vector<std::string>{"127.0.0.0/8", "::1/128"});
    CHECK(c->http.listen.to_string() == "127.0.0.1:8500");
    CHECK(c->gossip.bind.to_string() == "0.0.0.0:8301");
    CHECK(c->gossip.profile == "lan");
    CHECK(c->log.level == "info");
    CHECK(c->log.format == "text");
    CHECK(c->services.empty());
}

TEST_CASE("the full example configuration parses into the structs") {
    auto c = parse_config(R"(
node_name  = "web-01"
datacenter = "dc2"
domain     = "Consul.Example"
data_dir   = "/tmp/cairn"
advertise_address = "10.0.0.5"

[dns]
listen       = ["127.0.0.1:8600", "[::1]:8600", "10.0.0.5"]
workers      = 2
service_ttl  = "10s"
node_ttl     = "1m"
negative_ttl = "250ms"
answer_limit = 3
policy       = "weighted"
serve_warning = "never"
zones_dir    = "/etc/cairn/zones"
tcp_max_connections = 100
tcp_idle_timeout = "3s"

[dns.forward]
upstreams = ["1.1.1.1", "[2606:4700::1111]:53"]
allow     = ["10.0.0.0/8"]
policy    = "fastest"
timeout   = "2s"
probe_interval = "500ms"
cache_size = 1048576
serve_stale = "1h"

[http]
listen = "0.0.0.0:9500"
token = "s3cret"
max_body_bytes = 4096

[gossip]
bind    = "0.0.0.0:8301"
advertise = "10.0.0.5:8301"
join    = ["10.0.0.6:8301", "seed.example:8301"]
encrypt = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
profile = "wan"

[log]
level = "debug"
format = "json"

[[service]]
name = "web"
port = 8080
tags = ["v2", "primary"]
meta = { version = "2.1.0" }
weight = 10
check = { http = "http://127.0.0.1:8080/health", interval = "5s", timeout = "2s" }

[[service]]
id = "db-1"
name = "db"
address = "::1"
port = 5432
policy = "fastest"
ttl = "1s"
checks = [
  { tcp = "127.0.0.1:5432", interval = "1s" },
  { args = ["/bin/true"], success_before_passing = 2, failures_before_warning = 1, failures_before_critical = 3 },
  { id = "db-heartbeat", ttl = "30s", deregister_critical_after = "1h" },
]
)",
                          "agent.toml");
    REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
    CHECK(c->node_name == "web-01");
    CHECK(c->datacenter == "dc2");
    CHECK(c->domain == "consul.example.");
    CHECK(c->advertise_address == "10.0.0.5");
    REQUIRE(c->dns.listen.size() == 3);
    CHECK(c->dns.listen[1].to_string() == "[::1]:8600");
    CHECK(c->dns.listen[2].to_string() == "10.0.0.5:8600");
    CHECK(c->dns.workers == 2);
    CHECK(c->dns.service_ttl == 10s);
    CHECK(c->dns.node_ttl == 60s);
    CHECK(c->dns.negative_ttl == 250ms);
    CHECK(c->dns.answer_limit == 3);
    CHECK(c->dns.policy == registry::Policy::weighted);
    CHECK(c->dns.serve_warning == registry::ServeWarning::never);
    CHECK(c->dns.zones_dir == "/etc/cairn/zones");
    CHECK(c->dns.tcp_max_connections == 100);
    CHECK(c->dns.tcp_idle_timeout == 3s);
    CHECK(c->dns.forward.upstreams.size() == 2);
    CHECK(c->dns.forward.allow == std::vector<std::string>{"10.0.0.0/8"});
    CHECK(c->dns.forward.policy == "fastest");
    CHECK(c->dns.forward.timeout == 2s);
    CHECK(c->dns.forward.probe_interval == 500ms);
    CHECK(c->dns.forward.cache_size == 1048576);
    CHECK(c->dns.forward.serve_stale == 1h);
    CHECK(c->http.listen.to_string() == "0.0.0.0:9500");
    CHECK(c->http.token == "s3cret");
    CHECK(c->http.max_body_bytes == 4096);
    CHECK(c->gossip.join.size() == 2);
    CHECK(c->gossip.profile == "wan");
    CHECK(c->log.level == "debug");
    CHECK(c->log.format == "json");

    REQUIRE(c->services.size() == 2);
    const registry::Instance& web = c->services[0];
    CHECK(web.id == "web");
    CHECK(web.port == 8080);
    CHECK(web.tags == std::vector<std::string>{"v2", "primary"});
    CHECK(web.meta == registry::Metadata{{"version", "2.1.0"}});
    CHECK(web.weight == 10);
    REQUIRE(web.checks.size() == 1);
    CHECK(web.address.family == 0); // advertise_address, filled in by the agent
    const registry::CheckDefinition& http = web.checks[0].definition;
    CHECK(http.id == "web:1");
    CHECK(http.kind == registry::CheckKind::http);
    CHECK(http.target == "http://127.0.0.1:8080/health");
    CHECK(http.interval_ms == 5000);
    CHECK(http.timeout_ms == 2000);

    const registry::Instance& db = c->services[1];
    CHECK(db.id == "db-1");
    CHECK(db.address == *cairn::parse_ip_address("::1"));
    CHECK(db.policy == registry::Policy::fastest);
    CHECK(db.ttl_ms == 1000);
    REQUIRE(db.checks.size() == 3);
    CHECK(db.checks[0].definition.id == "db-1:1");
    CHECK(db.checks[0].definition.kind == registry::CheckKind::tcp);
    CHECK(db.checks[0].definition.target == "127.0.0.1:5432");
    CHECK(db.checks[1].definition.args == std::vector<std::string>{"/bin/true"});
    CHECK(db.checks[1].definition.success_before_passing == 2);
    CHECK(db.checks[1].definition.failures_before_critical == 3);
    CHECK(db.checks[2].definition.id == "db-heartbeat");
    CHECK(db.checks[2].definition.kind == registry::CheckKind::ttl);
    CHECK(db.checks[2].definition.ttl_ms == 30'000);
    CHECK(db.checks[2].definition.interval_ms == 0);
    CHECK(db.checks[2].definition.deregister_critical_after_ms == 3'600'000);
}

TEST_CASE("errors name the file, the line and the key path") {
    CHECK(error_of("node_name = \"a\"\n\n[dns]\nservice_ttl = \"5x\"\n") ==
          "agent.toml:4: dns.service_ttl: \"5x\" is not a duration (each number needs a unit: h, "
          "m, s or ms)");
    CHECK(contains(error_of("[dns]\nlisten = [\"127.0.0.1:8600\"]\nbogus = 1\n"),
                   "agent.toml:3: dns.bogus: unknown key"));
    CHECK(contains(error_of("nodename = \"x\"\n"), "agent.toml:1: nodename: unknown key"));
    CHECK(contains(error_of("[dns.forward]\nupstream = []\n"),
                   "agent.toml:2: dns.forward.upstream: unknown key"));
    CHECK(contains(error_of("[bogus]\nx = 1\n"), "agent.toml:1: bogus: unknown key"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 80\ncolour = \"red\"\n"),
                   "agent.toml:4: service[0].colour: unknown key"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 80\ncheck = { http = "
                            "\"http://x/\", intervl = \"1s\" }\n"),
                   "agent.toml:4: service[0].check.intervl: unknown key"));
}

TEST_CASE("unknown keys close to a known one suggest it") {
    CHECK(contains(error_of("[dns]\nservice_tll = \"5s\"\n"),
                   "agent.toml:2: dns.service_tll: unknown key (did you mean \"service_ttl\"?)"));
    CHECK(contains(error_of("nodename = \"x\"\n"),
                   "nodename: unknown key (did you mean \"node_name\"?)"));
    CHECK(error_of("[dns]\ncompletely_different = 1\n")
              .ends_with("dns.completely_different: unknown key"));
}

TEST_CASE("wrong types") {
    CHECK(contains(error_of("[dns]\nworkers = \"two\"\n"),
                   "agent.toml:2: dns.workers: expected an integer, got \"two\""));
    CHECK(
        contains(error_of("node_name = 5\n"), "agent.toml:1: node_name: expected a string, got 5"));
    CHECK(contains(error_of("[log]\nformat = true\n"),
                   "agent.toml:2: log.format: expected a string, got true"));
    CHECK(contains(error_of("dns = 1\n"), "agent.toml:1: dns: expected a table, got 1"));
    CHECK(contains(error_of("[dns]\nservice_ttl = 5\n"),
                   "dns.service_ttl: 5 is not a duration (write it as a string"));
    CHECK(contains(error_of("[dns]\nlisten = [\"127.0.0.1:1\", 7]\n"),
                   "agent.toml:2: dns.listen[1]: expected an address"));
    CHECK(contains(error_of("[[service]]\nname = \"a\"\nport = 1\ntags = [\"x\", 1]\n"),
                   "service[0].tags[1]: expected a string"));
    CHECK(contains(error_of("[[service]]\nname = \"a\"\nport = 1\nmeta = { a = 1 }\n"),
                   "service[0].meta.a: expected a string"));
    CHECK(contains(error_of("service = 1\n"), "service: expected an array of tables"));
    CHECK(contains(error_of("service = [1]\n"), "service[0]: expected a table"));
}

TEST_CASE("bad values") {
    CHECK(contains(error_of("[dns]\nlisten = [\"127.0.0.1:99999\"]\n"),
                   "agent.toml:2: dns.listen[0]: \"127.0.0.1:99999\" is not an address"));
    CHECK(contains(error_of("[dns]\nlisten = [\"localhost:53\"]\n"), "dns.listen[0]:"));
    CHECK(contains(error_of("[dns]\nlisten = []\n"), "dns.listen: must list at least one address"));
    CHECK(contains(error_of("[http]\nlisten = \"nowhere\"\n"), "agent.toml:2: http.listen:"));
    CHECK(contains(error_of("[dns]\nworkers = 100000\n"),
                   "dns.workers: 100000 is out of range (0 to 256)"));
    CHECK(contains(error_of("[dns]\nanswer_limit = -1\n"), "dns.answer_limit: -1 is out of range"));
    CHECK(contains(error_of("[dns]\npolicy = \"fair\"\n"),
                   "agent.toml:2: dns.policy: \"fair\" is not a policy"));
    CHECK(contains(error_of("[dns]\nserve_warning = \"sometimes\"\n"),
                   "dns.serve_warning: \"sometimes\" is not a serve_warning value"));
    CHECK(
        contains(error_of("[dns.forward]\nallow = [\"10.0.0.0/40\"]\n"), "dns.forward.allow[0]:"));
    CHECK(contains(error_of("[dns.forward]\npolicy = \"roundrobin\"\n"),
                   "dns.forward.policy: must be sequential, random or fastest"));
    CHECK(contains(error_of("[dns.forward]\ntimeout = \"10ms\"\n"), "dns.forward.timeout:"));
    CHECK(contains(error_of("[dns]\ntcp_idle_timeout = \"1ms\"\n"),
                   "dns.tcp_idle_timeout: \"1ms\" is out of range (100ms to 1h)"));
    CHECK(contains(error_of("[gossip]\nprofile = \"fast\"\n"),
                   "gossip.profile: \"fast\" is not a profile"));
    CHECK(contains(error_of("[gossip]\nencrypt = \"short\"\n"), "gossip.encrypt: is not base64"));
    CHECK(contains(error_of("[log]\nlevel = \"loud\"\n"), "log.level: unknown log level 'loud'"));
    CHECK(contains(error_of("domain = \"bad..domain\"\n"), "agent.toml:1: domain:"));
    CHECK(
        contains(error_of("node_name = \"web 01\"\n"), "node_name: \"web 01\" is not a DNS label"));
    CHECK(contains(error_of("advertise_address = \"10.0.0\"\n"),
                   "advertise_address: \"10.0.0\" is not an IPv4 or IPv6 address"));
}

TEST_CASE("service rules") {
    CHECK(
        contains(error_of("\n[[service]]\nport = 80\n"), "agent.toml:2: service[0].name: missing"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\n"), "service[0].port: missing"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 0\n"),
                   "agent.toml:3: service[0].port: 0 is out of range (1 to 65535)"));
    CHECK(contains(error_of("[[service]]\nname = \"w_b\"\nport = 1\n"),
                   "service[0].name: \"w_b\" is not a DNS label"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\naddress = \"host\"\n"),
                   "service[0].address:"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\nweight = 0\n"),
                   "service[0].weight: 0 is out of range"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\npolicy = \"x\"\n"),
                   "service[0].policy: \"x\" is not a policy"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\nid = \"a/b\"\n"),
                   "service[0].id: \"a/b\" may contain only printable ASCII"));
    CHECK(
        contains(error_of("[[service]]\nname = \"web\"\nport = 1\ncheck = { interval = \"1s\" }\n"),
                 "agent.toml:4: service[0].check: exactly one of http, tcp, args or ttl must be "
                 "set (found 0)"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\ncheck = { http = "
                            "\"http://x/\", tcp = \"127.0.0.1:1\" }\n"),
                   "exactly one of http, tcp, args or ttl must be set (found 2)"));
    CHECK(contains(
        error_of("[[service]]\nname = \"web\"\nport = 1\ncheck = { http = \"ftp://x/\" }\n"),
        "is not an http:// or https:// URL"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\ncheck = { tcp = \"x\" }\n"),
                   "agent.toml:4: service[0].check.tcp: \"x\" is not host:port"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\ncheck = { ttl = \"10s\", "
                            "failures_before_warning = 3 }\n"),
                   "service[0].check.failures_before_warning: 3 must not exceed "
                   "failures_before_critical (1)"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\ncheck = { tcp = "
                            "\"127.0.0.1:1\", interval = \"1ms\" }\n"),
                   "agent.toml:4: service[0].check.interval: 1ms is out of range (100ms to 24h)"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\ncheck = { ttl = \"10s\", "
                            "interval = \"1s\" }\n"),
                   "agent.toml:4: service[0].check.interval: not used by ttl checks"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\ncheck = 5\n"),
                   "service[0].check: expected a table"));
    CHECK(contains(error_of("[[service]]\nname = \"web\"\nport = 1\nchecks = [5]\n"),
                   "service[0].checks[0]: expected a table"));
    CHECK(contains(
        error_of("[[service]]\nname = \"web\"\nport = 1\n[[service]]\nname = \"web\"\nport = 2\n"),
        "agent.toml:4: service[1].id: \"web\" is already used by the service at agent.toml:1"));
    CHECK(contains(error_of("[[service]]\nid = \"a\"\nname = \"web\"\nport = 1\ncheck = { id = "
                            "\"c\", ttl = \"1s\" }\n"
                            "[[service]]\nid = \"b\"\nname = \"web\"\nport = 2\ncheck = { id = "
                            "\"c\", ttl = \"1s\" }\n"),
                   "agent.toml:10: service[1].check.id: \"c\" is already used"));
}

TEST_CASE("several errors are all reported, in line order") {
    std::string e = error_of("[dns]\nworkers = \"x\"\nservice_ttl = \"1y\"\nnope = 1\n");
    CHECK(contains(e, "agent.toml:2: dns.workers"));
    CHECK(contains(e, "agent.toml:3: dns.service_ttl"));
    CHECK(contains(e, "agent.toml:4: dns.nope: unknown key"));
    CHECK(e.find(":2:") < e.find(":3:"));
    CHECK(e.find(":3:") < e.find(":4:"));
}

TEST_CASE("TOML syntax errors carry the line") {
    CHECK(contains(error_of("a = 1\n[dns\n"), "agent.toml:2:"));
    CHECK(contains(error_of("a = \"unterminated\n"), "agent.toml:1:"));
    CHECK(contains(error_of("[dns]\n[dns]\n"), "agent.toml:2:"));
}

TEST_CASE("several files merge: later keys override, services append") {
    TempDir dir;
    std::string a = dir.write("10-base.toml",
                              "node_name = \"n1\"\n[dns]\nservice_ttl = \"7s\"\nnode_ttl = \"7s\"\n"
                              "[[service]]\nname = \"web\"\nport = 80\n");
    std::string b =
        dir.write("20-override.toml",
                  "[dns]\nservice_ttl = \"9s\"\n[[service]]\nname = \"db\"\nport = 5432\n");
    auto c = load_config({a, b});
    REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
    CHECK(c->node_name == "n1");
    CHECK(c->dns.service_ttl == 9s);
    CHECK(c->dns.node_ttl == 7s);
    REQUIRE(c->services.size() == 2);
    CHECK(c->services[0].service == "web");
    CHECK(c->services[1].service == "db");

    SUBCASE("a directory loads its *.toml in name order") {
        dir.write("ignored.txt", "this is not toml");
        auto d = load_config({dir.path.string()});
        REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
        CHECK(d->dns.service_ttl == 9s);
        CHECK(d->services.size() == 2);
    }
    SUBCASE("errors name the file they are in") {
        std::string bad = dir.write("30-bad.toml", "\n[dns]\nnegative_ttl = \"soon\"\n");
        auto d = load_config({a, b, bad});
        REQUIRE_FALSE(d);
        CHECK(
            contains(d.error().message, bad + ":3: dns.negative_ttl: \"soon\" is not a duration"));
    }
    SUBCASE("the same id in two files") {
        std::string dup = dir.write("30-dup.toml", "[[service]]\nname = \"web\"\nport = 81\n");
        auto d = load_config({a, dup});
        REQUIRE_FALSE(d);
        CHECK(contains(d.error().message,
                       dup + ":1: service[0].id: \"web\" is already used by the service at " + a +
                           ":5"));
    }
}

TEST_CASE("missing files and empty directories are errors") {
    TempDir dir;
    auto missing = load_config({(dir.path / "nope.toml").string()});
    REQUIRE_FALSE(missing);
    CHECK(contains(missing.error().message, "nope.toml"));
    auto empty = load_config({dir.path.string()});
    REQUIRE_FALSE(empty);
    CHECK(contains(empty.error().message, "no configuration files"));
}

TEST_CASE("dev_config: one self-contained node on loopback") {
    Config c = dev_config();
    REQUIRE(c.dns.listen.size() == 1);
    CHECK(c.dns.listen[0].to_string() == "127.0.0.1:8600");
    CHECK(c.http.listen.to_string() == "127.0.0.1:8500");
    CHECK(c.gossip.bind.to_string() == "127.0.0.1:8301");
    CHECK(c.advertise_address == "127.0.0.1");
    CHECK(c.log.level == "info");
    CHECK(std::filesystem::is_directory(c.data_dir));
    CHECK(c.dns.zones_dir.ends_with("zones"));
    Config other = dev_config();
    CHECK(other.data_dir != c.data_dir);
    std::filesystem::remove_all(c.data_dir);
    std::filesystem::remove_all(other.data_dir);

    SUBCASE("config files apply over it") {
        TempDir dir;
        Config base = dev_config();
        std::string f = dir.write("dev.toml", "[dns]\nservice_ttl = \"1s\"\n");
        auto merged = load_config({f}, base);
        REQUIRE(merged);
        CHECK(merged->dns.service_ttl == 1s);
        CHECK(merged->dns.listen[0].to_string() == "127.0.0.1:8600");
        CHECK(merged->data_dir == base.data_dir);
        std::filesystem::remove_all(base.data_dir);
    }
}

TEST_CASE("dev_config(i): agent i of a dev cluster, n<i> on 127.0.0.<i>, the same ports") {
    Config c = dev_config(3);
    CHECK(c.node_name == "n3");
    REQUIRE(c.dns.listen.size() == 1);
    CHECK(c.dns.listen[0].to_string() == "127.0.0.3:8600");
    CHECK(c.http.listen.to_string() == "127.0.0.3:8500");
    CHECK(c.gossip.bind.to_string() == "127.0.0.3:8301");
    CHECK(c.advertise_address == "127.0.0.3");
    CHECK(std::filesystem::is_directory(c.data_dir));
    std::filesystem::remove_all(c.data_dir);
}

TEST_CASE("[storage] sync: fsync by default, none or normal on request, anything else refused") {
    auto defaults = parse_config("", "agent.toml");
    REQUIRE(defaults);
    CHECK(defaults->storage.sync == StorageSync::fsync);
    auto normal = parse_config("[storage]\nsync = \"normal\"\n", "agent.toml");
    REQUIRE(normal);
    CHECK(normal->storage.sync == StorageSync::normal);
    auto none = parse_config("[storage]\nsync = \"none\"\n", "agent.toml");
    REQUIRE(none);
    CHECK(none->storage.sync == StorageSync::none);
    std::string e = error_of("[storage]\nsync = \"always\"\n");
    CHECK(contains(e, "agent.toml:2: storage.sync"));
    CHECK(contains(e, "none, normal, fsync"));
}

TEST_CASE("[log] format: text by default, json on request, anything else refused") {
    auto json = parse_config("[log]\nformat = \"json\"\n", "agent.toml");
    REQUIRE(json);
    CHECK(json->log.format == "json");
    auto text = parse_config("[log]\nformat = \"text\"\n", "agent.toml");
    REQUIRE(text);
    CHECK(text->log.format == "text");
    CHECK(error_of("[log]\n\nformat = \"logfmt\"\n") ==
          "agent.toml:3: log.format: \"logfmt\" is not a log format (expected text or json)");
    // The key it replaced says so, once, and is not a known key.
    CHECK(error_of("[log]\njson = true\n") ==
          "agent.toml:2: log.json: replaced by format = \"json\" (or \"text\")");
    auto keys = known_keys();
    CHECK(std::find(keys.begin(), keys.end(), "log.format") != keys.end());
    CHECK(std::find(keys.begin(), keys.end(), "log.json") == keys.end());
}
