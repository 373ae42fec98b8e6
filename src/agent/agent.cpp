#include "agent/agent.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <unordered_set>

#include <arpa/inet.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include "agent/dns_lookup.hpp"
#include "agent/forwarding.hpp"
#include "agent/membership.hpp"
#include "agent/publisher.hpp"
#include "agent/services.hpp"
#include "agent/state_store.hpp"
#include "agent/systemd_notify.hpp"
#include "cluster/registry_delegate.hpp"
#include "core/background.hpp"
#include "core/log.hpp"
#include "dns/answer/catalog.hpp"
#include "dns/forward/cache.hpp"
#include "dns/server/metrics.hpp"
#include "dns/server/query_log.hpp"
#include "dns/server/server.hpp"
#include "dns/zone/zone.hpp"
#include "gossip/host.hpp"
#include "health/prober.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "registry/registry.hpp"
#include "registry/replication/replica.hpp"
#include "registry/validate.hpp"

namespace cairn::agent {
namespace {

// The HTTP status of a refused keyring change (docs/http-api.md).
int keyring_refusal_status(KeyringRefusal::Kind kind) {
    switch (kind) {
    case KeyringRefusal::Kind::bad_key:
        return 400;
    case KeyringRefusal::Kind::not_installed:
        return 404;
    case KeyringRefusal::Kind::primary:
    case KeyringRefusal::Kind::disabled:
        return 409;
    case KeyringRefusal::Kind::not_stored:
        return 503;
    }
    return 500;
}

SyncMode to_sync_mode(config::StorageSync s) {
    switch (s) {
    case config::StorageSync::none:
        return SyncMode::none;
    case config::StorageSync::normal:
        return SyncMode::normal;
    case config::StorageSync::fsync:
        return SyncMode::fsync;
    }
    return SyncMode::fsync;
}

std::uint32_t seconds(config::Duration d) {
    return static_cast<std::uint32_t>(d.count() / 1000);
}

std::string addresses(const std::vector<SocketAddress>& list) {
    std::vector<std::string> out;
    for (const SocketAddress& a : list) out.push_back(a.to_string());
    return fmt::format("{}", fmt::join(out, ","));
}

std::string zone_summary(const dns::ZoneSet& zones) {
    std::vector<std::string> out;
    for (const dns::ZoneInfo& z : zones.info())
        out.push_back(fmt::format("{}@{}", z.origin, z.serial));
    return fmt::format("{}", fmt::join(out, ","));
}

std::size_t record_count(const dns::ZoneSet& zones) {
    std::size_t n = 0;
    for (const dns::ZoneInfo& z : zones.info()) n += z.records;
    return n;
}

// Keys whose new value a reload cannot apply without a restart: they keep
// their running value, and each one that changed is named in a warning.
void keep_restart_only(const config::Config& running, config::Config& next) {
    auto keep = [](std::string_view key, auto& next_value, const auto& running_value) {
        if (next_value != running_value)
            log::warn("reload.ignored", {{"key", key}, {"reason", "takes effect after a restart"}});
        next_value = running_value;
    };
    keep("node_name", next.node_name, running.node_name);
    keep("datacenter", next.datacenter, running.datacenter);
    keep("data_dir", next.data_dir, running.data_dir);
    keep("advertise_address", next.advertise_address, running.advertise_address);
    keep("dns.listen", next.dns.listen, running.dns.listen);
    keep("dns.workers", next.dns.workers, running.dns.workers);
    keep("dns.tcp_max_connections", next.dns.tcp_max_connections, running.dns.tcp_max_connections);
    keep("dns.tcp_idle_timeout", next.dns.tcp_idle_timeout, running.dns.tcp_idle_timeout);
    keep("dns.forward", next.dns.forward, running.dns.forward);
    keep("http.listen", next.http.listen, running.http.listen);
    keep("http.token", next.http.token, running.http.token);
    keep("http.max_connections", next.http.max_connections, running.http.max_connections);
    keep("http.idle_timeout", next.http.idle_timeout, running.http.idle_timeout);
    keep("http.max_body_bytes", next.http.max_body_bytes, running.http.max_body_bytes);
    keep("http.max_header_bytes", next.http.max_header_bytes, running.http.max_header_bytes);
    keep("gossip", next.gossip, running.gossip);
    keep("storage", next.storage, running.storage);
}

// The configuration files named on the command line, over the dev defaults
// with --dev. The dev agent registers itself, so `dig cairn.service.cairn`
// answers at once. Reads files only: reloads call it off the main loop.
Result<config::Config> load_config_files(const AgentOptions& options,
                                         const std::optional<config::Config>& dev_base) {
    if (!options.dev) return config::load_config(options.config_paths);
    auto loaded = options.config_paths.empty()
                      ? Result<config::Config>(*dev_base)
                      : config::load_config(options.config_paths, *dev_base);
    if (!loaded) return loaded;
    bool taken = false;
    for (const registry::Instance& s : loaded->services) taken = taken || s.id == "cairn";
    if (!taken) {
        registry::Instance self;
        self.service = "cairn";
        self.port = loaded->http.listen.port();
        self.meta = {{"version", CAIRN_VERSION}};
        registry::fill_defaults(self);
        if (auto r = registry::validate(self); !r) return std::unexpected(r.error());
        loaded->services.push_back(std::move(self));
    }
    return loaded;
}

} // namespace

// What a reload reads before the loop applies it: the configuration, then
// the zones it names.
struct ReloadFiles {
    Result<config::Config> config;
    Result<std::shared_ptr<const dns::ZoneSet>> zones;
    std::int64_t read_ms = 0;
};

// On the reload thread: everything here works on copies.
static ReloadFiles read_reload_files(const AgentOptions& options,
                                     const std::optional<config::Config>& dev_base) {
    auto started = std::chrono::steady_clock::now();
    ReloadFiles files;
    try {
        files.config = load_config_files(options, dev_base);
        if (files.config) files.zones = dns::load_zones(files.config->dns.zones_dir);
    } catch (const std::exception& e) { // bad_alloc on a huge zone, say
        files.config = fail("reading the configuration and zones: {}", e.what());
    }
    files.read_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    return files;
}

Agent::Agent(AgentOptions options)
    : options_(std::move(options)) {}

Agent::~Agent() = default;

std::int64_t Agent::wall_clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int Agent::run() {
    auto config = load();
    if (!config) {
        // Plain text, one error per line: logging is not set up yet, and the
        // operator reads this on a terminal or in the journal.
        std::fprintf(stderr, "cairn agent: the configuration is invalid:\n%s\n",
                     config.error().message.c_str());
        if (dev_base_) {
            std::error_code ec;
            std::filesystem::remove_all(dev_base_->data_dir, ec);
        }
        return 1;
    }
    config_ = std::move(*config);
    apply_logging(config_);
    systemd_ = std::make_unique<SystemdNotifier>(loop_);
    if (auto started = start(); !started) {
        log::error("agent.failed", {{"error", started.error().message}});
        shutdown();
        remove_dev_data_dir();
        return 1;
    }
    loop_.run();
    remove_dev_data_dir();
    log::info("agent.stopped", {{"exit_code", exit_code_}});
    return exit_code_;
}

void Agent::remove_dev_data_dir() {
    // Only the temporary directory --dev made, never one a config file named.
    if (!dev_base_ || config_.data_dir != dev_base_->data_dir) return;
    std::error_code ec;
    std::filesystem::remove_all(dev_base_->data_dir, ec);
}

Result<config::Config> Agent::load() {
    if (options_.dev && !dev_base_) dev_base_ = config::dev_config(options_.dev_member);
    return load_config_files(options_, dev_base_);
}

void Agent::apply_logging(const config::Config& config) {
    if (auto level = log::parse_level(config.log.level)) log::set_level(*level);
    log::set_json(config.log.format == "json");
    dns::set_query_log(config.log.queries, config.log.queries_per_second);
}

Result<void> Agent::start() {
    log::info("agent.start",
              {{"version", CAIRN_VERSION},
               {"node", config_.node_name},
               {"datacenter", config_.datacenter},
               {"domain", config_.domain},
               {"config", options_.dev && options_.config_paths.empty()
                              ? std::string("dev")
                              : fmt::format("{}", fmt::join(options_.config_paths, ","))}});
    if (auto r = prepare_data_dir(); !r) return r;
    if (auto r = start_registry(); !r) return r;
    if (auto r = start_dns(); !r) return r;
    if (auto r = start_http(); !r) return r;
    if (auto r = start_health(); !r) return r;
    if (auto r = start_gossip(); !r) return r;
    if (auto r = register_config_services(); !r) return r;
    start_signals();
    log::info("agent.ready", {{"node", config_.node_name}, {"pid", getpid()}});
    // DNS and HTTP are bound and listening by now.
    systemd_->ready("serving");
    return {};
}

Result<void> Agent::prepare_data_dir() {
    std::error_code ec;
    std::filesystem::create_directories(config_.data_dir, ec);
    if (ec) return fail("data_dir {}: {}", config_.data_dir, ec.message());
    // Opening the state database writes to it: a data_dir that cannot be
    // written stops the start here, before anything could be acknowledged.
    auto store = StateStore::open(loop_, config_.data_dir, to_sync_mode(config_.storage.sync));
    if (!store) return std::unexpected(store.error());
    state_store_ = std::move(*store);
    log::info("data_dir.ready", {{"path", config_.data_dir},
                                 {"state", state_store_->path()},
                                 {"sync", config::to_string(config_.storage.sync)}});
    return {};
}

Result<void> Agent::start_registry() {
    address_ = choose_address(config_);
    registry_ = std::make_unique<registry::Registry>(config_.node_name);
    registry_->set_node(
        {config_.node_name, config_.datacenter, address_, {{"version", CAIRN_VERSION}}, true});
    publisher_ = std::make_unique<SnapshotPublisher>(loop_, *registry_, snapshots_);
    publisher_->start();
    log::info("registry.ready",
              {{"node", config_.node_name}, {"address", cairn::to_string(address_)}});
    return {};
}

Result<void> Agent::start_dns() {
    auto zones = dns::load_zones(config_.dns.zones_dir);
    if (!zones) return std::unexpected(zones.error());
    auto settings = dns_settings(config_);
    if (auto valid = dns::Catalog::validate_settings(settings); !valid) return valid;
    catalog_ = std::make_unique<dns::Catalog>(snapshots_);
    catalog_->set_zones(*zones);
    catalog_->set_settings(std::move(settings));
    log::info("zones.loaded", {{"dir", config_.dns.zones_dir},
                               {"zones", (*zones)->info().size()},
                               {"records", record_count(**zones)},
                               {"serials", zone_summary(**zones)}});

    auto forwarding = Forwarding::make(config_, "/etc/resolv.conf");
    if (!forwarding) return std::unexpected(forwarding.error());
    forwarding_ = std::move(*forwarding);
    if (forwarding_) {
        if (auto started = forwarding_->start(); !started) return started;
        catalog_->set_recursion(&forwarding_->recursion());
    }

    dns::ServerOptions options;
    options.listen = config_.dns.listen;
    options.workers = config_.dns.workers;
    options.tcp_max_connections = config_.dns.tcp_max_connections;
    options.tcp_idle_timeout = config_.dns.tcp_idle_timeout;
    dns_server_ = std::make_unique<dns::Server>(std::move(options), catalog_->responder_factory());
    if (auto started = dns_server_->start(); !started) return started;
    log::info("dns.listen", {{"addresses", addresses(dns_server_->bound_addresses())},
                             {"workers", dns_server_->worker_count()},
                             {"domain", config_.domain}});
    return {};
}

Result<void> Agent::start_http() {
    // API registrations from the last run are back before the API opens,
    // exactly as they were stored (versions included).
    auto started = std::chrono::steady_clock::now();
    std::clock_t started_cpu = std::clock(); // CPU time says more than wall time on a busy machine
    auto loaded = state_store_->load(http::RegistrationDefaults{address_});
    if (!loaded) return fail("data_dir {}: {}", config_.data_dir, loaded.error().message);
    registry_->observe_version(loaded->counter);
    for (registry::Instance& instance : loaded->instances) registry_->apply(std::move(instance));
    for (registry::Tombstone& tombstone : loaded->tombstones)
        registry_->apply(std::move(tombstone));
    auto took = std::chrono::steady_clock::now() - started;
    log::info("state.restored",
              {{"instances", loaded->instances.size()},
               {"tombstones", loaded->tombstones.size()},
               {"version_counter", registry_->version_counter()},
               {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(took).count()},
               {"cpu_ms", (std::clock() - started_cpu) * 1000 / CLOCKS_PER_SEC}});
    state_store_->start();

    http::ApiOptions options;
    options.node_name = config_.node_name;
    options.datacenter = config_.datacenter;
    options.address = address_;
    options.default_policy = std::string(registry::to_string(config_.dns.policy));
    options.default_ttl_ms = static_cast<std::uint32_t>(config_.dns.service_ttl.count());
    options.token = config_.http.token;
    options.http_port = config_.http.listen.port();
    options.config_summary = {{"domain", config_.domain},
                              {"data_dir", config_.data_dir},
                              {"dns_listen", addresses(config_.dns.listen)},
                              {"http_listen", config_.http.listen.to_string()},
                              {"http_token", !config_.http.token.empty()},
                              {"policy", options.default_policy},
                              {"service_ttl", format_duration(Duration{options.default_ttl_ms})}};
    http::ApiHooks hooks;
    hooks.on_change = [this](const std::string& instance_id) {
        if (prober_) prober_->sync_instance(instance_id); // start, change or stop its checks
    };
    hooks.persist = [this](http::DurableWrite write, std::function<void(Result<void>)> done) {
        state_store_->write({std::move(write.instance), std::move(write.tombstone)},
                            std::move(done), write.applied);
    };
    hooks.storage_fault = [this] { return state_store_->fault(); };
    hooks.ttl_report = [this](const std::string& check_id, registry::Health status,
                              const std::string& note) -> Result<void> {
        if (!prober_) return fail("health checks are not running yet");
        return prober_->update_ttl(check_id, status, note);
    };
    hooks.now_ms = [] { return wall_clock_ms(); };
    if (dns::forward::Cache* cache = forwarding_ ? forwarding_->cache() : nullptr)
        hooks.flush_dns_cache =
            [cache](std::optional<std::string_view> name) -> Result<std::size_t> {
            if (!name) return cache->flush();
            auto wire = dns::name_from_text(*name);
            if (!wire) return fail("name: {}", wire.error().message);
            return cache->flush(wire->name());
        };
    hooks.members = [this] {
        return membership_ ? membership_->members_json() : nlohmann::json::array();
    };
    hooks.keyring_list = [this] {
        return membership_ ? membership_->keyring_json() : nlohmann::json::object();
    };
    hooks.keyring_change = [this](std::string_view op, std::string key,
                                  http::ApiHooks::KeyringDone done) {
        if (!membership_)
            return done(std::unexpected(http::ApiRefusal{503, "gossip is not running"}));
        KeyringOp kop = op == "install" ? KeyringOp::install
                        : op == "use"   ? KeyringOp::use
                                        : KeyringOp::remove;
        membership_->change_keyring(
            kop, std::move(key),
            [done = std::move(done)](std::expected<nlohmann::json, KeyringRefusal> changed) {
                if (changed) return done(std::move(*changed));
                done(std::unexpected(http::ApiRefusal{keyring_refusal_status(changed.error().kind),
                                                      changed.error().message}));
            });
    };
    hooks.dns_lookup = [this](std::string_view name, std::string_view type) {
        if (!dns_lookup_) dns_lookup_ = std::make_unique<DnsLookup>(catalog_->responder_factory());
        return dns_lookup_->lookup(name, type);
    };
    // The DNS threads' counters, summed when /metrics is read.
    hooks.extra_metrics = [this] {
        std::string out = dns_server_ ? dns::format_metrics(dns_server_->stats()) : std::string();
        if (forwarding_) out += forwarding_->metrics();
        if (catalog_) out += dns::format_answer_metrics(catalog_->answer_stats());
        if (publisher_) out += publisher_->metrics();
        if (prober_) out += health::format_check_metrics(prober_->stats(), prober_->check_count());
        if (membership_) out += membership_->metrics();
        if (registry_delegate_) out += registry_delegate_->metrics();
        return out + format_storage_metrics(state_store_->stats(), state_store_->faulted());
    };
    api_ = std::make_unique<http::Api>(*registry_, std::move(options), std::move(hooks));
    api_->enable_blocking(loop_);

    http::ServerOptions server_options;
    server_options.listen = config_.http.listen;
    server_options.max_connections = config_.http.max_connections;
    server_options.idle_timeout = config_.http.idle_timeout;
    server_options.limits = {config_.http.max_header_bytes, config_.http.max_body_bytes};
    http_server_ = std::make_unique<http::Server>(
        loop_, std::move(server_options),
        http::DeferringHandler([this](const http::Request& r, http::Reply reply) {
            api_->handle(r, std::move(reply));
        }),
        [this](const http::Request& head) { return api_->refuse_before_body(head); });
    api_->set_server_metrics([this] {
        return http::format_metrics(http_server_->stats(), http_server_->connection_count());
    });
    return http_server_->start();
}

Result<void> Agent::start_health() {
    prober_ = std::make_unique<health::Prober>(loop_, *registry_);
    // deregister_critical_after removes API registrations: persist that too
    // (nobody waits for it; a failure is retried, see StateStore::write).
    prober_->on_deregister([this](const std::vector<std::string>& ids) {
        std::unordered_set<std::string_view> from_config(config_service_ids_.begin(),
                                                         config_service_ids_.end());
        for (const std::string& id : ids)
            if (const registry::Tombstone* t = registry_->find_local_tombstone(id);
                t && !from_config.contains(id))
                state_store_->write({std::nullopt, *t}, {}, true);
    });
    // A TTL check that expired is critical after a restart too, not the
    // passing of its last report.
    prober_->on_ttl_expired([this](const std::string& id) {
        if (std::find(config_service_ids_.begin(), config_service_ids_.end(), id) !=
            config_service_ids_.end())
            return;
        if (const registry::Instance* instance = registry_->find_local(id))
            state_store_->write({*instance, std::nullopt}, {}, true);
    });
    return {};
}

Result<void> Agent::register_config_services() {
    return sync_config_services(config_);
}

Result<void> Agent::start_gossip() {
    // The registry rides on membership: replica_ holds the replication rules,
    // registry_delegate_ plugs them into gossip (docs/replication.md).
    replica_ = std::make_unique<registry::replication::Replica>(*registry_, [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    });
    cluster::RegistryDelegate::Options options;
    options.seed =
        static_cast<std::uint64_t>(wall_clock_ms()) ^ static_cast<std::uint64_t>(getpid());
    registry_delegate_ = std::make_unique<cluster::RegistryDelegate>(
        *replica_,
        [this] {
            return membership_ ? static_cast<int>(membership_->host().memberlist().num_members())
                               : 1;
        },
        options, cluster::RegistryDelegate::Meta{},
        [](const gossip::Node& n) {
            registry::Node node = cluster::registry_node(n);
            for (auto& [k, v] : member_meta(n.meta)) {
                if (k == "dc") node.datacenter = v;
                node.meta.emplace_back(std::move(k), std::move(v));
            }
            return node;
        });
    Membership::User user{registry_delegate_.get(), registry_delegate_.get(),
                          [this](gossip::Memberlist& ml, gossip::TimePoint now) {
                              registry_delegate_->flush(ml, now);
                          }};
    membership_ =
        std::make_unique<Membership>(loop_, config_, address_, options_.join, std::move(user));
    if (auto r = membership_->start(); !r) return r;
    // Every write to this agent's records (API, config, health checks) makes
    // the registry dirty and reaches the publisher: announce it from there.
    publisher_->before_publish = [this] {
        replica_->local_changed();
        membership_->host().kick();
    };
    replication_timer_ = std::make_unique<Timer>(loop_);
    replication_timer_->start(std::chrono::seconds(5), std::chrono::seconds(5), [this] {
        registry_delegate_->maintain(membership_->host().memberlist());
    });
    return {};
}

void Agent::start_signals() {
    auto on = [this](int signum, auto handler) {
        auto s = std::make_unique<Signal>(loop_);
        s->start(signum, std::move(handler));
        signals_.push_back(std::move(s));
    };
    on(SIGINT, [this] {
        log::info("agent.stop", {{"signal", "SIGINT"}});
        leave_and_shutdown();
    });
    on(SIGTERM, [this] {
        log::info("agent.stop", {{"signal", "SIGTERM"}});
        leave_and_shutdown();
    });
    reloader_ = std::make_unique<Background>(loop_);
    on(SIGHUP, [this] { reload(); });
}

Result<void> Agent::sync_config_services(const config::Config& config) {
    std::vector<registry::Instance> wanted;
    // Validated when the config was loaded; the registry checks again.
    for (const registry::Instance& service : config.services)
        wanted.push_back(to_instance(service, config_.node_name, address_));
    SyncPlan plan = plan_sync(config_service_ids_, std::move(wanted));
    std::int64_t now = wall_clock_ms();
    std::size_t removed = 0;
    for (const std::string& id : plan.removals)
        removed += registry_->deregister_local(id, now) ? 1 : 0;
    std::vector<std::string> registered;
    for (registry::Instance& instance : plan.upserts) {
        std::string id = instance.id;
        if (auto stored = registry_->upsert_local(std::move(instance), now); !stored) {
            log::error("service.rejected", {{"id", id}, {"error", stored.error()}});
            continue;
        }
        registered.push_back(std::move(id));
    }
    config_service_ids_ = std::move(registered);
    if (prober_) prober_->sync(); // checks of added, changed and removed instances
    log::info("services.synced",
              {{"registered", config_service_ids_.size()}, {"removed", removed}});
    return {};
}

void Agent::reload() {
    if (stopping_ || leaving_) return;
    if (reloader_->running()) {
        // The files may have changed after the running reload read them.
        reload_again_ = true;
        return;
    }
    log::info("reload.start",
              {{"config", fmt::format("{}", fmt::join(options_.config_paths, ","))}});
    systemd_->reloading();
    // Parsing a large zone takes seconds: it runs on the reload thread, and
    // the loop (HTTP, health checks, gossip) goes on until the result is in.
    auto started = reloader_->start([this, options = options_, dev_base = dev_base_] {
        auto files = std::make_shared<ReloadFiles>(read_reload_files(options, dev_base));
        return [this, files] { finish_reload(std::move(*files)); };
    });
    if (!started) {
        log::error("reload.failed",
                   {{"error", started.error().message}, {"keeping", "running configuration"}});
        systemd_->ready("serving; the last reload failed, see the log");
    }
}

void Agent::finish_reload(ReloadFiles files) {
    if (stopping_ || leaving_) return;
    bool applied = apply_reload(std::move(files));
    if (reload_again_) {
        reload_again_ = false;
        reload();
        return;
    }
    // The end of the reload for systemd, whether or not it applied.
    systemd_->ready(applied ? "serving" : "serving; the last reload failed, see the log");
}

bool Agent::apply_reload(ReloadFiles files) {
    auto refuse = [](const Error& error) {
        log::error("reload.failed",
                   {{"error", error.message}, {"keeping", "running configuration"}});
        return false;
    };
    if (!files.config) return refuse(files.config.error());
    if (!files.zones) return refuse(files.zones.error());
    config::Config& next = *files.config;
    const std::shared_ptr<const dns::ZoneSet>& zones = *files.zones;
    keep_restart_only(config_, next);
    auto settings = dns_settings(next);
    if (auto valid = dns::Catalog::validate_settings(settings); !valid)
        return refuse(valid.error());
    if (auto synced = sync_config_services(next); !synced) return refuse(synced.error());
    apply_logging(next);
    catalog_->set_zones(zones);
    catalog_->set_settings(std::move(settings));
    config_ = std::move(next);
    publisher_->flush();
    log::info("reload.done", {{"zones", zones->info().size()},
                              {"records", record_count(*zones)},
                              {"serials", zone_summary(*zones)},
                              {"services", config_service_ids_.size()},
                              {"log_level", config_.log.level},
                              {"log_format", config_.log.format},
                              {"log_queries", config_.log.queries},
                              {"read_ms", files.read_ms}});
    return true;
}

void Agent::leave_and_shutdown() {
    if (stopping_ || leaving_) return;
    leaving_ = true;
    systemd_->stopping();
    if (!membership_) return shutdown();
    // The others learn of the leave at once instead of suspecting us; DNS and
    // HTTP keep serving meanwhile (a bounded wait, HostLimits::leave_timeout).
    membership_->leave([this] { shutdown(); });
}

void Agent::shutdown() {
    if (stopping_) return;
    stopping_ = true;
    if (systemd_) {
        systemd_->stopping();
        systemd_->stop_watchdog();
    }
    http_server_.reset();
    if (state_store_) {
        // Queued commits finish; what the registry holds and the disk
        // missed is written now, or the stop says it was not.
        if (auto stored = state_store_->close(); !stored) {
            log::error("state.stop_failed",
                       {{"path", state_store_->path()}, {"error", stored.error().message}});
            exit_code_ = 1;
        }
    }
    if (dns_server_) dns_server_->stop();
    if (forwarding_) forwarding_->stop();
    if (publisher_) publisher_->stop();
    prober_.reset(); // stops every check; running scripts are killed
    if (publisher_) publisher_->before_publish = nullptr;
    replication_timer_.reset();
    membership_.reset();
    signals_.clear();
    reloader_.reset(); // a reload still reading its files is waited for and dropped
    loop_.stop();
}

dns::Settings Agent::dns_settings(const config::Config& config) const {
    dns::Settings s;
    s.domain = config.domain;
    s.datacenter = config.datacenter;
    s.node_name = config.node_name;
    s.node_address = address_;
    s.service_ttl_s = seconds(config.dns.service_ttl);
    s.node_ttl_s = seconds(config.dns.node_ttl);
    s.negative_ttl_s = seconds(config.dns.negative_ttl);
    s.answer_limit = config.dns.answer_limit;
    s.policy = config.dns.policy;
    s.serve_warning = config.dns.serve_warning;
    return s;
}

registry::Address Agent::choose_address(const config::Config& config) const {
    if (!config.advertise_address.empty()) {
        if (auto a = parse_ip_address(config.advertise_address)) return *a;
    }
    // The first private IPv4 address, as memberlist picks its advertise
    // address; else any non-loopback IPv4; else loopback.
    uv_interface_address_t* list = nullptr;
    int count = 0;
    registry::Address chosen = *parse_ip_address("127.0.0.1");
    bool private_found = false, any_found = false;
    if (uv_interface_addresses(&list, &count) == 0) {
        for (int i = 0; i < count && !private_found; ++i) {
            const auto& entry = list[i];
            if (entry.is_internal || entry.address.address4.sin_family != AF_INET) continue;
            registry::Address a;
            a.family = 4;
            std::memcpy(a.bytes.data(), &entry.address.address4.sin_addr, 4);
            bool is_private = a.bytes[0] == 10 ||
                              (a.bytes[0] == 172 && (a.bytes[1] & 0xf0) == 16) ||
                              (a.bytes[0] == 192 && a.bytes[1] == 168);
            if (is_private || !any_found) {
                chosen = a;
                any_found = true;
                private_found = is_private;
            }
        }
        uv_free_interface_addresses(list, count);
    }
    return chosen;
}

} // namespace cairn::agent
