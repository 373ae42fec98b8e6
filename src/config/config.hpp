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

namespace cairn::config {

using cairn::Duration;

enum class Policy { random, round_robin, weighted, affinity, fastest };
enum class ServeWarning { fallback, always, never };

// Parses an address literal that is known to be valid; for the defaults below.
[[nodiscard]] SocketAddress literal_address(std::string_view text);
struct CheckConfig {
    std::string id;                // default: "<instance id>:<1-based index>"
    // Exactly one of http, tcp, args, ttl is set.
    std::string http;              // URL
    std::string method = "GET";
    std::map<std::string, std::string> headers;
    bool tls_skip_verify = false;
    std::string tcp;               // "host:port"
    std::vector<std::string> args; // command, no shell
    Duration ttl{0};
    Duration interval{10'000};
    Duration timeout{2'000};
    int success_before_passing = 1;
    int failures_before_warning = 1;
    int failures_before_critical = 1;
    Duration deregister_critical_after{0}; // 0 = never
};

struct ServiceConfig {
    std::string id;      // default: name
    std::string name;
    std::string address; // default: the agent's address
    std::uint16_t port = 0;
    std::vector<std::string> tags;
    std::map<std::string, std::string> meta;
    std::uint32_t weight = 1;
    std::string policy;  // empty = [dns].policy
    Duration ttl{0};     // 0 = [dns].service_ttl
    std::vector<CheckConfig> checks;
};

struct ForwardConfig {
    std::vector<std::string> upstreams;
    std::vector<std::string> allow{"127.0.0.0/8", "::1/128"};

    friend bool operator==(const ForwardConfig&, const ForwardConfig&) = default;
};

struct DnsConfig {
    std::vector<SocketAddress> listen{literal_address("127.0.0.1:8600")};
    unsigned workers = 0;              // 0 = one per core
    Duration service_ttl{5'000};
    Duration node_ttl{30'000};
    Duration negative_ttl{5'000};
    unsigned answer_limit = 0;         // 0 = as many as fit
    Policy policy = Policy::random;
    ServeWarning serve_warning = ServeWarning::fallback;
    std::string zones_dir = "zones";
    unsigned tcp_max_connections = 1024;
    Duration tcp_idle_timeout{10'000};
    ForwardConfig forward;
};

struct HttpConfig {
    SocketAddress listen = literal_address("127.0.0.1:8500");
    std::string token;                 // bearer token for writes; empty = open
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
    std::string profile = "lan";       // lan | wan | local
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
    bool json = false;
};

struct Config {
    std::string node_name;             // default: hostname
    std::string datacenter = "dc1";
    std::string domain = "cairn.";     // always lower case, with the final dot
    std::string data_dir = "/var/lib/cairn";
    std::string advertise_address;     // the agent's own address for services without one
    DnsConfig dns;
    HttpConfig http;
    GossipConfig gossip;
    StorageConfig storage;
    LogConfig log;
    std::vector<ServiceConfig> services;
};

// Loads and merges every path (a file, or a directory whose *.toml files are
// read in name order) over the defaults.
[[nodiscard]] Result<Config> load_config(const std::vector<std::string>& paths);
// The same over `base` instead of the defaults (`cairn agent --dev --config x`).
[[nodiscard]] Result<Config> load_config(const std::vector<std::string>& paths, Config base);

// Parses one TOML document; `origin` names it in errors ("agent.toml").
[[nodiscard]] Result<Config> parse_config(std::string_view toml_text, std::string_view origin);

// The self-contained single node of `cairn agent --dev`.
[[nodiscard]] Config dev_config();

[[nodiscard]] std::string_view to_string(Policy p);
[[nodiscard]] Result<Policy> parse_policy(std::string_view text);
[[nodiscard]] std::string_view to_string(ServeWarning s);
[[nodiscard]] Result<ServeWarning> parse_serve_warning(std::string_view text);

// The rules for one service that do not depend on TOML, shared with the HTTP
// API: fills the defaults (id = name, check ids "<id>:<n>") and checks the
// values and the rules between them. Errors start with the field's path
// ("name: missing", "checks[0]: exactly one of http, tcp, args or ttl ...").
[[nodiscard]] Result<void> validate_service(ServiceConfig& service);
[[nodiscard]] Result<void> validate_check(CheckConfig& check);

} // namespace cairn::config
