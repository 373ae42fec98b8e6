#pragma once
// The agent process: the composition root that builds every layer on one main
// cairn::Loop and wires them (docs/architecture.md).
//
// run() loads the configuration, then start() brings the parts up in order,
// each in its own start_* step, and the loop runs until SIGINT or SIGTERM.
// SIGHUP reloads the configuration files and the zones: they are read and
// parsed on a thread of their own (a large zone takes seconds; the loop keeps
// serving HTTP, health checks and gossip meanwhile), then on the loop
// everything that can change safely is applied, the rest keeps its old value
// (and a warning says so), and a reload that fails keeps the old state
// serving. A SIGHUP during a reload runs one more after it.
//
// Another layer joins by adding a member below and a start_<layer>() step to
// start(), a stop in shutdown(), and, if it cares, a line in reload().
//
// Main thread only.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/cli.hpp"
#include "config/config.hpp"
#include "core/loop.hpp"
#include "core/result.hpp"
#include "registry/snapshot.hpp"
#include "registry/types.hpp"

namespace cairn {
class Background;
}
namespace cairn::registry {
class Registry;
}
namespace cairn::registry::replication {
class Replica;
}
namespace cairn::cluster {
class RegistryDelegate;
}
namespace cairn::health {
class Prober;
}
namespace cairn::dns {
class Catalog;
class Server;
struct Settings;
} // namespace cairn::dns

namespace cairn::http {
class Api;
class Server;
} // namespace cairn::http

namespace cairn::agent {

class Forwarding;
class Membership;
class SnapshotPublisher;
class DnsLookup;
class StateStore;
class SystemdNotifier;
struct ReloadFiles;

class Agent {
public:
    explicit Agent(AgentOptions options);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // Runs the agent until it is told to stop. Returns the process exit code:
    // 0 after a clean shutdown, 1 when the configuration or startup failed.
    int run();

    // Milliseconds since the epoch, for registry timestamps.
    [[nodiscard]] static std::int64_t wall_clock_ms();

private:
    // --- Configuration ---
    [[nodiscard]] Result<config::Config> load();
    void apply_logging(const config::Config& config);

    // --- Startup, in this order ---
    Result<void> start();
    Result<void> prepare_data_dir();
    Result<void> start_registry();
    Result<void> start_dns();
    Result<void> start_http();
    Result<void> start_health();
    Result<void> start_gossip();
    Result<void> register_config_services();
    void start_signals();

    // --- Running ---
    // SIGHUP: starts reading the files on the reload thread.
    void reload();
    // On the loop, with what the reload thread read.
    void finish_reload(ReloadFiles files);
    // False when the files were refused and the running state kept.
    bool apply_reload(ReloadFiles files);
    void shutdown();
    // SIGINT / SIGTERM: leave the cluster gracefully, then shutdown().
    void leave_and_shutdown();
    void remove_dev_data_dir();
    // Makes the config-defined instances in the registry match `config`.
    Result<void> sync_config_services(const config::Config& config);
    [[nodiscard]] dns::Settings dns_settings(const config::Config& config) const;
    [[nodiscard]] registry::Address choose_address(const config::Config& config) const;

    AgentOptions options_;
    std::optional<config::Config> dev_base_; // made once: it holds the dev data_dir
    config::Config config_;
    registry::Address address_; // this agent's own address (services, <node>.node)
    // The loop is declared first so that it is destroyed last: every handle
    // below is closed before it.
    Loop loop_;
    std::unique_ptr<registry::Registry> registry_;
    std::unique_ptr<health::Prober> prober_; // after registry_: destroyed before it
    registry::SnapshotSlot snapshots_;
    std::unique_ptr<SnapshotPublisher> publisher_;
    std::unique_ptr<StateStore> state_store_; // API registrations in data_dir
    std::unique_ptr<http::Api> api_;
    std::unique_ptr<http::Server> http_server_;
    std::unique_ptr<Forwarding> forwarding_; // before catalog_: outlives the DNS workers
    std::unique_ptr<dns::Catalog> catalog_;
    std::unique_ptr<DnsLookup> dns_lookup_;       // GET /v1/dns/lookup, over catalog_
    std::unique_ptr<dns::Server> dns_server_;     // after catalog_: its workers use the catalog
    std::vector<std::string> config_service_ids_; // registered from config, in the registry now
    std::unique_ptr<registry::replication::Replica> replica_;      // the registry's replication
    std::unique_ptr<cluster::RegistryDelegate> registry_delegate_; // ... plugged into gossip
    std::unique_ptr<Timer> replication_timer_;                     // reaped members, tombstones
    std::unique_ptr<Membership> membership_; // gossip; destroyed before the two above
    std::vector<std::unique_ptr<Signal>> signals_;
    std::unique_ptr<SystemdNotifier> systemd_; // READY, RELOADING, STOPPING, the watchdog
    std::unique_ptr<Background> reloader_;     // reads and parses reloaded files off the loop
    bool reload_again_ = false;                // a SIGHUP came while a reload was reading
    bool stopping_ = false;
    bool leaving_ = false;
    int exit_code_ = 0;
};

} // namespace cairn::agent
