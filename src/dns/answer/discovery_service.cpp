// Service answers (docs/discovery.md): <svc>.service, <tag>.<svc>.service and the
// RFC 2782 forms, for A, AAAA, SRV and TXT.
//
// Steps: find the service (unknown: NXDOMAIN), collect the servable
// candidates (passing, then warning ones as serve_warning says; filtered by
// tag and, for A/AAAA, by address family), order them with the balancer,
// then write the answer section, then authority (SOA when nothing was
// servable: NODATA), then additional (the A/AAAA of SRV targets).
#include <algorithm>
#include <array>
#include <random>

#include "dns/answer/balance.hpp"
#include "dns/answer/catalog.hpp"
#include "dns/answer/discovery.hpp"
#include "dns/answer/discovery_name.hpp"
#include "dns/answer/discovery_records.hpp"
#include "registry/snapshot.hpp"

namespace cairn::dns {

using registry::Endpoint;

struct DiscoveryWorker::Scratch {
    explicit Scratch(std::uint64_t seed) : balancer(seed) { candidates.reserve(64); }

    Balancer balancer;
    std::vector<const Endpoint*> candidates;
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

bool same_address(const registry::Address& a, const registry::Address& b)
{
    return a.family == b.family && std::equal(a.bytes.begin(), a.bytes.begin() + (a.family == 4 ? 4 : 16),
                                              b.bytes.begin());
}

bool add_address(ResponseWriter& w, Section section, WireName owner, std::uint32_t ttl,
                 const registry::Address& address)
{
    if (address.family == 4)
        return w.add(section, owner, rrtype::a, ttl, {address.bytes.data(), 4});
    return w.add(section, owner, rrtype::aaaa, ttl, {address.bytes.data(), 16});
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
    std::uint16_t qtype = q.query.qtype;
    const Settings& s = q.settings;
    auto& candidates = scratch_->candidates;
    candidates.clear();
    if (!serves_type(qtype)) {
        answer_negative(q, w, false);
        return;
    }

    // Candidates: passing first, then warning ones if serve_warning allows.
    const registry::TagIndex* tag = nullptr;
    if (!name.tag.empty()) {
        tag = entry->find_tag(name.tag);
        if (!tag) {
            answer_negative(q, w, false); // the service exists; nothing carries the tag
            return;
        }
    }
    std::uint8_t family = family_for(qtype);
    if (!collect(candidates, entry->passing_endpoints, tag ? &tag->passing : nullptr, family))
        candidates.clear();
    std::size_t passing = candidates.size();
    if (s.serve_warning == ServeWarning::always || (s.serve_warning == ServeWarning::fallback && passing == 0))
        collect(candidates, entry->warning_endpoints, tag ? &tag->warning : nullptr, family);
    if (candidates.empty()) {
        answer_negative(q, w, false);
        return;
    }

    // Order: each health group on its own, passing ones first.
    registry::Policy policy = entry->policy != registry::Policy::unset ? entry->policy : s.policy;
    std::size_t limit = s.answer_limit == 0 ? candidates.size() : std::min<std::size_t>(s.answer_limit, candidates.size());
    ClientKey client;
    if (policy == registry::Policy::affinity)
        client = client_key(q.client.address, q.query.has_client_subnet ? &q.query.client_subnet : nullptr);
    std::uint32_t step = policy == registry::Policy::round_robin ? entry->rotation.next() : 0;
    std::span<const Endpoint*> all(candidates);
    scratch_->balancer.order(policy, all.first(passing), limit, step, client);
    if (limit > passing)
        scratch_->balancer.order(policy, all.subspan(passing), limit - passing, step, client);
    if (q.query.has_client_subnet)
        w.set_client_subnet(q.query.client_subnet,
                            policy == registry::Policy::affinity ? client.prefix_bits : std::uint8_t{0});

    // One TTL for the RRset (RFC 2181 §5.2): the lowest of the chosen.
    std::uint32_t ttl = ttl_of(*candidates[0], s);
    for (std::size_t i = 1; i < limit; ++i)
        ttl = std::min(ttl, ttl_of(*candidates[i], s));

    WireName owner = q.query.qname.name();
    std::size_t added = 0;
    bool full = false;
    for (std::size_t i = 0; i < candidates.size() && added < limit && !full; ++i) {
        const Endpoint& inst = *candidates[i];
        bool duplicate = false;
        if (qtype == rrtype::srv) {
            for (std::size_t j = 0; j < i && !duplicate; ++j)
                duplicate = candidates[j]->port == inst.port && same_address(candidates[j]->address, inst.address);
        } else if (qtype != rrtype::txt) {
            for (std::size_t j = 0; j < i && !duplicate; ++j)
                duplicate = same_address(candidates[j]->address, inst.address);
        }
        if (duplicate)
            continue;
        bool ok = true;
        if (qtype == rrtype::srv) {
            // Left uninitialised on purpose: zeroing 261 bytes per record
            // showed in profiles; every byte sent is written below.
            std::array<std::uint8_t, 6 + max_name_size> rdata;
            put_u16(rdata.data(), i < passing ? 1 : 2);
            put_u16(rdata.data() + 2, static_cast<std::uint16_t>(std::min<std::uint32_t>(inst.weight, 65535)));
            put_u16(rdata.data() + 4, inst.port);
            std::size_t target = encode_addr_name(inst.address.family, inst.address.bytes.data(), q.domain,
                                                  rdata.data() + 6);
            ok = w.add(Section::answer, owner, rrtype::srv, ttl, {rdata.data(), 6u + target});
        } else if (qtype == rrtype::txt) {
            if (inst.txt.empty())
                continue; // no metadata, no TXT record
            bool repeated = false;
            for (std::size_t j = 0; j < i && !repeated; ++j)
                repeated = candidates[j]->txt == inst.txt;
            if (repeated)
                continue; // the same RDATA twice is one record
            ok = w.add(Section::answer, owner, rrtype::txt, ttl, inst.txt);
        } else {
            ok = add_address(w, Section::answer, owner, ttl, inst.address);
        }
        if (!ok)
            full = true; // TC is set by the writer; the TCP retry gets them all
        else
            ++added;
    }
    if (added == 0) {
        if (!w.truncated())
            answer_negative(q, w, false); // e.g. TXT when no instance has metadata
        return;
    }

    // Additional: the addresses of the SRV targets, as far as they fit.
    if (qtype == rrtype::srv) {
        std::size_t written = 0;
        for (std::size_t i = 0; i < candidates.size() && written < added; ++i) {
            const Endpoint& inst = *candidates[i];
            bool duplicate = false;
            for (std::size_t j = 0; j < i && !duplicate; ++j)
                duplicate = same_address(candidates[j]->address, inst.address);
            bool duplicate_srv = false;
            for (std::size_t j = 0; j < i && !duplicate_srv; ++j)
                duplicate_srv = candidates[j]->port == inst.port && same_address(candidates[j]->address, inst.address);
            if (!duplicate_srv)
                ++written;
            if (duplicate)
                continue;
            std::array<std::uint8_t, max_name_size> target; // written before use, see above
            std::size_t size = encode_addr_name(inst.address.family, inst.address.bytes.data(), q.domain,
                                                target.data());
            if (!add_address(w, Section::additional, {target.data(), size}, ttl, inst.address))
                break;
        }
    }
}

} // namespace cairn::dns
