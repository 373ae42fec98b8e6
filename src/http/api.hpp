#pragma once
// The JSON API (docs/http-api.md) as a function from Request to Response over
// the registry: no sockets, so every endpoint is tested without a loop. The
// agent builds one Api, hands `handle` to the http::Server, and connects the
// hooks (persistence, TTL checks, members, extra metrics).
//
// Used only on the main loop (it writes the registry).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "http/blocking.hpp"
#include "http/message.hpp"
#include "http/registration.hpp"
#include "http/route_metrics.hpp"
#include "registry/registry.hpp"

namespace cairn {
class Loop;
}

namespace cairn::http {

struct ApiOptions {
    std::string node_name;
    std::string datacenter = "dc1";
    std::string version = CAIRN_VERSION;
    registry::Address address;             // the agent's; the default for registrations
    std::string default_policy = "random"; // [dns].policy, shown for instances without one
    std::uint32_t default_ttl_ms = 5'000;  // [dns].service_ttl
    std::string token;                     // bearer token for writes; empty = open
    std::uint16_t http_port = 8500;        // the API's own, for Consul's /v1/status/leader
    nlohmann::json config_summary = nlohmann::json::object(); // shown by GET /v1/agent
};

// A write that must be durable before it is answered (and, unless
// `applied`, before it is seen): the instance to store, or the tombstone
// of a deregistration.
struct DurableWrite {
    std::optional<registry::Instance> instance;
    std::optional<registry::Tombstone> tombstone;
    bool applied = false; // the registry holds it already (a TTL report)
};

using Respond = std::function<void(Response)>;

// A request refused with its status and message ({"error": message}).
struct ApiRefusal {
    int status = 400;
    std::string message;
};

struct ApiHooks {
    // After every accepted write (register, deregister, check report,
    // maintenance), with the id of the instance written: the agent resyncs
    // its health checks and schedules persistence. (Snapshots publish by
    // themselves when the registry is dirty.)
    std::function<void(const std::string& instance_id)> on_change;
    // A TTL check report. The health engine owns TTL timers; when set, it gets
    // the report and decides (an error message becomes 400). When unset the
    // API writes the status to the registry itself.
    std::function<Result<void>(const std::string& check_id, registry::Health status,
                               const std::string& note)>
        ttl_report;
    // GET /v1/members; unset = this agent alone, alive, incarnation 0.
    std::function<nlohmann::json()> members;
    // GET /v1/keyring: {"primary": KEY, "keys": [KEY...]} (base64, primary
    // first). Unset: the agent has no keyring (409 on every keyring request).
    std::function<nlohmann::json()> keyring_list;
    // PUT /v1/keyring/install|use|remove with {"key": KEY}: `op` is
    // "install", "use" or "remove". Calls `done` on the main loop with the
    // keyring after the change, once it is durable, or the refusal.
    using KeyringDone = std::function<void(std::expected<nlohmann::json, ApiRefusal>)>;
    std::function<void(std::string_view op, std::string key, KeyringDone done)> keyring_change;
    // DELETE /v1/dns/cache: removes the forwarded answers of one name (given
    // as text, `?name=`) or, without a name, all; returns how many. An error
    // (a malformed name) becomes 400. Unset: the agent does not forward (409).
    std::function<Result<std::size_t>(std::optional<std::string_view> name)> flush_dns_cache;
    // GET /v1/dns/lookup?name=&type=: what this agent's DNS answers for the
    // name (text) and type (a mnemonic such as A or SRV), as JSON; an error
    // (a malformed name, an unknown type) becomes 400. Unset: 409.
    std::function<Result<nlohmann::json>(std::string_view name, std::string_view type)> dns_lookup;
    // Extra Prometheus lines (HELP/TYPE/samples) appended to GET /metrics.
    std::function<std::string()> extra_metrics;
    // Stores a write and calls `done` on the main loop once its commit has
    // returned. The API answers 200 (and applies the write to the registry)
    // only after a successful commit, 503 with the reason after a failed
    // one. Unset: writes apply at once.
    std::function<void(DurableWrite write, std::function<void(Result<void>)> done)> persist;
    // Why the storage cannot take writes now, or "" (GET /health says it).
    std::function<std::string()> storage_fault;
    // Wall clock in ms since the epoch (injected for tests).
    std::function<std::int64_t()> now_ms;
};

class Api {
public:
    Api(registry::Registry& registry, ApiOptions options, ApiHooks hooks = {});
    ~Api();
    Api(const Api&) = delete;
    Api& operator=(const Api&) = delete;

    // Lets Consul's blocking queries (?index=) wait on `loop`. Without it
    // they are answered at once.
    void enable_blocking(Loop& loop);
    [[nodiscard]] std::size_t parked_queries() const { return watchers_ ? watchers_->parked() : 0; }

