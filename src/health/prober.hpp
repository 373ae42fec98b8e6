#pragma once
// The Prober runs the checks of this agent's own instances and feeds their
// results into the registry, which is what DNS serves from.
//
//   health::Prober prober(loop, registry);
//   prober.on_deregister([&](const auto& ids) { persist(ids); });
//   registry.upsert_local(...);  prober.sync_instance(id);   // or prober.sync()
//
// sync() reconciles the running checks with the registry's local instances:
// new checks start, removed ones stop, checks whose definition changed start
// over. A status change goes to the registry at once
// (Registry::update_check), and so does a reported load that moved
// (registry::load_moved); a change of output or latency alone at most
// every `refresh_ms` (60 s), so 10,000 checks do not rewrite (and gossip) their
// records on every probe. A check critical for its
// deregister_critical_after deregisters its instance.
//
// Main loop only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop.hpp"
#include "core/result.hpp"
#include "health/check_machine.hpp"
#include "health/check_stats.hpp"
#include "registry/registry.hpp"

namespace cairn::health {

struct ProberOptions {
    // Output- or latency-only updates (see worth_refreshing) reach the
    // registry at most this often.
    std::int64_t refresh_ms = 60'000;
    // 0 = seed from std::random_device.
    std::uint64_t seed = 0;
};

// Whether a result whose status did not change is worth a registry write
// (and a gossip broadcast) once per refresh period: a new output, or an
// average latency that moved by more than half and by more than 1 ms.
// Loopback latency (0.1 to 0.5 ms) jitters by more than half from probe to
// probe; without the 1 ms floor, 10,000 local checks rewrote the registry
// some 160 times a second.
[[nodiscard]] bool worth_refreshing(const registry::CheckState& reported,
                                    const registry::CheckState& now);

class Prober {
public:
    Prober(Loop& loop, registry::Registry& registry, ProberOptions options = {});
    ~Prober();
    Prober(const Prober&) = delete;
    Prober& operator=(const Prober&) = delete;

    // Reconciles every local instance; O(checks).
    void sync();
    // Reconciles one instance (after it was upserted or deregistered).
    void sync_instance(std::string_view instance_id);

    // A TTL heartbeat (PUT /v1/checks/{id}/pass|warn|fail). Errors name
    // what is wrong: no such check, or not a TTL check.
    Result<> update_ttl(std::string_view check_id, registry::Health status, std::string note);

    // Called after the prober deregistered instances (deregister_critical_after),
    // so the owner can persist that. Check results need no callback: they
    // mark the registry dirty, and the snapshot publisher picks that up.
    void on_deregister(std::function<void(const std::vector<std::string>& ids)> callback);
    // Called after a TTL check's expiry changed its status (no report came
    // within its ttl), with the instance's id, once the registry holds the
    // change: nobody asked for it, so nobody else would persist it.
    void on_ttl_expired(std::function<void(const std::string& instance_id)> callback);

    [[nodiscard]] std::size_t check_count() const;
    // Results, durations and ejections since start (for /metrics).
    [[nodiscard]] const CheckStats& stats() const;
    // Current machine state of a running check (nullptr if none); for tests
    // and the HTTP API.
    [[nodiscard]] const CheckMachine* find(std::string_view check_id) const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace cairn::health
