// Service answers (docs/discovery.md): <svc>.service, <tag>.<svc>.service and the
// RFC 2782 forms, for A, AAAA, SRV and TXT.
//
// Steps, one function each: find the service (unknown: NXDOMAIN),
// collect_candidates (passing, then warning ones as serve_warning says;
// filtered by tag and, for A/AAAA, by address family), choose (order them
// with the balancer, the limit, the TTL), write_answers (the answer section,
// each record once), then authority (SOA when nothing was servable: NODATA)
// and write_srv_targets (additional: the A/AAAA of SRV targets).
#include <algorithm>
#include <array>
#include <optional>
#include <random>

#include "dns/answer/balance.hpp"
#include "dns/answer/catalog.hpp"
#include "dns/answer/discovery.hpp"
#include "dns/answer/discovery_name.hpp"
#include "dns/answer/discovery_records.hpp"
#include "dns/answer/endpoint_set.hpp"
#include "registry/snapshot.hpp"

namespace cairn::dns {

using registry::Endpoint;

struct DiscoveryWorker::Scratch {
    explicit Scratch(std::uint64_t seed) : balancer(seed) { candidates.reserve(64); }

    Balancer balancer;
    std::vector<const Endpoint*> candidates;
    EndpointSet seen;                       // what the answer holds already
    std::vector<const Endpoint*> srv_added; // SRV: the endpoints answered, in order
    std::array<std::uint8_t, max_message> rdata{};
};

namespace {

std::uint64_t fresh_seed(const void* salt)
{
    std::random_device device;
    return (std::uint64_t{device()} << 32) ^ device() ^ reinterpret_cast<std::uintptr_t>(salt);
}

// 0 = any family.
std::uint8_t family_for(std::uint16_t qtype)
{
    return qtype == rrtype::a ? 4 : qtype == rrtype::aaaa ? 6 : 0;
}

bool serves_type(std::uint16_t qtype)
{
    return qtype == rrtype::a || qtype == rrtype::aaaa || qtype == rrtype::srv || qtype == rrtype::txt ||
           qtype == rrtype::any;
}

// Appends the endpoints of one health group (all, or those at `positions`)
// whose address family matches. Returns false if the list could not grow.
bool collect(std::vector<const Endpoint*>& out, const std::vector<Endpoint>& group,
             const std::vector<std::uint32_t>* positions, std::uint8_t family) noexcept
{
    try {
        auto take = [&](const Endpoint* e) {
            if (family == 0 || e->address.family == family)
                out.push_back(e);
        };
        if (positions) {
            for (std::uint32_t p : *positions)
                if (p < group.size())
                    take(&group[p]);
        } else {
            for (const Endpoint& e : group)
                take(&e);
        }
        return true;
    } catch (...) {
        return false;
    }
}

std::uint32_t ttl_of(const Endpoint& e, const Settings& s)
{
    return e.ttl_ms != 0 ? e.ttl_ms / 1000 : s.service_ttl_s;
}

bool add_address(ResponseWriter& w, Section section, WireName owner, std::uint32_t ttl,
                 const registry::Address& address)
{
    if (address.family == 4)
        return w.add(section, owner, rrtype::a, ttl, {address.bytes.data(), 4});
    return w.add(section, owner, rrtype::aaaa, ttl, {address.bytes.data(), 16});
}


// The servable endpoints of `entry` for this query into `out`: passing ones
// first, then warning ones as serve_warning says; only those with the tag
// asked for and, for A/AAAA, of the address family asked for. Returns how
// many are passing, or nothing when there are none at all.
std::optional<std::size_t> collect_candidates(const DiscoveryQuery& q, const DiscoveryName& name,
                                              const registry::ServiceEntry& entry,
                                              std::vector<const Endpoint*>& out) noexcept
{
    out.clear();
    const registry::TagIndex* tag = nullptr;
    if (!name.tag.empty()) {
        tag = entry.find_tag(name.tag);
        if (!tag)
            return std::nullopt;
    }
    std::uint8_t family = family_for(q.query.qtype);
    if (!collect(out, entry.passing_endpoints, tag ? &tag->passing : nullptr, family))
        out.clear();
    std::size_t passing = out.size();
    ServeWarning serve = q.settings.serve_warning;
    if (serve == ServeWarning::always || (serve == ServeWarning::fallback && passing == 0))
        collect(out, entry.warning_endpoints, tag ? &tag->warning : nullptr, family);
    if (out.empty())
        return std::nullopt;
    return passing;
}

// How many of the ordered candidates to answer with, and the TTL they share.
struct Selection {
    std::size_t passing = 0; // candidates before this index are passing
    std::size_t limit = 0;   // answer with at most this many
    std::uint32_t ttl = 0;
};

// Orders the candidates under the service's policy, each health group on its
// own with passing ones first, so that the first `limit` are the answer.
// Echoes the ECS option with the scope affinity used.
Selection choose(const DiscoveryQuery& q, const registry::ServiceEntry& entry, std::size_t passing,
                 DiscoveryWorker::Scratch& scratch, ResponseWriter& w) noexcept
{
    const Settings& s = q.settings;
    auto& candidates = scratch.candidates;
    registry::Policy policy = entry.policy != registry::Policy::unset ? entry.policy : s.policy;
    std::size_t limit = s.answer_limit == 0 ? candidates.size() : std::min<std::size_t>(s.answer_limit, candidates.size());
    ClientKey client;
    if (policy == registry::Policy::affinity)
        client = client_key(q.client.address, q.query.has_client_subnet ? &q.query.client_subnet : nullptr);
    std::uint32_t step = policy == registry::Policy::round_robin ? entry.rotation.next() : 0;
    std::span<const Endpoint*> all(candidates);
    scratch.balancer.order(policy, all.first(passing), limit, step, client);
    if (limit > passing)
        scratch.balancer.order(policy, all.subspan(passing), limit - passing, step, client);
    if (q.query.has_client_subnet)
        w.set_client_subnet(q.query.client_subnet,
                            policy == registry::Policy::affinity ? client.prefix_bits : std::uint8_t{0});

    // One TTL for the RRset (RFC 2181 §5.2): the lowest of the chosen.
    std::uint32_t ttl = ttl_of(*candidates[0], s);
    for (std::size_t i = 1; i < limit; ++i)
        ttl = std::min(ttl, ttl_of(*candidates[i], s));
    return {passing, limit, ttl};
}

EndpointSet::Key duplicate_key(std::uint16_t qtype)
{
    if (qtype == rrtype::srv)
        return EndpointSet::Key::address_port;
    return qtype == rrtype::txt ? EndpointSet::Key::txt : EndpointSet::Key::address;
}

bool add_srv(ResponseWriter& w, WireName owner, std::uint32_t ttl, const Endpoint& e, std::uint16_t priority,
             WireName domain) noexcept
{
    // Left uninitialised on purpose: zeroing 261 bytes per record showed in
    // profiles; every byte sent is written below.
    std::array<std::uint8_t, 6 + max_name_size> rdata;
    put_u16(rdata.data(), priority);
    put_u16(rdata.data() + 2, static_cast<std::uint16_t>(std::min<std::uint32_t>(e.weight, 65535)));
    put_u16(rdata.data() + 4, e.port);
    std::size_t target = encode_addr_name(e.address.family, e.address.bytes.data(), domain, rdata.data() + 6);
    return w.add(Section::answer, owner, rrtype::srv, ttl, {rdata.data(), 6u + target});
}

// The answer section: one record per chosen candidate, in order, skipping
// those that would repeat a record (the same address; for SRV the same
// address and port; for TXT the same RDATA) and, for TXT, those without
// metadata. Stops at the limit or when the message is full (the writer sets
// TC; the TCP retry gets them all). Returns the number of records written;
// for SRV their endpoints are in scratch.srv_added.
std::size_t write_answers(const DiscoveryQuery& q, const Selection& chosen, DiscoveryWorker::Scratch& scratch,
                          ResponseWriter& w) noexcept
{
    std::uint16_t qtype = q.query.qtype;
    const auto& candidates = scratch.candidates;
    scratch.srv_added.clear();
    try {
        if (qtype == rrtype::srv)
            scratch.srv_added.reserve(candidates.size());
    } catch (...) {
        return 0;
    }
    if (!scratch.seen.begin(duplicate_key(qtype), candidates.size()))
        return 0;
    WireName owner = q.query.qname.name();
    std::size_t added = 0;
    for (std::size_t i = 0; i < candidates.size() && added < chosen.limit; ++i) {
        const Endpoint& e = *candidates[i];
        if (qtype == rrtype::txt && e.txt.empty())
            continue; // no metadata, no TXT record
        if (scratch.seen.contains_or_insert(e))
            continue;
        bool ok = false;
        if (qtype == rrtype::srv)
            ok = add_srv(w, owner, chosen.ttl, e, i < chosen.passing ? 1 : 2, q.domain);
        else if (qtype == rrtype::txt)
            ok = w.add(Section::answer, owner, rrtype::txt, chosen.ttl, e.txt);
        else
            ok = add_address(w, Section::answer, owner, chosen.ttl, e.address);
        if (!ok)
            break;
        if (qtype == rrtype::srv)
            scratch.srv_added.push_back(&e); // reserved above: does not allocate
        ++added;
    }
    return added;
}

// The additional section of an SRV answer: the address of each target
// (<hex>.addr.<domain>) once, in answer order, as far as they fit.
void write_srv_targets(const DiscoveryQuery& q, std::uint32_t ttl, DiscoveryWorker::Scratch& scratch,
                       ResponseWriter& w) noexcept
{
    if (!scratch.seen.begin(EndpointSet::Key::address, scratch.srv_added.size()))
        return;
    for (const Endpoint* e : scratch.srv_added) {
        if (scratch.seen.contains_or_insert(*e))
            continue;
        std::array<std::uint8_t, max_name_size> target; // written before use, see add_srv
        std::size_t size = encode_addr_name(e->address.family, e->address.bytes.data(), q.domain, target.data());
        if (!add_address(w, Section::additional, {target.data(), size}, ttl, e->address))
            break;
    }
}

} // namespace

DiscoveryWorker::DiscoveryWorker() : scratch_(std::make_unique<Scratch>(fresh_seed(this))) {}
DiscoveryWorker::DiscoveryWorker(std::uint64_t seed) : scratch_(std::make_unique<Scratch>(seed)) {}
DiscoveryWorker::~DiscoveryWorker() = default;

std::span<std::uint8_t> DiscoveryWorker::rdata_scratch() noexcept { return scratch_->rdata; }

void DiscoveryWorker::answer_service(const DiscoveryQuery& q, const DiscoveryName& name, ResponseWriter& w) noexcept
{
    const registry::ServiceEntry* entry = q.snapshot ? q.snapshot->find_service(name.service) : nullptr;
    if (!entry) {
        answer_negative(q, w, true);
        return;
    }
    Scratch& scratch = *scratch_;
    std::optional<std::size_t> passing;
    if (serves_type(q.query.qtype))
        passing = collect_candidates(q, name, *entry, scratch.candidates);
    if (!passing) {
        answer_negative(q, w, false); // the service exists; nothing here to serve
        return;
    }
    Selection chosen = choose(q, *entry, *passing, scratch, w);
    std::size_t added = write_answers(q, chosen, scratch, w);
    if (added == 0) {
        if (!w.truncated())
            answer_negative(q, w, false); // e.g. TXT when no instance has metadata
        return;
    }
    if (q.query.qtype == rrtype::srv)
        write_srv_targets(q, chosen.ttl, scratch, w);
}

} // namespace cairn::dns
