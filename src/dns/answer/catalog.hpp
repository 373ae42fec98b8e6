#pragma once
// The DNS entry point the agent wires: the static zones, the discovery
// settings and the registry snapshot, shared by all DNS workers, and the
// factory of per-worker Responders that answer queries from them.
//
//   auto zones = dns::load_zones(cfg.dns.zones_dir);      // Result<...>
//   dns::Catalog catalog(snapshot_slot);
//   catalog.set_zones(*zones);
//   catalog.set_settings(settings);
//   Server server(..., catalog.responder_factory());
//
// Workers do not lock or touch a shared refcount per query: each keeps its
// own copies and re-reads them only when a generation counter moved.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "dns/answer/answer_stats.hpp"
#include "dns/recursion.hpp"
#include "dns/responder.hpp"
#include "dns/zone/zone.hpp"
#include "registry/snapshot.hpp"
#include "registry/types.hpp"

namespace cairn::dns {

// The [dns].serve_warning setting (docs/configuration.md), defined by the registry.
using registry::ServeWarning;

struct Settings {
    std::string domain = "cairn."; // lower case, final dot
    std::string datacenter = "dc1";
    std::string node_name;
    registry::Address node_address; // this agent's address (for <node>.node, NS)
    std::uint32_t service_ttl_s = 5, node_ttl_s = 30, negative_ttl_s = 5;
    unsigned answer_limit = 0;
    registry::Policy policy = registry::Policy::random;
    ServeWarning serve_warning = ServeWarning::fallback;
};

class Catalog {
public:
    // `snapshots` must outlive the Catalog and every Responder made by it.
    explicit Catalog(const registry::SnapshotSlot& snapshots);
    ~Catalog();
    Catalog(const Catalog&) = delete;
    Catalog& operator=(const Catalog&) = delete;

    // Any thread. Takes effect for the next query of every worker.
    void set_zones(std::shared_ptr<const ZoneSet> zones);
    // Any thread. The domain is normalised (lower case, final dot); a domain
    // that is not a valid name leaves the previous settings in place and is
    // reported by validate_settings() first, which the agent should call.
    void set_settings(Settings settings);
    [[nodiscard]] static Result<void> validate_settings(const Settings& settings);
    // Any thread. Names outside the domain and the zones go to `recursion`
    // for the clients it offers recursion to (null: REFUSED for everyone, the
    // default). It must outlive every Responder, or be replaced first.
    void set_recursion(Recursion* recursion);

    // The factory hands out Responders that keep a reference to this Catalog:
    // it must outlive them.
    [[nodiscard]] ResponderFactory responder_factory();

    // Any thread: the answer counters of every Responder made so far, summed
    // (for /metrics). Responders that were destroyed keep counting here.
    [[nodiscard]] AnswerStats answer_stats() const;

    struct Shared; // what workers read; defined in catalog.cpp

private:
    std::unique_ptr<Shared> shared_;
};

} // namespace cairn::dns
