// Service answers (docs/discovery.md): <svc>.service, <tag>.<svc>.service and the
// RFC 2782 forms, for A, AAAA, SRV and TXT.
//
// Steps, one function each: find the service (unknown: NXDOMAIN),
// find_pools (the passing pool, and the warning one as serve_warning says;
// by tag and, for A/AAAA, by address family, all precomputed in the
// snapshot), choose (as many endpoints as the answer can hold, in answer
// order, each record once, and their TTL), write_answers (the answer
// section), then authority (SOA when nothing was servable: NODATA) and
// write_srv_targets (additional: the A/AAAA of SRV targets).
//
// Nothing here walks all the instances of a service: a query costs what its
// answer holds (docs/discovery.md, "Large services").
#include <algorithm>
#include <array>
#include <optional>
#include <random>

#include <time.h>

#include "dns/answer/balance.hpp"
#include "dns/answer/catalog.hpp"
#include "dns/answer/discovery.hpp"
#include "dns/answer/discovery_name.hpp"
#include "dns/answer/discovery_records.hpp"
#include "dns/answer/endpoint_set.hpp"
#include "registry/snapshot.hpp"

namespace cairn::dns {

using registry::Endpoint;

namespace {

std::uint64_t monotonic_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

} // namespace

struct DiscoveryWorker::Scratch {
    explicit Scratch(std::uint64_t seed)
        : balancer(seed) {
        chosen.reserve(64);
    }

