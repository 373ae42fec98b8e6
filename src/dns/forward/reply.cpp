#include "dns/forward/reply.hpp"

#include <cstring>

namespace cairn::dns::forward {

namespace {

constexpr std::size_t opt_size = 11; // root owner, type, class, TTL, RDLENGTH 0
constexpr std::uint16_t do_bit = 0x8000;

// The offset just past the (possibly compressed) name at `pos`, or 0.
std::size_t skip_name(std::span<const std::uint8_t> m, std::size_t pos) noexcept {
    std::size_t name_bytes = 0;
    while (pos < m.size()) {
        std::uint8_t len = m[pos];
        if ((len & 0xc0) == 0xc0) {
            if (pos + 2 > m.size()) return 0;
            std::size_t target = (std::size_t{len & 0x3fu} << 8) | m[pos + 1];
            return target < pos ? pos + 2 : 0; // pointers point back
        }
        if ((len & 0xc0) != 0) return 0; // the label types of RFC 2671 are gone
        name_bytes += len + 1u;
        if (name_bytes > max_name_size) return 0;
        pos += len + 1u;
        if (len == 0) return pos;
    }
    return 0;
}

// Writes an OPT record at `p`: cairn's payload size, the DO bit if asked,
// the extended rcode bits.
void put_opt(std::uint8_t* p, bool dnssec_ok, std::uint16_t rcode) {
    p[0] = 0;
    put_u16(p + 1, rrtype::opt);
    put_u16(p + 3, edns_payload);
    p[5] = static_cast<std::uint8_t>(rcode >> 4); // extended rcode
    p[6] = 0;                                     // version
    put_u16(p + 7, dnssec_ok ? do_bit : 0);
    put_u16(p + 9, 0);
}

// The header flags of an answer to `client`.
std::uint16_t client_flags(const Query& client, std::uint16_t rcode, bool authentic) {
    std::uint16_t f = flag::qr | flag::ra | static_cast<std::uint16_t>(client.opcode << 11);
    if (client.rd) f |= flag::rd;
    if (client.cd) f |= flag::cd;
    if (authentic && (client.dnssec_ok || (client.flags & flag::ad) != 0)) f |= flag::ad;
    return f | (rcode & flag::rcode_bits);
}

} // namespace

std::size_t write_upstream_query(std::span<std::uint8_t> out, std::uint16_t id,
                                 const Query& q) noexcept {
    WireName name = q.qname.name();
    std::size_t size = header_size + name.size() + 4 + opt_size;
    if (out.size() < size || name.empty()) return 0;
    std::uint8_t* p = out.data();
    put_u16(p, id);
    put_u16(p + 2, static_cast<std::uint16_t>(flag::rd | (q.cd ? flag::cd : 0)));
    put_u16(p + 4, 1);
    put_u16(p + 6, 0);
    put_u16(p + 8, 0);
    put_u16(p + 10, 1);
    std::memcpy(p + header_size, name.data(), name.size());
    std::size_t at = header_size + name.size();
    put_u16(p + at, q.qtype);
    put_u16(p + at + 2, q.qclass);
    put_opt(p + at + 4, q.dnssec_ok, 0);
    return size;
}

std::expected<Reply, BadReply> check_reply(std::span<const std::uint8_t> m, std::uint16_t id,
                                           const Query& q) noexcept {
    auto bad = [](ReplyError e, const char* why) { return std::unexpected(BadReply{e, why}); };
    if (m.size() < header_size) return bad(ReplyError::malformed, "shorter than a header");
    std::uint16_t flags = get_u16(m.data() + 2);
    if ((flags & flag::qr) == 0) return bad(ReplyError::not_a_response, "QR is clear");
    if (((flags >> 11) & 0xf) != opcode::query) return bad(ReplyError::not_a_response, "opcode");
    if (get_u16(m.data()) != id) return bad(ReplyError::wrong_id, "another ID");
    if (get_u16(m.data() + 4) != 1) return bad(ReplyError::wrong_question, "QDCOUNT is not 1");

    // The question, uncompressed (nothing precedes it to point to).
    WireName want = q.qname.name();
    std::size_t pos = header_size;
    if (pos + want.size() + 4 > m.size()) return bad(ReplyError::wrong_question, "short question");
    for (std::size_t i = 0; i < want.size(); ++i)
        if (ascii_lower(m[pos + i]) != want[i])
            return bad(ReplyError::wrong_question, "another name");
    pos += want.size();
    if (get_u16(m.data() + pos) != q.qtype || get_u16(m.data() + pos + 2) != q.qclass)
        return bad(ReplyError::wrong_question, "another type or class");
    pos += 4;

    Reply r;
    r.rcode = flags & flag::rcode_bits;
    r.truncated = (flags & flag::tc) != 0;
    r.authentic = (flags & flag::ad) != 0;
    r.answers = get_u16(m.data() + 6);
    if (r.truncated) {
        r.body_size = pos;
        return r;
    }
    unsigned records = unsigned{r.answers} + get_u16(m.data() + 8) + get_u16(m.data() + 10);
    unsigned additional_from = unsigned{r.answers} + get_u16(m.data() + 8);
    for (unsigned i = 0; i < records; ++i) {
        std::size_t start = pos;
        pos = skip_name(m, pos);
        if (pos == 0 || pos + 10 > m.size()) return bad(ReplyError::malformed, "record header");
        std::uint16_t type = get_u16(m.data() + pos);
        std::size_t rdlength = get_u16(m.data() + pos + 8);
        std::size_t end = pos + 10 + rdlength;
        if (end > m.size()) return bad(ReplyError::malformed, "RDATA past the end");
        if (type == rrtype::opt) {
            if (i < additional_from || r.had_opt || m[start] != 0)
                return bad(ReplyError::malformed, "OPT out of place");
            if (i + 1 != records) return bad(ReplyError::opt_not_last, "OPT not last");
            r.had_opt = true;
            r.rcode = static_cast<std::uint16_t>(r.rcode | (m[pos + 4] << 4));
            r.body_size = start;
            return r;
        }
        pos = end;
    }
    r.body_size = pos;
    return r;
}

std::size_t write_client_error(std::uint16_t rcode, const Query& client,
                               std::span<const std::uint8_t> packet,
                               std::span<std::uint8_t> out) noexcept {
    std::size_t question = client.question_size;
    std::size_t size = header_size + question + (client.edns ? opt_size : 0);
    if (out.size() < size || packet.size() < header_size + question) return 0;
    std::uint8_t* p = out.data();
    put_u16(p, client.id);
    put_u16(p + 2, client_flags(client, rcode, false));
    put_u16(p + 4, question > 0 ? 1 : 0);
    put_u16(p + 6, 0);
    put_u16(p + 8, 0);
    put_u16(p + 10, client.edns ? 1 : 0);
    std::memcpy(p + header_size, packet.data() + header_size, question);
    if (client.edns) put_opt(p + header_size + question, client.dnssec_ok, 0);
    return size;
}

std::size_t write_client_answer(std::span<const std::uint8_t> m, const Reply& r,
                                const Query& client, std::span<const std::uint8_t> packet,
                                std::span<std::uint8_t> out, std::size_t limit) noexcept {
    std::size_t question = client.question_size;
    std::size_t opt = client.edns ? opt_size : 0;
    // An extended rcode needs an OPT to say it: without one, SERVFAIL.
    std::uint16_t rcode = r.rcode;
    if (rcode > 15 && !client.edns) rcode = rcode::servfail;
    if (limit > out.size()) limit = out.size();
    if (r.body_size > m.size() || r.body_size < header_size + question ||
        packet.size() < header_size + question)
        return 0;
    std::size_t size = r.body_size + opt;
    if (size > limit || r.truncated) {
        std::size_t n = write_client_error(rcode, client, packet, out);
        if (n != 0) out[2] |= static_cast<std::uint8_t>(flag::tc >> 8);
        return n;
    }
    std::uint8_t* p = out.data();
    std::memcpy(p, m.data(), r.body_size);
    put_u16(p, client.id);
    put_u16(p + 2, client_flags(client, rcode, r.authentic));
    // The question as the client wrote it: the same name but for case.
    std::memcpy(p + header_size, packet.data() + header_size, question);
    std::uint16_t additional = get_u16(p + 10);
    if (r.had_opt) --additional;
    if (client.edns) {
        put_opt(p + r.body_size, client.dnssec_ok, rcode);
        ++additional;
    }
    put_u16(p + 10, additional);
    return size;
}

} // namespace cairn::dns::forward
