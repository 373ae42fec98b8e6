#pragma once
// Parsing a DNS query (outside bytes) into a Query, cheap rejects first as
// NSD's query.c does. No heap allocation; never throws.

#include <array>
#include <cstdint>
#include <expected>
#include <span>

#include "dns/wire/wire.hpp"

namespace cairn::dns {

// EDNS Client Subnet (RFC 7871, option code 8), as the client sent it.
struct ClientSubnet {
    std::uint16_t family = 0;       // 1 = IPv4, 2 = IPv6 (IANA address family)
    std::uint8_t source_prefix = 0; // bits of `address` that are meaningful
    std::uint8_t scope_prefix = 0;
    std::array<std::uint8_t, 16> address{}; // zero-padded beyond source_prefix
};

struct Query {
    std::uint16_t id = 0;
    std::uint16_t flags = 0; // the header flags as sent
    std::uint8_t opcode = 0;
    bool rd = false; // echoed in the response
    bool cd = false;
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
    NameBuffer qname;              // lower case
    std::size_t question_size = 0; // bytes of the question as sent (name + 4),
                                   // starting at packet offset 12: echoed verbatim
    bool edns = false;             // the query had an OPT record
    std::uint8_t edns_version = 0;
    bool dnssec_ok = false;
    std::uint16_t udp_payload = 512; // the client's limit; at least 512
    bool has_client_subnet = false;
    ClientSubnet client_subnet;
};

// Why a packet is not answered normally. Wire of nothing: values may change.
enum class QueryError : std::uint8_t {
    drop,        // not a query at all (shorter than a header, QR set): send nothing
    formerr,     // malformed: answer FORMERR
    notimp,      // opcode other than QUERY: answer NOTIMP
    badvers,     // EDNS version > 0: answer BADVERS with an OPT
    no_question, // QDCOUNT 0 and only an OPT (RFC 7873 §5.4): NOERROR, header and OPT
};

struct ParseFailure {
    QueryError error;
    const char* reason; // static text, for logs and tests
};

// Parses `packet` into `out`, in NSD's order (docs/dns.md, "Query handling"):
// shorter than a header or QR set: drop; an opcode other than QUERY and
// NOTIFY: NOTIMP before anything else is read; RCODE bits set or a malformed
// question: FORMERR; NOTIFY: NOTIMP (no secondary zones here); then QDCOUNT,
// the other sections and EDNS. TC, AA, RA, Z and AD in a query are ignored.
// On failure `out` still holds what was read so far (id, flags, opcode, rd,
// and the EDNS fields for BADVERS) so that the error response can be built.
[[nodiscard]] std::expected<void, ParseFailure> parse_query(std::span<const std::uint8_t> packet,
                                                            Query& out) noexcept;

} // namespace cairn::dns