    Balancer balancer;
    DiscoveryWorker::Clock clock = &monotonic_ms; // least_loaded's recent answers
    std::vector<const Endpoint*> chosen;          // the answer's endpoints, in order
    EndpointSet seen;                             // what the answer holds already
    AnswerCounters* counters = nullptr;
    std::array<std::uint8_t, max_message> rdata{};
};

namespace {

std::uint64_t fresh_seed(const void* salt) {
    std::random_device device;
    return (std::uint64_t{device()} << 32) ^ device() ^ reinterpret_cast<std::uintptr_t>(salt);
}

// 0 = any family.
std::uint8_t family_for(std::uint16_t qtype) {
    return qtype == rrtype::a ? 4 : qtype == rrtype::aaaa ? 6 : 0;
}

bool serves_type(std::uint16_t qtype) {
    return qtype == rrtype::a || qtype == rrtype::aaaa || qtype == rrtype::srv ||
           qtype == rrtype::txt || qtype == rrtype::any;
}

std::uint32_t ttl_of(const Endpoint& e, const Settings& s) {
    return e.ttl_ms != 0 ? e.ttl_ms / 1000 : s.service_ttl_s;
}

bool add_address(ResponseWriter& w, Section section, WireName owner, std::uint32_t ttl,
                 const registry::Address& address) {
    if (address.family == 4)
        return w.add(section, owner, rrtype::a, ttl, {address.bytes.data(), 4});
    return w.add(section, owner, rrtype::aaaa, ttl, {address.bytes.data(), 16});
}

// The pools an answer chooses from: passing endpoints first, then warning
// ones as serve_warning says; only those with the tag asked for and, for
// A/AAAA, of the address family asked for.
struct Pools {
    std::span<const Endpoint> passing_group;
    const registry::EndpointPool* passing = nullptr;
    std::span<const Endpoint> warning_group;
    const registry::EndpointPool* warning = nullptr; // null: warning ones are not served
};

// Nothing when there is nothing to serve (the tag is unknown, or no
// servable endpoint of the family).
std::optional<Pools> find_pools(const DiscoveryQuery& q, const DiscoveryName& name,
                                const registry::ServiceEntry& entry) noexcept {
    const registry::TagIndex* tag = nullptr;
    if (!name.tag.empty()) {
        tag = entry.find_tag(name.tag);
        if (!tag) return std::nullopt;
    }
    std::uint8_t family = family_for(q.query.qtype);
    Pools pools;
    pools.passing_group = entry.passing_endpoints;
    pools.passing = &(tag ? tag->passing_pools : entry.passing_pools).for_family(family);
    ServeWarning serve = q.settings.serve_warning;
    if (serve == ServeWarning::always ||
        (serve == ServeWarning::fallback && pools.passing->empty())) {
        pools.warning_group = entry.warning_endpoints;
        pools.warning = &(tag ? tag->warning_pools : entry.warning_pools).for_family(family);
    }
    if (pools.passing->empty() && (!pools.warning || pools.warning->empty())) return std::nullopt;
    return pools;
}

// The fewest bytes one answer record of `qtype` takes (the owner is always
// a pointer to the question), so that room / this bounds how many fit.
std::size_t smallest_record(std::uint16_t qtype, WireName domain) {
    constexpr std::size_t fixed = 2 + 10; // owner pointer, type class TTL rdlength
    if (qtype == rrtype::srv)             // priority weight port, <8 hex>.addr.<domain>
        return fixed + 6 + 1 + 8 + 1 + 4 + domain.size();
    if (qtype == rrtype::txt) return fixed + 1;
    return fixed + (qtype == rrtype::aaaa ? 16 : 4);
}

// How many endpoints to choose and the TTL they share.
struct Selection {
    std::size_t passing = 0; // chosen endpoints before this index are passing
    std::uint32_t ttl = 0;
};

EndpointSet::Key duplicate_key(std::uint16_t qtype) {
    if (qtype == rrtype::srv) return EndpointSet::Key::address_port;
    return qtype == rrtype::txt ? EndpointSet::Key::txt : EndpointSet::Key::address;
}

bool distinct_keys(std::uint16_t qtype, const registry::EndpointPool& pool) {
    if (qtype == rrtype::srv) return pool.distinct_address_ports;
    return qtype != rrtype::txt && pool.distinct_addresses;
}

// Starts loading an endpoint that the answer will read. The endpoints of a
// large service are mostly out of cache and scattered (an answer's are
// random ones among thousands); loading them all at once, while the rest are
// chosen, overlaps their misses. The fields every answer reads: the address
// and the TTL (SRV's port and weight lie between them).
void prefetch(const Endpoint& e) noexcept {
    __builtin_prefetch(&e.address);
    __builtin_prefetch(&e.ttl_ms);
}

// Chooses, in answer order, up to `want` endpoints of one pool that the
// answer does not hold yet (and, for TXT, that have metadata). The balancer
// is asked for a few more than `want` to cover repeats; only if that is not
// enough is it asked again for the whole pool (whose repeats `seen` skips).
// `check_repeats` false: the endpoints cannot repeat a key (one pool whose
// keys are distinct), so the balancer's picks are taken as they come.
void choose_from(const DiscoveryQuery& q, std::span<const Endpoint> group,
                 const registry::EndpointPool& pool, std::size_t want, registry::Policy policy,
                 std::uint32_t step, const ClientKey& client, bool check_repeats,
                 DiscoveryWorker::Scratch& scratch) noexcept {
    auto& chosen = scratch.chosen;
    for (int round = 0; round < 2 && chosen.size() < want; ++round) {
        std::size_t missing = want - chosen.size();
        std::size_t ask =
            round == 0 ? std::min(pool.size(), missing + missing / 2 + 8) : pool.size();
        if (!scratch.balancer.start(policy, group, pool, ask, step, client)) return;
        while (chosen.size() < want) {
            const Endpoint* e = scratch.balancer.next();
            if (!e) break;
            if (q.query.qtype == rrtype::txt && e->txt.empty())
                continue; // no metadata, no TXT record
            if (check_repeats && scratch.seen.contains_or_insert(*e)) continue;
            chosen.push_back(e); // reserved by choose(): does not allocate
            prefetch(*e);
        }
        if (ask >= pool.size()) return;
    }
}

// Chooses as many endpoints as the answer can hold (the limit, and what
// fits in the room left), passing ones first, each group in the order of the
// service's policy. Echoes the ECS option with the scope affinity used.
Selection choose(const DiscoveryQuery& q, const registry::ServiceEntry& entry, const Pools& pools,
                 DiscoveryWorker::Scratch& scratch, ResponseWriter& w) noexcept {
    const Settings& s = q.settings;
    registry::Policy policy = entry.policy != registry::Policy::unset ? entry.policy : s.policy;
    ClientKey client;
    if (policy == registry::Policy::affinity)
        client = client_key(q.client.address,
                            q.query.has_client_subnet ? &q.query.client_subnet : nullptr);
    if (q.query.has_client_subnet)
        w.set_client_subnet(q.query.client_subnet, policy == registry::Policy::affinity
                                                       ? client.prefix_bits
                                                       : std::uint8_t{0});
    std::uint32_t step = policy == registry::Policy::round_robin ? entry.rotation.next() : 0;
    std::uint64_t now_ms = policy == registry::Policy::least_loaded ? scratch.clock() : 0;
    scratch.balancer.set_now_ms(now_ms);
    if (scratch.counters) scratch.counters->count_policy(static_cast<std::uint8_t>(policy));

    std::size_t available = pools.passing->size() + (pools.warning ? pools.warning->size() : 0);
    std::size_t want = w.room() / smallest_record(q.query.qtype, q.domain) + 1;
    want = std::min(want, available);
    if (s.answer_limit != 0) want = std::min<std::size_t>(want, s.answer_limit);
    auto& chosen = scratch.chosen;
    chosen.clear();
    try {
        chosen.reserve(want);
    } catch (...) {
        return {};
    }
    // Repeats are possible across the two groups, and within one whose keys
    // are not distinct (TXT: identical metadata is common).
    bool check_repeats =
        (pools.warning && !pools.warning->empty() && !pools.passing->empty()) ||
        !distinct_keys(q.query.qtype, pools.passing->empty() ? *pools.warning : *pools.passing);
    if (check_repeats && !scratch.seen.begin(duplicate_key(q.query.qtype), want)) return {};
    // The first record is where the client goes: least_loaded counts it as
    // one more recent answer of that instance.
    choose_from(q, pools.passing_group, *pools.passing, want, policy, step, client, check_repeats,
                scratch);
    std::size_t passing = chosen.size();
    if (passing > 0) scratch.balancer.count_first();
    if (pools.warning) {
        choose_from(q, pools.warning_group, *pools.warning, want, policy, step, client,
                    check_repeats, scratch);
        if (passing == 0 && !chosen.empty()) scratch.balancer.count_first();
    }

    // One TTL for the RRset (RFC 2181 §5.2): the lowest of the chosen.
    std::uint32_t ttl = chosen.empty() ? 0 : ttl_of(*chosen[0], s);
    for (const Endpoint* e : chosen) ttl = std::min(ttl, ttl_of(*e, s));
    return {passing, ttl};
}

bool add_srv(ResponseWriter& w, std::uint32_t ttl, const Endpoint& e, std::uint16_t priority,
             WireName domain) noexcept {
    // Left uninitialised on purpose: zeroing 261 bytes per record showed in
    // profiles; every byte sent is written below.
    std::array<std::uint8_t, 6 + max_name_size> rdata;
    put_u16(rdata.data(), priority);
    put_u16(rdata.data() + 2, static_cast<std::uint16_t>(std::min<std::uint32_t>(e.weight, 65535)));
    put_u16(rdata.data() + 4, e.port);
    std::size_t target =
        encode_addr_name(e.address.family, e.address.bytes.data(), domain, rdata.data() + 6);
    return w.add_for_question(Section::answer, rrtype::srv, ttl, {rdata.data(), 6u + target});
}

// The answer section: one record per chosen endpoint, in order, until the
// message is full (the writer sets TC; the TCP retry gets them all).
// Returns the number of records written.
std::size_t write_answers(const DiscoveryQuery& q, const Selection& chosen,
                          DiscoveryWorker::Scratch& scratch, ResponseWriter& w) noexcept {
    std::uint16_t qtype = q.query.qtype;
    std::size_t added = 0;
    for (const Endpoint* e : scratch.chosen) {
        bool ok = false;
        if (qtype == rrtype::srv)
            ok = add_srv(w, chosen.ttl, *e, added < chosen.passing ? 1 : 2, q.domain);
        else if (qtype == rrtype::txt)
            ok = w.add_for_question(Section::answer, rrtype::txt, chosen.ttl, e->txt);
        else if (e->address.family == 4)
            ok = w.add_for_question(Section::answer, rrtype::a, chosen.ttl,
                                    {e->address.bytes.data(), 4});
        else
            ok = w.add_for_question(Section::answer, rrtype::aaaa, chosen.ttl,
                                    {e->address.bytes.data(), 16});
        if (!ok) break;
        ++added;
    }
    return added;
}

// The additional section of an SRV answer: the address of each target
// (<hex>.addr.<domain>) once, in answer order, as far as they fit.
void write_srv_targets(const DiscoveryQuery& q, std::uint32_t ttl, std::size_t answered,
                       DiscoveryWorker::Scratch& scratch, ResponseWriter& w) noexcept {
    if (!scratch.seen.begin(EndpointSet::Key::address, answered)) return;
    for (std::size_t i = 0; i < answered; ++i) {
        const Endpoint* e = scratch.chosen[i];
        if (scratch.seen.contains_or_insert(*e)) continue;
        std::array<std::uint8_t, max_name_size> target; // written before use, see add_srv
        std::size_t size =
            encode_addr_name(e->address.family, e->address.bytes.data(), q.domain, target.data());
        if (!add_address(w, Section::additional, {target.data(), size}, ttl, e->address)) break;
    }
}

} // namespace

void DiscoveryWorker::count_into(AnswerCounters* counters) noexcept {
    scratch_->counters = counters;
}

DiscoveryWorker::DiscoveryWorker()
    : scratch_(std::make_unique<Scratch>(fresh_seed(this))) {}
DiscoveryWorker::DiscoveryWorker(std::uint64_t seed)
    : scratch_(std::make_unique<Scratch>(seed)) {}
DiscoveryWorker::~DiscoveryWorker() = default;

void DiscoveryWorker::set_clock(Clock clock) noexcept {
    scratch_->clock = clock;
}

std::span<std::uint8_t> DiscoveryWorker::rdata_scratch() noexcept {
    return scratch_->rdata;
}

void DiscoveryWorker::answer_service(const DiscoveryQuery& q, const DiscoveryName& name,
                                     ResponseWriter& w) noexcept {
    const registry::ServiceEntry* entry =
        q.snapshot ? q.snapshot->find_service(name.service) : nullptr;
    if (!entry) {
        answer_negative(q, w, true);
        return;
    }
    Scratch& scratch = *scratch_;
    std::optional<Pools> pools;
    if (serves_type(q.query.qtype)) pools = find_pools(q, name, *entry);
    if (!pools) {
        answer_negative(q, w, false); // the service exists; nothing here to serve
        return;
    }
    Selection chosen = choose(q, *entry, *pools, scratch, w);
    std::size_t added = write_answers(q, chosen, scratch, w);
    if (added == 0) {
        if (!w.truncated()) answer_negative(q, w, false); // e.g. TXT when no instance has metadata
        return;
    }
    if (q.query.qtype == rrtype::srv) write_srv_targets(q, chosen.ttl, added, scratch, w);
}

} // namespace cairn::dns
