#include "dns/discovery.hpp"

#include <array>
#include <cstring>

#include "dns/catalog.hpp"

namespace cairn::dns {

namespace {

constexpr std::uint32_t soa_refresh_s = 3600, soa_retry_s = 600, soa_expire_s = 86400;

// Appends `name` (wire) to `out` at `at`; returns the new end.
std::size_t put_name(std::uint8_t* out, std::size_t at, WireName name)
{
    std::memcpy(out + at, name.data(), name.size());
    return at + name.size();
}

// "<label>.<domain>" in wire form.
std::size_t prefixed(std::uint8_t* out, std::string_view label, WireName domain)
{
    out[0] = static_cast<std::uint8_t>(label.size());
    std::memcpy(out + 1, label.data(), label.size());
    return put_name(out, 1 + label.size(), domain);
}

bool is_relative(WireName relative, std::string_view label)
{
    return relative.size() == label.size() + 2 && relative[0] == label.size() &&
           std::memcmp(relative.data() + 1, label.data(), label.size()) == 0 && relative.back() == 0;
}

void add_soa(const DiscoveryQuery& q, ResponseWriter& w, Section section)
{
    std::array<std::uint8_t, 2 * max_name_size + 20> rdata{};
    std::size_t n = prefixed(rdata.data(), "ns", q.domain);                  // MNAME
    n += prefixed(rdata.data() + n, "hostmaster", q.domain);                // RNAME
    put_u32(rdata.data() + n, static_cast<std::uint32_t>(q.generation));    // serial
    put_u32(rdata.data() + n + 4, soa_refresh_s);
    put_u32(rdata.data() + n + 8, soa_retry_s);
    put_u32(rdata.data() + n + 12, soa_expire_s);
    put_u32(rdata.data() + n + 16, q.settings.negative_ttl_s);               // minimum
    n += 20;
    w.add(section, q.apex, rrtype::soa, q.settings.negative_ttl_s, {rdata.data(), n});
}

// The A or AAAA of this agent, owned by `owner`, if its family is `type`'s.
void add_own_address(const DiscoveryQuery& q, ResponseWriter& w, Section section, WireName owner,
                     std::uint16_t type)
{
    const auto& address = q.settings.node_address;
    if (type == rrtype::a && address.family == 4)
        w.add(section, owner, rrtype::a, q.settings.node_ttl_s, {address.bytes.data(), 4});
    if (type == rrtype::aaaa && address.family == 6)
        w.add(section, owner, rrtype::aaaa, q.settings.node_ttl_s, {address.bytes.data(), 16});
}

} // namespace

DiscoveryWorker::DiscoveryWorker() = default;
DiscoveryWorker::~DiscoveryWorker() = default;

void DiscoveryWorker::answer(const DiscoveryQuery& q, ResponseWriter& w) noexcept
{
    std::uint16_t qtype = q.query.qtype;
    w.set_aa(true);
    std::array<std::uint8_t, max_name_size + 3> ns_name{};
    std::size_t ns_size = prefixed(ns_name.data(), "ns", q.domain);
    WireName ns{ns_name.data(), ns_size};

    if (q.relative.size() == 1) { // the apex itself
        bool any = qtype == rrtype::any;
        if (qtype == rrtype::soa || any)
            add_soa(q, w, Section::answer);
        if (qtype == rrtype::ns || any) {
            w.add(Section::answer, q.apex, rrtype::ns, q.settings.node_ttl_s, ns);
            add_own_address(q, w, Section::additional, ns, rrtype::a);
            add_own_address(q, w, Section::additional, ns, rrtype::aaaa);
        }
        if (w.count(Section::answer) == 0 && !w.truncated())
            add_soa(q, w, Section::authority); // NODATA
        return;
    }
    if (is_relative(q.relative, "ns")) { // the NS target resolves to this agent
        if (qtype == rrtype::a || qtype == rrtype::aaaa || qtype == rrtype::any) {
            add_own_address(q, w, Section::answer, q.query.qname.name(), rrtype::a);
            add_own_address(q, w, Section::answer, q.query.qname.name(), rrtype::aaaa);
        }
        if (w.count(Section::answer) == 0 && !w.truncated())
            add_soa(q, w, Section::authority);
        return;
    }
    w.set_rcode(rcode::nxdomain);
    add_soa(q, w, Section::authority);
}

} // namespace cairn::dns
