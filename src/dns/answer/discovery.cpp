// Discovery answers (docs/discovery.md): dispatch on the name, and the answers
// that are not about services (apex, NS target, .addr., .node.). Services
// are in discovery_service.cpp.
#include "dns/answer/discovery.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "dns/answer/catalog.hpp"
#include "dns/answer/discovery_name.hpp"
#include "dns/answer/discovery_records.hpp"
#include "registry/snapshot.hpp"
#include "registry/txt.hpp"

namespace cairn::dns {

namespace {

constexpr std::uint32_t soa_refresh_s = 3600, soa_retry_s = 600, soa_expire_s = 86400;

// Appends `name` (wire) to `out` at `at`; returns the new end.
std::size_t put_name(std::uint8_t* out, std::size_t at, WireName name) {
    std::memcpy(out + at, name.data(), name.size());
    return at + name.size();
}

// "<label>.<domain>" in wire form.
std::size_t prefixed(std::uint8_t* out, std::string_view label, WireName domain) {
    out[0] = static_cast<std::uint8_t>(label.size());
    std::memcpy(out + 1, label.data(), label.size());
    return put_name(out, 1 + label.size(), domain);
}

bool add_address(ResponseWriter& w, Section section, WireName owner, std::uint32_t ttl,
                 const registry::Address& address, std::uint16_t type) {
    if (type == rrtype::a && address.family == 4)
        return w.add(section, owner, rrtype::a, ttl, {address.bytes.data(), 4});
    if (type == rrtype::aaaa && address.family == 6)
        return w.add(section, owner, rrtype::aaaa, ttl, {address.bytes.data(), 16});
    return false;
}

// The address records `qtype` asks for: A, AAAA, or both for ANY.
void add_addresses_for(ResponseWriter& w, WireName owner, std::uint32_t ttl,
                       const registry::Address& address, std::uint16_t qtype) {
    if (qtype == rrtype::a || qtype == rrtype::any)
        add_address(w, Section::answer, owner, ttl, address, rrtype::a);
    if (qtype == rrtype::aaaa || qtype == rrtype::any)
        add_address(w, Section::answer, owner, ttl, address, rrtype::aaaa);
}

// The domain's name servers: this agent first, then the live agents of the
// snapshot by name, each as <node>.node.<domain>; at most this many, so that
// the RRset and its glue fit a 512-byte answer for short names.
constexpr std::size_t max_ns_records = 8;

struct NsTarget {
    std::array<std::uint8_t, max_name_size> name{};
    std::size_t size = 0;
    const registry::Address* address = nullptr;
};

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(static_cast<std::uint8_t>(x)) ==
                      ascii_lower(static_cast<std::uint8_t>(y));
           });
}

// "<node>.node.<domain>" in lower case, or 0 if the node's name is not one
// DNS label or the name would be too long.
std::size_t node_target(std::uint8_t* out, std::string_view node, WireName domain) {
    constexpr std::string_view node_label = "\4node";
    if (node.empty() || node.size() > 63 || node.find('.') != std::string_view::npos ||
        1 + node.size() + node_label.size() + domain.size() > max_name_size)
        return 0;
    out[0] = static_cast<std::uint8_t>(node.size());
    for (std::size_t i = 0; i < node.size(); ++i)
        out[1 + i] = ascii_lower(static_cast<std::uint8_t>(node[i]));
    std::size_t n = 1 + node.size();
    std::memcpy(out + n, node_label.data(), node_label.size());
    return put_name(out, n + node_label.size(), domain);
}

// Fills `out` with the NS targets; returns how many. This agent is
// ns.<domain> when its name is not a label.
std::size_t ns_targets(const DiscoveryQuery& q, std::array<NsTarget, max_ns_records>& out) {
    std::size_t count = 0;
    NsTarget& self = out[count++];
    self.size = node_target(self.name.data(), q.settings.node_name, q.domain);
    if (self.size == 0) self.size = prefixed(self.name.data(), "ns", q.domain);
    self.address = &q.settings.node_address;
    if (!q.snapshot) return count;
    for (const registry::Node& node : q.snapshot->nodes()) {
        if (count == out.size()) break;
        if (!node.alive || same_name(node.name, q.settings.node_name)) continue;
        NsTarget& t = out[count];
        t.size = node_target(t.name.data(), node.name, q.domain);
        t.address = &node.address;
        if (t.size > 0) ++count;
    }
    return count;
}

void answer_apex(const DiscoveryQuery& q, ResponseWriter& w) {
    std::uint16_t qtype = q.query.qtype;
    bool any = qtype == rrtype::any;
    if (qtype == rrtype::soa || any) add_soa(q, w, Section::answer);
    if (qtype == rrtype::ns || any) {
        std::array<NsTarget, max_ns_records> targets;
        std::size_t count = ns_targets(q, targets);
        for (std::size_t i = 0; i < count; ++i)
            w.add(Section::answer, q.apex, rrtype::ns, q.settings.node_ttl_s,
                  {targets[i].name.data(), targets[i].size});
        for (std::size_t i = 0; i < count; ++i)
            for (std::uint16_t type : {rrtype::a, rrtype::aaaa})
                add_address(w, Section::additional, {targets[i].name.data(), targets[i].size},
                            q.settings.node_ttl_s, *targets[i].address, type);
    }
    if (w.count(Section::answer) == 0 && !w.truncated())
        add_soa(q, w, Section::authority); // NODATA
}

