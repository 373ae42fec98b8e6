#pragma once
// Helpers for the DNS unit tests: build query bytes and read responses with
// ldns, so that the tests do not trust our own parser to check our own
// writer. Wire format only; asker.hpp answers through a Catalog.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <netinet/in.h>

#include "dns/wire/wire.hpp"

// Last: ldns's headers define `bool`/`false` helpers that upset later
// standard headers (e.g. <optional>).
#include <ldns/ldns.h>

namespace cairn::dns::test {

struct QueryOptions {
    std::uint16_t id = 0x1234;
    std::uint16_t flags = 0x0100; // RD
    std::uint16_t qclass = rrclass::in;
    bool edns = false;
    std::uint8_t edns_version = 0;
    std::uint16_t payload = 1232;
    bool dnssec_ok = false;
    std::vector<std::uint8_t> options; // raw EDNS options
};

inline void push16(std::vector<std::uint8_t>& v, std::uint16_t x) {
    v.push_back(static_cast<std::uint8_t>(x >> 8));
    v.push_back(static_cast<std::uint8_t>(x));
}

// Query bytes; the name keeps the case given.
inline std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type,
                                            const QueryOptions& o = {}) {
    std::vector<std::uint8_t> q;
    push16(q, o.id);
    push16(q, o.flags);
    push16(q, 1);
    push16(q, 0);
    push16(q, 0);
    push16(q, o.edns ? 1 : 0);
    auto wire = name_from_text(name, false);
    q.insert(q.end(), wire->bytes.begin(), wire->bytes.begin() + wire->size);
    push16(q, type);
    push16(q, o.qclass);
    if (o.edns) {
        q.push_back(0);
        push16(q, rrtype::opt);
        push16(q, o.payload);
        q.push_back(0);
        q.push_back(o.edns_version);
        push16(q, o.dnssec_ok ? 0x8000 : 0);
        push16(q, static_cast<std::uint16_t>(o.options.size()));
        q.insert(q.end(), o.options.begin(), o.options.end());
    }
    return q;
}

struct PktFree {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};

// A response read by ldns, with its sections as sets of "owner ttl TYPE rdata"
// lines (lower-case owners), for comparisons that ignore record order.
struct Reply {
    std::size_t size = 0;
    std::vector<std::uint8_t> bytes;
    std::unique_ptr<ldns_pkt, PktFree> pkt;
    std::set<std::string> answer, authority, additional;

    [[nodiscard]] int rcode() const {
        // ldns keeps the extended rcode in the packet's EDNS fields.
        return ldns_pkt_get_rcode(pkt.get()) | (ldns_pkt_edns_extended_rcode(pkt.get()) << 4);
    }
    [[nodiscard]] bool aa() const { return ldns_pkt_aa(pkt.get()); }
    [[nodiscard]] bool tc() const { return ldns_pkt_tc(pkt.get()); }
    [[nodiscard]] bool rd() const { return ldns_pkt_rd(pkt.get()); }
    [[nodiscard]] bool edns() const { return ldns_pkt_edns(pkt.get()); }
    [[nodiscard]] std::uint16_t qdcount() const { return ldns_pkt_qdcount(pkt.get()); }
};

inline std::set<std::string> lines_of(const ldns_rr_list* list) {
    std::set<std::string> out;
    for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
        ldns_rr* rr = ldns_rr_list_rr(list, i);
        char* owner = ldns_rdf2str(ldns_rr_owner(rr));
        std::string line = owner;
        std::free(owner);
        for (auto& c : line) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        char* type = ldns_rr_type2str(ldns_rr_get_type(rr));
        // Appended piece by piece: `" " + std::to_string(...)` trips a GCC 12
        // -O3 -Wrestrict false positive in libstdc++.
        line += ' ';
        line += std::to_string(ldns_rr_ttl(rr));
        line += ' ';
        line += type;
        std::free(type);
        for (std::size_t k = 0; k < ldns_rr_rd_count(rr); ++k) {
            char* rd = ldns_rdf2str(ldns_rr_rdf(rr, k));
            line += " ";
            line += rd;
            std::free(rd);
        }
        out.insert(line);
    }
    return out;
}

inline Reply read_reply(const std::uint8_t* data, std::size_t size) {
    Reply r;
    r.size = size;
    r.bytes.assign(data, data + size);
    ldns_pkt* pkt = nullptr;
    if (size > 0 && ldns_wire2pkt(&pkt, data, size) == LDNS_STATUS_OK) {
        r.pkt.reset(pkt);
        r.answer = lines_of(ldns_pkt_answer(pkt));
        r.authority = lines_of(ldns_pkt_authority(pkt));
        r.additional = lines_of(ldns_pkt_additional(pkt));
    }
    return r;
}

} // namespace cairn::dns::test
