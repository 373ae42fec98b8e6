#pragma once
// The agent's configuration as plain structs (docs/configuration.md). Every field has
// its default here; load_config() fills them from TOML and validates, and each
// error names the key and the file:line it came from.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/net.hpp"
#include "core/result.hpp"
#include "registry/types.hpp"

namespace cairn::config {

using cairn::Duration;

// Parses an address that is known to be valid; for the defaults below and the
// dev agents.
[[nodiscard]] SocketAddress literal_address(std::string_view text);

struct ForwardConfig {
    std::vector<std::string> upstreams;
    std::vector<std::string> allow{"127.0.0.0/8", "::1/128"};
    std::string policy = "sequential";              // sequential | random | fastest
    Duration timeout{3'000};                        // per query, then SERVFAIL (or a stale answer)
    Duration probe_interval{1'000};                 // a down upstream is probed this often
    std::size_t cache_size = std::size_t{32} << 20; // bytes; 0 = no cache
    Duration serve_stale{86'400'000};               // how long past expiry; 0 = never

    friend bool operator==(const ForwardConfig&, const ForwardConfig&) = default;
};

struct DnsConfig {
    std::vector<SocketAddress> listen{literal_address("127.0.0.1:8600")};
    unsigned workers = 0; // 0 = one per core
    Duration service_ttl{5'000};
    Duration node_ttl{30'000};
    Duration negative_ttl{5'000};
    unsigned answer_limit = 0; // 0 = as many as fit
    registry::Policy policy = registry::Policy::random;
    registry::ServeWarning serve_warning = registry::ServeWarning::fallback;
    std::string zones_dir = "zones";
    unsigned tcp_max_connections = 1024;
    Duration tcp_idle_timeout{10'000};
    ForwardConfig forward;
};

struct HttpConfig {
    SocketAddress listen = literal_address("127.0.0.1:8500");
    std::string token; // bearer token for writes; empty = open
    unsigned max_connections = 512;
    Duration idle_timeout{30'000};
    std::size_t max_body_bytes = 1 << 20;
    std::size_t max_header_bytes = 16 << 10;
};

struct GossipConfig {
    SocketAddress bind = literal_address("0.0.0.0:8301");
    std::string advertise;
    std::vector<std::string> join;
    std::string encrypt;
    std::string profile = "lan"; // lan | wan | local
    // memberlist's GossipVerifyIncoming / GossipVerifyOutgoing, for turning
    // encryption on in a running cluster.
    bool verify_incoming = true;
    bool verify_outgoing = true;

    friend bool operator==(const GossipConfig&, const GossipConfig&) = default;
};

// How far a commit of the state database (data_dir/state.db) goes before the
// HTTP API answers 200: fsync survives a power loss, normal and none survive
// a crash of the agent only.
enum class StorageSync { none, normal, fsync };

struct StorageConfig {
    StorageSync sync = StorageSync::fsync;

    friend bool operator==(const StorageConfig&, const StorageConfig&) = default;
};

[[nodiscard]] std::string_view to_string(StorageSync s);

struct LogConfig {
    std::string level = "info";
    std::string format = "text"; // text (key=value) | json
    bool queries = false;        // a line per DNS query (dns/server/query_log.hpp)
    std::uint32_t queries_per_second = 100;
};

struct Config {
    std::string node_name; // default: hostname
    std::string datacenter = "dc1";
    std::string domain = "cairn."; // always lower case, with the final dot
    std::string data_dir = "/var/lib/cairn";
    std::string advertise_address; // the agent's own address for services without one
    DnsConfig dns;
    HttpConfig http;
    GossipConfig gossip;
    StorageConfig storage;
    LogConfig log;
    // [[service]] tables, defaults filled and validated by the registry's
    // rulebook; an address of family 0 means advertise_address.
    std::vector<registry::Instance> services;
};

// Loads and merges every path (a file, or a directory whose *.toml files are
// read in name order) over the defaults.
[[nodiscard]] Result<Config> load_config(const std::vector<std::string>& paths);
// The same over `base` instead of the defaults (`cairn agent --dev --config x`).
[[nodiscard]] Result<Config> load_config(const std::vector<std::string>& paths, Config base);

// Parses one TOML document; `origin` names it in errors ("agent.toml").
[[nodiscard]] Result<Config> parse_config(std::string_view toml_text, std::string_view origin);

// Every key the reader knows, each once, sorted: dotted paths with "[]" for
// the items of an array of tables ("dns.forward.allow", "service[].port",
// "service[].checks[].interval"; the inline table `check` as
// "service[].check.interval"), and the tables themselves ("dns",
// "service[].checks"). Taken from the reader as it reads a document with every
// table present, so that a test holds docs/configuration.md to it.
[[nodiscard]] std::vector<std::string> known_keys();

// The self-contained single node of `cairn agent --dev`; with `member` i > 0,
// agent i of `--dev --cluster N`: node "n<i>", every address 127.0.0.<i>
// (same ports).
[[nodiscard]] Config dev_config(int member = 0);

} // namespace cairn::config