void answer_ns_target(const DiscoveryQuery& q, ResponseWriter& w) {
    add_addresses_for(w, q.query.qname.name(), q.settings.node_ttl_s, q.settings.node_address,
                      q.query.qtype);
    if (w.count(Section::answer) == 0 && !w.truncated()) add_soa(q, w, Section::authority);
}

// <hex>.addr.<domain>: the address is in the name, so it always resolves.
void answer_addr(const DiscoveryQuery& q, const DiscoveryName& name, ResponseWriter& w) {
    registry::Address address;
    address.family = decode_addr_label(name.label, address.bytes.data());
    if (address.family == 0) {
        answer_negative(q, w, true);
        return;
    }
    std::uint16_t qtype = q.query.qtype;
    WireName owner = q.query.qname.name();
    add_addresses_for(w, owner, q.settings.node_ttl_s, address, qtype);
    if (w.count(Section::answer) == 0 && !w.truncated())
        answer_negative(q, w, false); // the other family: NODATA
}

// <node>.node.<domain>: this agent, or a live node the snapshot knows.
void answer_node(const DiscoveryQuery& q, const DiscoveryName& name, ResponseWriter& w,
                 std::span<std::uint8_t> scratch) {
    const registry::Node* node = q.snapshot ? q.snapshot->find_node(name.label) : nullptr;
    const registry::Address* address = node ? &node->address : nullptr;
    const std::string& self = q.settings.node_name;
    bool is_self =
        self.size() == name.label.size() &&
        std::equal(self.begin(), self.end(), name.label.begin(), [](char a, char b) {
            return ascii_lower(static_cast<std::uint8_t>(a)) == static_cast<std::uint8_t>(b);
        });
    if (is_self) address = &q.settings.node_address;
    if (!address) {
        answer_negative(q, w, true);
        return;
    }
    if (node && !node->alive && !is_self) {
        answer_negative(q, w, false); // known, but not serving
        return;
    }
    std::uint16_t qtype = q.query.qtype;
    WireName owner = q.query.qname.name();
    std::uint32_t ttl = q.settings.node_ttl_s;
    add_addresses_for(w, owner, ttl, *address, qtype);
    if ((qtype == rrtype::txt || qtype == rrtype::any) && node) {
        std::size_t n = registry::write_txt_rdata(node->meta, scratch);
        if (n > 0) w.add(Section::answer, owner, rrtype::txt, ttl, scratch.first(n));
    }
    if (w.count(Section::answer) == 0 && !w.truncated()) answer_negative(q, w, false);
}

} // namespace

void add_soa(const DiscoveryQuery& q, ResponseWriter& w, Section section) noexcept {
    std::array<std::uint8_t, 2 * max_name_size + 20> rdata{};
    std::size_t n = prefixed(rdata.data(), "ns", q.domain);              // MNAME
    n += prefixed(rdata.data() + n, "hostmaster", q.domain);             // RNAME
    put_u32(rdata.data() + n, static_cast<std::uint32_t>(q.generation)); // serial
    put_u32(rdata.data() + n + 4, soa_refresh_s);
    put_u32(rdata.data() + n + 8, soa_retry_s);
    put_u32(rdata.data() + n + 12, soa_expire_s);
    put_u32(rdata.data() + n + 16, q.settings.negative_ttl_s); // minimum
    n += 20;
    w.add(section, q.apex, rrtype::soa, q.settings.negative_ttl_s, {rdata.data(), n});
}

void answer_negative(const DiscoveryQuery& q, ResponseWriter& w, bool nxdomain) noexcept {
    if (nxdomain) w.set_rcode(rcode::nxdomain);
    add_soa(q, w, Section::authority);
}

void DiscoveryWorker::answer(const DiscoveryQuery& q, ResponseWriter& w) noexcept {
    w.set_aa(true);
    DiscoveryName name = parse_discovery_name(q.relative);
    switch (name.kind) {
    case DiscoveryKind::apex:
        answer_apex(q, w);
        return;
    case DiscoveryKind::ns:
        answer_ns_target(q, w);
        return;
    case DiscoveryKind::addr:
        answer_addr(q, name, w);
        return;
    case DiscoveryKind::node:
        answer_node(q, name, w, rdata_scratch());
        return;
    case DiscoveryKind::service:
        answer_service(q, name, w);
        return;
    case DiscoveryKind::unknown:
        break;
    }
    answer_negative(q, w, true);
}

} // namespace cairn::dns