    // Answers through `respond`, at once or (a write, with hooks.persist
    // set) after its commit.
    void handle(const Request& request, Respond respond);
    // For requests answered at once (reads; writes without hooks.persist).
    [[nodiscard]] Response handle(const Request& request);
    // For a request waiting for 100 Continue (headers only): the 401 of a
    // write without a valid token, so that the client sends no body for it.
    [[nodiscard]] std::optional<Response> refuse_before_body(const Request& head) const;

    // Counters for /metrics that the server keeps (requests by class ...);
    // the agent sets this to the server's stats text.
    void set_server_metrics(std::function<std::string()> lines) {
        server_metrics_ = std::move(lines);
    }

private:
    void register_instance(const Request& r, Respond respond);
    void deregister(const std::string& id, Respond respond);
    Response list_services();
    Response service(const Request& r, const std::string& name);
    void check_report(const Request& r, const std::string& check_id, registry::Health status,
                      Respond respond);
    void maintenance(const Request& r, const std::string& id, Respond respond);
    void set_maintenance(const std::string& id, bool on, std::string reason, Respond respond);
    Response health();
    // Stores `write`, then applies it and answers `ok()`; 503 if it fails.
    void durable(DurableWrite write, std::function<Response()> ok, Respond respond);
    Response members();
    void keyring(const Request& r, std::string_view op, Respond respond);
    Response agent();
    Response flush_dns_cache(const Request& r);
    Response dns_lookup(const Request& r);
    Response ui(const Request& r) const;
    Response metrics();

    // Consul's API (docs/consul-compatibility.md): consul_api.cpp routes
    // and adds Consul's headers, consul_register.cpp writes,
    // consul_read.cpp reads.
    void consul(const Request& r, const std::vector<std::string_view>& parts, Respond respond);
    void consul_write(const Request& r, const std::vector<std::string_view>& parts,
                      Respond respond);
    void consul_register(const Request& r, Respond respond);
    void consul_check_update(const Request& r, const std::string& check_id,
                             std::optional<registry::Health> status, Respond respond);
    // The key whose X-Consul-Index a read at `parts` has; nullopt when the
    // path names no read.
    [[nodiscard]] static std::optional<std::string>
    consul_read_key(const std::vector<std::string_view>& parts);
    // The read's answer (consul_read_key said it exists).
    [[nodiscard]] Response consul_read(const Request& r,
                                       const std::vector<std::string_view>& parts) const;
    [[nodiscard]] Respond with_consul_headers(std::string key, Respond respond);
    [[nodiscard]] Response consul_agent_self() const;
    [[nodiscard]] Response consul_agent_services() const;
    [[nodiscard]] Response consul_agent_checks() const;
    [[nodiscard]] Response consul_catalog_services() const;
    [[nodiscard]] Response consul_catalog_nodes() const;
    [[nodiscard]] Response consul_service(const Request& r, const std::string& name,
                                          bool health) const;
    [[nodiscard]] Response consul_health_state(const std::string& state) const;
    [[nodiscard]] Response consul_health_checks(const std::string& service) const;
    [[nodiscard]] nlohmann::json consul_node(const std::string& name) const;
    [[nodiscard]] bool node_alive(const std::string& name) const;
    // Stores a registration (from either API), keeping maintenance unless
    // `keep_maintenance` is false; `ok` makes the answer.
    void store_registration(registry::Instance instance, bool keep_maintenance,
                            std::function<Response(const registry::Instance&)> ok,
                            std::function<std::string(const std::string&)> message,
                            Respond respond);
    // A TTL check's report (both APIs).
    void report(const std::string& check_id, registry::Health status, std::string note,
                Respond respond);

    [[nodiscard]] bool authorized(const Request& r) const;
    [[nodiscard]] Response streamed_service(const std::string& name,
                                            const std::vector<const registry::Instance*>& instances,
                                            bool passing_only, std::optional<std::string> tag);
    [[nodiscard]] nlohmann::json display(const registry::Instance& instance) const;
    [[nodiscard]] std::int64_t now_ms() const;
    void changed(const std::string& instance_id);
    [[nodiscard]] bool exhausted() const; // the version counter is at 2^64-1

    registry::Registry& registry_;
    ApiOptions options_;
    ApiHooks hooks_;
    std::function<std::string()> server_metrics_;
    RouteCounters routes_;
    // The (node, id) list of a large service being streamed, shared by every
    // stream of it started at the same registry version: many clients asking
    // for one big service hold one copy.
    using StreamKeys = std::vector<std::pair<std::string, std::string>>;
    std::unordered_map<std::string, std::pair<std::uint64_t, std::weak_ptr<const StreamKeys>>>
        stream_keys_;
    IndexBook index_book_;
    std::unique_ptr<Watchers> watchers_;
    std::uint64_t jitter_seed_ = 0x9E3779B97F4A7C15ULL;
};

// "/v1/services/web" -> {"v1", "services", "web"} (empty segments dropped).
[[nodiscard]] std::vector<std::string_view> split_path(std::string_view path);

// JSON text for a response body; invalid UTF-8 (check output) is replaced, not thrown.
[[nodiscard]] std::string dump(const nlohmann::json& j);

} // namespace cairn::http
