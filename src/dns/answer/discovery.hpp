#pragma once
// Answers for the discovery domain (docs/discovery.md): names at or under
// Settings::domain, optionally with the datacenter label before it.
//
// Called by the Responder (catalog.cpp) on a worker thread, once per query,
// after parse_query succeeded and the name was found to be ours. The writer
// has already written the header and the question; this function sets the
// rcode and AA, and adds records section by section (answer, authority,
// additional); the caller calls finish(). Pure: no I/O, no locks, and no heap
// allocation in steady state (use DiscoveryWorker for scratch space).

#include <cstdint>
#include <memory>
#include <span>

#include "dns/answer/answer_stats.hpp"
#include "dns/responder.hpp"
#include "dns/wire/query.hpp"
#include "dns/wire/wire.hpp"
#include "dns/wire/writer.hpp"

namespace cairn::registry {
class Snapshot;
}

namespace cairn::dns {

struct Settings;
struct DiscoveryName;

// What the Responder knows about one discovery query.
struct DiscoveryQuery {
    const Query& query;   // qtype, the lower-case qname, ECS, ...
    const Client& client; // the peer address (for affinity)
    const Settings& settings;
    WireName domain; // Settings::domain in lower-case wire form
    // The apex as asked: the domain, or "<dc>.<domain>" when the query named
    // the datacenter. Owner of the SOA and NS; lower case.
    WireName apex;
    // The labels of the qname before `apex`, lower case, as a wire name that
    // ends with the root label: "\3web\7service\0" for web.service.cairn.;
    // just "\0" at the apex.
    WireName relative;
    const registry::Snapshot* snapshot; // nullptr until the first one is published
    std::uint64_t generation;           // snapshot generation (0 if none)
};

// Per-worker state and scratch space for discovery answers (one per
// Responder, i.e. per thread, so it needs no locking): the balancer with its
// random source (seeded per worker), the candidate list and an RDATA buffer.
// They grow to the largest service seen and are reused, so steady-state
// queries allocate nothing. Round-robin counters live in the snapshot's
// ServiceEntry (shared by all workers, one relaxed atomic increment).
class DiscoveryWorker {
public:
    DiscoveryWorker();
    // A fixed seed, for tests.
    explicit DiscoveryWorker(std::uint64_t seed);
    ~DiscoveryWorker();
    DiscoveryWorker(const DiscoveryWorker&) = delete;
    DiscoveryWorker& operator=(const DiscoveryWorker&) = delete;

    void answer(const DiscoveryQuery& q, ResponseWriter& writer) noexcept;
    // Where service answers are counted by policy; none (the default): not
    // counted. `counters` must outlive the worker.
    void count_into(AnswerCounters* counters) noexcept;

    // A monotonic clock in ms (CLOCK_MONOTONIC_COARSE unless set; tests set
    // their own), read once per least_loaded query.
    using Clock = std::uint64_t (*)() noexcept;
    void set_clock(Clock clock) noexcept;

    struct Scratch; // defined in discovery_service.cpp

private:
    void answer_service(const DiscoveryQuery& q, const DiscoveryName& name,
                        ResponseWriter& writer) noexcept;
    std::span<std::uint8_t> rdata_scratch() noexcept;

    std::unique_ptr<Scratch> scratch_;
};

} // namespace cairn::dns
