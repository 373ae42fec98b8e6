#include "dns/forward/cached_message.hpp"

#include <algorithm>
#include <cstring>

#include "dns/forward/cache.hpp"

namespace cairn::dns::forward {
namespace {

constexpr std::size_t opt_size = 11;               // root owner, type, class, TTL, RDLENGTH 0
constexpr std::size_t ede_option_size = 6;         // code 15, length 2, INFO-CODE
constexpr std::uint16_t ede_option = 15;           // RFC 8914
constexpr std::uint32_t max_wire_ttl = 0x7fffffff; // RFC 2181 §8: above is read as 0

// Skips a (possibly compressed) name starting at `pos`; returns the offset
// after it, or 0 when it runs past `end` or is malformed. A pointer ends the
// name; its target is not followed (nothing here reads owner names).
std::size_t skip_name(std::span<const std::uint8_t> msg, std::size_t pos, std::size_t end) {
    for (unsigned labels = 0; pos < end && labels <= 128; ++labels) {
        std::uint8_t len = msg[pos];
        if (len == 0) return pos + 1;
        if ((len & 0xc0) == 0xc0) {
            if (pos + 2 > end) return 0;
            std::size_t target = ((len & 0x3f) << 8) | msg[pos + 1];
            return target < pos ? pos + 2 : 0;
        }
        if ((len & 0xc0) != 0) return 0; // reserved label types
        pos += 1 + len;
    }
    return 0;
}

struct Walk {
    std::size_t opt_at = 0; // offset of the OPT record, 0 if none
    bool has_soa = false;
    std::uint32_t soa_minimum = 0;
    std::size_t soa_ttl_index = 0; // index into ttls of the authority SOA
    std::size_t end = 0;           // after the last record
};

Result<Walk> walk_records(std::span<const std::uint8_t> msg, std::size_t pos,
                          const std::array<std::uint16_t, 3>& counts, CachedMessage& out) {
    Walk walk;
    std::size_t total = std::size_t{counts[0]} + counts[1] + counts[2];
    for (std::size_t i = 0; i < total; ++i) {
        std::size_t section = i < counts[0] ? 0 : i < std::size_t{counts[0]} + counts[1] ? 1 : 2;
        std::size_t start = pos;
        pos = skip_name(msg, pos, msg.size());
        if (pos == 0 || pos + 10 > msg.size()) return fail("record {} truncated", i);
        std::uint16_t type = get_u16(&msg[pos]);
        std::uint32_t ttl = get_u32(&msg[pos + 4]);
        std::size_t rdlength = get_u16(&msg[pos + 8]);
        std::size_t rdata = pos + 10;
        if (rdata + rdlength > msg.size()) return fail("record {} RDATA truncated", i);
        if (type == rrtype::opt) {
            if (section != 2 || walk.opt_at != 0 || i + 1 != total) {
                return fail("OPT record not last in additional");
            }
            if (msg[pos + 4] != 0) return fail("extended rcode");
            walk.opt_at = start;
        } else {
            if (section == 1 && type == rrtype::soa && !walk.has_soa) {
                if (rdlength < 22) return fail("SOA RDATA too short");
                walk.has_soa = true;
                walk.soa_minimum = get_u32(&msg[rdata + rdlength - 4]);
                walk.soa_ttl_index = out.ttls.size();
            }
            if (ttl > max_wire_ttl) ttl = 0;
            out.ttl_offsets.push_back(static_cast<std::uint16_t>(pos + 4));
            out.ttls.push_back(ttl);
        }
        pos = rdata + rdlength;
    }
    walk.end = pos;
    return walk;
}

} // namespace

Result<CachedMessage> prepare_for_cache(const Query& query, std::span<const std::uint8_t> response,
                                        const CacheSettings& settings) {
    if (response.size() < header_size || response.size() > max_message) {
        return fail("size {}", response.size());
    }
    std::uint16_t flags = get_u16(&response[2]);
    std::uint16_t rcode = flags & flag::rcode_bits;
    if ((flags & flag::qr) == 0 || ((flags >> 11) & 0xf) != opcode::query) {
        return fail("not a response to a query");
    }
    if ((flags & flag::tc) != 0) return fail("truncated");
    if (rcode != rcode::noerror && rcode != rcode::nxdomain) return fail("rcode {}", rcode);
    if (get_u16(&response[4]) != 1) return fail("QDCOUNT not 1");
    std::array<std::uint16_t, 3> counts{get_u16(&response[6]), get_u16(&response[8]),
                                        get_u16(&response[10])};

    // The question: the query's name (any case, uncompressed), type and class.
    std::size_t qend = header_size + query.question_size;
    if (response.size() < qend || query.question_size != std::size_t{query.qname.size} + 4 ||
        !names_equal(response.subspan(header_size, query.qname.size), query.qname.name()) ||
        get_u16(&response[qend - 4]) != query.qtype ||
        get_u16(&response[qend - 2]) != query.qclass) {
        return fail("question differs from the query");
    }

    CachedMessage out;
    std::size_t records = std::size_t{counts[0]} + counts[1] + counts[2];
    out.ttl_offsets.reserve(records);
    out.ttls.reserve(records);
    auto walk = walk_records(response, qend, counts, out);
    if (!walk) return std::unexpected(walk.error());

    out.negative = rcode == rcode::nxdomain || counts[0] == 0;
    if (out.negative && !walk->has_soa) return fail("negative answer without SOA");
    for (auto& ttl : out.ttls) ttl = std::min(ttl, settings.max_ttl_s);
    if (out.negative) {
        // RFC 2308 §5: the SOA is served with the negative TTL.
        auto& soa_ttl = out.ttls[walk->soa_ttl_index];
        soa_ttl = std::min({soa_ttl, walk->soa_minimum, settings.max_negative_ttl_s});
    }
    out.lifetime_s = out.ttls.empty() ? 0 : *std::min_element(out.ttls.begin(), out.ttls.end());
    if (out.lifetime_s == 0) return fail("TTL 0");

    std::size_t kept = walk->opt_at != 0 ? walk->opt_at : walk->end;
    out.wire.assign(response.begin(), response.begin() + static_cast<std::ptrdiff_t>(kept));
    if (walk->opt_at != 0) put_u16(&out.wire[10], static_cast<std::uint16_t>(counts[2] - 1));
    for (std::size_t i = 0; i < out.ttls.size(); ++i)
        put_u32(&out.wire[out.ttl_offsets[i]], out.ttls[i]);
    return out;
}

namespace {

std::uint16_t served_flags(std::uint16_t stored, const Query& query, bool tc) {
    std::uint16_t flags = flag::qr | flag::ra | (stored & flag::rcode_bits);
    if (query.rd) flags |= flag::rd;
    if (query.cd) flags |= flag::cd;
    // RFC 6840 §5.8: AD only to a client that asked for it (AD or DO).
    if ((stored & flag::ad) != 0 && (query.dnssec_ok || (query.flags & flag::ad) != 0)) {
        flags |= flag::ad;
    }
    if (tc) flags |= flag::tc;
    return flags;
}

// The OPT record at `p`: our payload size, DO echoed, and with a stale answer
// the Extended DNS Error "Stale Answer" (3) or "Stale NXDOMAIN Answer" (19).
std::size_t write_opt(std::uint8_t* p, const Query& query, const ServeAs& as, bool negative) {
    p[0] = 0;
    put_u16(p + 1, rrtype::opt);
    put_u16(p + 3, as.udp_payload);
    put_u32(p + 5, query.dnssec_ok ? 0x8000 : 0);
    if (as.fixed_ttl == 0) {
        put_u16(p + 9, 0);
        return opt_size;
    }
    put_u16(p + 9, ede_option_size);
    put_u16(p + 11, ede_option);
    put_u16(p + 13, 2);
    put_u16(p + 15, negative ? 19 : 3);
    return opt_size + ede_option_size;
}

} // namespace

std::size_t serve_cached(const CachedMessage& message, const Query& query,
                         std::span<const std::uint8_t> packet, const ServeAs& as,
                         std::span<std::uint8_t> out, std::size_t limit) noexcept {
    limit = std::min(limit, out.size());
    std::size_t qend = header_size + query.question_size;
    std::size_t opt = !query.edns ? 0 : as.fixed_ttl != 0 ? opt_size + ede_option_size : opt_size;
    if (packet.size() < qend || message.wire.size() < qend) return 0;
    std::uint16_t stored_flags = get_u16(&message.wire[2]);
    std::uint8_t* p = out.data();

    bool fits = message.wire.size() + opt <= limit;
    if (!fits) {
        // Header and question with TC: the client retries over TCP.
        if (qend + opt > out.size()) return 0;
        put_u16(p, query.id);
        put_u16(p + 2, served_flags(stored_flags, query, true));
        put_u16(p + 4, 1);
        std::memset(p + 6, 0, 6);
        std::memcpy(p + header_size, packet.data() + header_size, query.question_size);
        if (!query.edns) return qend;
        put_u16(p + 10, 1);
        return qend + write_opt(p + qend, query, as, message.negative);
    }

    std::memcpy(p, message.wire.data(), message.wire.size());
    put_u16(p, query.id);
    put_u16(p + 2, served_flags(stored_flags, query, false));
    std::memcpy(p + header_size, packet.data() + header_size, query.question_size);
    for (std::size_t i = 0; i < message.ttls.size(); ++i) {
        std::uint32_t ttl = message.ttls[i];
        ttl = as.fixed_ttl != 0 ? as.fixed_ttl : ttl > as.elapsed_s ? ttl - as.elapsed_s : 0;
        put_u32(p + message.ttl_offsets[i], ttl);
    }
    std::size_t size = message.wire.size();
    if (!query.edns) return size;
    put_u16(p + 10, static_cast<std::uint16_t>(get_u16(p + 10) + 1));
    return size + write_opt(p + size, query, as, message.negative);
}

} // namespace cairn::dns::forward
