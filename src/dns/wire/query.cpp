#include "dns/wire/query.hpp"

#include <algorithm>
#include <cstring>

namespace cairn::dns {

namespace {

constexpr std::uint16_t option_client_subnet = 8; // RFC 7871
constexpr std::uint16_t rrtype_tsig = 250;

std::unexpected<ParseFailure> failure(QueryError e, const char* reason) {
    return std::unexpected(ParseFailure{e, reason});
}

// Reads the uncompressed question name at `at` into `out` (lower case).
// Returns the offset after it, or 0 if malformed.
std::size_t read_question_name(std::span<const std::uint8_t> p, std::size_t at, NameBuffer& out,
                               const char*& reason) noexcept {
    std::size_t written = 0;
    out.labels = 0;
    for (;;) {
        if (at >= p.size()) {
            reason = "question name runs past the end";
            return 0;
        }
        std::uint8_t len = p[at];
        if ((len & 0xc0) == 0xc0) {
            // The question is the first name in the message: nothing earlier
            // to point at, so a pointer here is always malformed.
            reason = "compression pointer in the question";
            return 0;
        }
        if (len & 0xc0) {
            reason = "unknown label type in the question";
            return 0;
        }
        if (written + 1 + len > max_name_size) {
            reason = "question name longer than 255 bytes";
            return 0;
        }
        if (at + 1 + len > p.size()) {
            reason = "question name runs past the end";
            return 0;
        }
        out.bytes[written] = len;
        for (std::size_t k = 1; k <= len; ++k) out.bytes[written + k] = ascii_lower(p[at + k]);
        written += 1 + len;
        at += 1 + len;
        if (len == 0) break;
        ++out.labels;
    }
    out.size = static_cast<std::uint8_t>(written);
    return at;
}

// Skips a possibly compressed name; returns the offset after it or 0.
std::size_t skip_name(std::span<const std::uint8_t> p, std::size_t at) noexcept {
    for (std::size_t total = 0; total <= max_name_size;) {
        if (at >= p.size()) return 0;
        std::uint8_t len = p[at];
        if ((len & 0xc0) == 0xc0)
            return at + 2 <= p.size() ? at + 2 : 0; // where it points does not matter to us
        if (len & 0xc0) return 0;
        if (len == 0) return at + 1;
        total += 1 + len;
        at += 1 + len;
    }
    return 0;
}

void parse_client_subnet(std::span<const std::uint8_t> data, Query& out) noexcept {
    // RFC 7871 §6. A malformed option is ignored rather than answered with
    // FORMERR: the answer does not depend on it, and NSD ignores it too.
    if (data.size() < 4) return;
    ClientSubnet ecs;
    ecs.family = get_u16(data.data());
    ecs.source_prefix = data[2];
    ecs.scope_prefix = data[3];
    std::size_t max_bits = ecs.family == 1 ? 32 : ecs.family == 2 ? 128 : 0;
    std::size_t bytes = (ecs.source_prefix + 7u) / 8u;
    if (max_bits == 0 || ecs.source_prefix > max_bits || data.size() - 4 != bytes) return;
    std::memcpy(ecs.address.data(), data.data() + 4, bytes);
    if (ecs.source_prefix % 8 && bytes > 0)
        ecs.address[bytes - 1] &= static_cast<std::uint8_t>(0xff << (8 - ecs.source_prefix % 8));
    out.client_subnet = ecs;
    out.has_client_subnet = true;
}

// Parses the OPT record whose fixed part (after the root owner and type)
// starts at `at`. Returns the offset after it or 0 if malformed.
std::size_t parse_opt(std::span<const std::uint8_t> p, std::size_t at, Query& out) noexcept {
    if (at + 8 > p.size()) return 0;
    std::uint16_t payload = get_u16(p.data() + at);
    std::uint8_t version = p[at + 3];
    std::uint16_t flags = get_u16(p.data() + at + 4);
    std::size_t rdlength = get_u16(p.data() + at + 6);
    at += 8;
    if (at + rdlength > p.size()) return 0;
    out.edns = true;
    out.edns_version = version;
    out.dnssec_ok = (flags & 0x8000) != 0;
    out.udp_payload = std::max<std::uint16_t>(payload, 512);
    std::size_t end = at + rdlength;
    while (at < end) {
        if (at + 4 > end) return 0;
        std::uint16_t code = get_u16(p.data() + at);
        std::size_t length = get_u16(p.data() + at + 2);
        at += 4;
        if (at + length > end) return 0;
        if (code == option_client_subnet && version == 0)
            parse_client_subnet(p.subspan(at, length), out);
        // Other options are ignored, and never echoed.
        at += length;
    }
    return end;
}

// Skips the authority records (only an IXFR carries one: the client's SOA).
std::expected<std::size_t, ParseFailure>
skip_authority(std::span<const std::uint8_t> p, std::size_t at, std::uint16_t count) noexcept {
    for (std::uint16_t i = 0; i < count; ++i) {
        at = skip_name(p, at);
        if (at == 0 || at + 10 > p.size())
            return failure(QueryError::formerr, "malformed authority record");
        at += 10 + get_u16(p.data() + at + 8);
        if (at > p.size()) return failure(QueryError::formerr, "malformed authority record");
    }
    return at;
}

// The additional section: at most one OPT (owner the root), nothing else.
std::expected<void, ParseFailure> parse_additional(std::span<const std::uint8_t> p, std::size_t at,
                                                   std::uint16_t count, Query& out) noexcept {
    for (std::uint16_t i = 0; i < count; ++i) {
        std::size_t owner_end = skip_name(p, at);
        if (owner_end == 0 || owner_end + 10 > p.size())
            return failure(QueryError::formerr, "malformed additional record");
        std::uint16_t type = get_u16(p.data() + owner_end);
        if (type == rrtype::opt) {
            if (out.edns) return failure(QueryError::formerr, "more than one OPT record");
            if (owner_end != at + 1 || p[at] != 0)
                return failure(QueryError::formerr, "OPT owner is not the root");
            at = parse_opt(p, owner_end + 2, out);
            if (at == 0) return failure(QueryError::formerr, "malformed OPT record");
        } else if (type == rrtype_tsig) {
            // TSIG is not supported: no keys, so it cannot verify.
            return failure(QueryError::formerr, "TSIG not supported");
        } else {
            return failure(QueryError::formerr, "unexpected record in the additional section");
        }
    }
    // Trailing bytes after the counted records are ignored (as NSD does).
    return {};
}

// QDCOUNT is not 1. The one such query answered normally is an OPT alone
// (QDCOUNT, ANCOUNT, NSCOUNT 0, ARCOUNT 1, the OPT right after the header,
// version 0): a client asking for the server's EDNS (RFC 7873 §5.4 asks the
// same for cookies). NSD answers it NOERROR with RD kept and an OPT; every
// other QDCOUNT is FORMERR with every flag cleared, RD too.
std::unexpected<ParseFailure> reject_question_count(std::span<const std::uint8_t> p,
                                                    Query& out) noexcept {
    bool opt_alone = get_u16(p.data() + 4) == 0 && get_u16(p.data() + 6) == 0 &&
                     get_u16(p.data() + 8) == 0 && get_u16(p.data() + 10) == 1 &&
                     p[header_size] == 0 && get_u16(p.data() + header_size + 1) == rrtype::opt;
    if (opt_alone && parse_opt(p, header_size + 3, out) != 0 && out.edns_version == 0) {
        out.question_size = 0;
        out.has_client_subnet = false; // nothing to answer with it
        return failure(QueryError::no_question, "QDCOUNT 0 with only an OPT record");
    }
    out.edns = false;
    out.rd = false;
    return failure(QueryError::formerr,
                   get_u16(p.data() + 4) == 0 ? "QDCOUNT is 0" : "QDCOUNT is not 1");
}

} // namespace

std::expected<void, ParseFailure> parse_query(std::span<const std::uint8_t> p,
                                              Query& out) noexcept {
    out = Query{};
    if (p.size() < header_size) return failure(QueryError::drop, "shorter than a DNS header");
    out.id = get_u16(p.data());
    out.flags = get_u16(p.data() + 2);
    if (out.flags & flag::qr) return failure(QueryError::drop, "QR set: a response, not a query");
    out.opcode = static_cast<std::uint8_t>((out.flags >> 11) & 0xf);
    out.rd = (out.flags & flag::rd) != 0;
    out.cd = (out.flags & flag::cd) != 0;
    // A new opcode may give the rest of the packet another meaning, so it is
    // looked at before anything else is read (NSD's order).
    if (out.opcode != opcode::query && out.opcode != opcode::notify)
        return failure(QueryError::notimp, "opcode not implemented");
    if (out.flags & flag::rcode_bits) return failure(QueryError::formerr, "RCODE set in a query");

    // The question is read first (as NSD does), whatever QDCOUNT says.
    const char* reason = nullptr;
    std::size_t at = read_question_name(p, header_size, out.qname, reason);
    if (at == 0) return failure(QueryError::formerr, reason);
    if (at + 4 > p.size()) return failure(QueryError::formerr, "question type and class missing");
    out.qtype = get_u16(p.data() + at);
    out.qclass = get_u16(p.data() + at + 2);
    at += 4;
    out.question_size = at - header_size;

    if (out.opcode == opcode::notify)
        return failure(QueryError::notimp, "NOTIFY: no secondary zones here");
    if (get_u16(p.data() + 4) != 1) return reject_question_count(p, out);
    std::uint16_t nscount = get_u16(p.data() + 8);
    if (get_u16(p.data() + 6) != 0)
        return failure(QueryError::formerr, "answer section in a query");
    if (nscount != 0 && out.qtype != rrtype::ixfr)
        return failure(QueryError::formerr, "authority section in a query");
    auto additional_at = skip_authority(p, at, nscount);
    if (!additional_at) return std::unexpected(additional_at.error());
    if (auto additional = parse_additional(p, *additional_at, get_u16(p.data() + 10), out);
        !additional)
        return additional;
    if (out.edns && out.edns_version > 0)
        return failure(QueryError::badvers, "EDNS version not supported");
    return {};
}

} // namespace cairn::dns
