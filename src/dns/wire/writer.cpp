#include "dns/wire/writer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace cairn::dns {

namespace {

constexpr std::size_t opt_size = 11;            // root owner, type, class, ttl, rdlength 0
constexpr std::size_t ede_size = 6;             // an EDE option without text
constexpr std::size_t max_pointer = 0x3fff;     // compression pointers are 14 bits
constexpr std::uint16_t our_udp_payload = 1232; // advertised in our OPT (as NSD does)

// Does the (possibly compressed) name at `at` in `msg` equal the uncompressed
// `name`? Pointers in `msg` were written by us, but stay bounded anyway.
bool message_name_equals(std::span<const std::uint8_t> msg, std::size_t at,
                         WireName name) noexcept {
    std::size_t i = 0;
    for (int hops = 0; hops < 128; ++hops) {
        if (at >= msg.size() || i >= name.size()) return false;
        std::uint8_t len = msg[at];
        if ((len & 0xc0) == 0xc0) {
            if (at + 1 >= msg.size()) return false;
            at = ((len & 0x3fu) << 8) | msg[at + 1];
            continue;
        }
        if (len != name[i]) return false;
        if (len == 0) return true;
        if (at + 1 + len > msg.size() || i + 1 + len > name.size()) return false;
        for (std::size_t k = 1; k <= len; ++k)
            if (ascii_lower(msg[at + k]) != ascii_lower(name[i + k])) return false;
        at += 1 + len;
        i += 1 + len;
    }
    return false;
}

} // namespace

std::size_t response_limit(const Query& query, bool tcp, std::size_t udp_max) noexcept {
    if (tcp) return max_message;
    if (!query.edns) return max_udp_plain;
    return std::clamp<std::size_t>(query.udp_payload, max_udp_plain,
                                   std::max(udp_max, max_udp_plain));
}

ResponseWriter::ResponseWriter(std::span<std::uint8_t> out, std::size_t limit) noexcept
    : out_(out)
    , limit_(std::min({limit, out.size(), max_message})) {}

void ResponseWriter::start(const Query& query, std::span<const std::uint8_t> packet) noexcept {
    size_ = 0;
    counts_ = {};
    name_count_ = 0;
    tc_ = false;
    closed_ = false;
    header_only_ = false;
    section_ = Section::answer;
    rcode_ = rcode::noerror;
    ede_ = 0xffff;
    ecs_size_ = 0;
    aa_ = false;
    echoed_flags_ = 0;
    edns_ = query.edns;
    dnssec_ok_ = query.dnssec_ok;
    if (edns_) limit_ = limit_ >= opt_size ? limit_ - opt_size : 0;
    if (limit_ < header_size || out_.size() < header_size) {
        closed_ = true;
        return;
    }
    put_u16(out_.data(), query.id);
    // QR, the opcode and RD from the query; AA, TC and RCODE at finish().
    std::uint16_t flags =
        0x8000 | static_cast<std::uint16_t>((query.opcode & 0xf) << 11) | (query.rd ? 0x0100 : 0);
    put_u16(out_.data() + 2, flags);
    std::memset(out_.data() + 4, 0, 8);
    size_ = header_size;
    if (query.question_size == 0 || header_size + query.question_size > packet.size() ||
        size_ + query.question_size > limit_) {
        header_only_ = true;
        return;
    }
    std::memcpy(out_.data() + size_, packet.data() + header_size, query.question_size);
    put_u16(out_.data() + 4, 1);
    // Every label start of the question's name can be pointed at.
    std::size_t at = header_size;
    while (out_[at] != 0 && name_count_ < max_names) {
        names_[name_count_++] = static_cast<std::uint16_t>(at);
        at += out_[at] + 1u;
    }
    size_ += query.question_size;
}

void ResponseWriter::start_error(const Query& query, std::uint16_t rcode) noexcept {
    Query header_only = query;
    header_only.question_size = 0;
    if (rcode == rcode::formerr) header_only.edns = false;
    start(header_only, {});
    if (size_ < header_size) return;
    if (rcode == rcode::notimp) echo_query_flags(query);
    rcode_ = rcode;
    closed_ = true; // nothing more goes in
}

void ResponseWriter::echo_query_flags(const Query& query) noexcept {
    echoed_flags_ = query.flags & (flag::aa | flag::tc | flag::rd | flag::ra | flag::z | flag::cd);
}

void ResponseWriter::set_aa(bool aa) noexcept {
    aa_ = aa;
}

bool ResponseWriter::fail(Section section, bool required) noexcept {
    if (required && section != Section::additional) {
        tc_ = true;
        closed_ = true;
    }
    return false;
}

bool ResponseWriter::enter(Section section) noexcept {
    if (closed_ || header_only_) return false;
    if (section < section_) {
        assert(!"ResponseWriter: sections must be filled in order");
        return false;
    }
    section_ = section;
    return true;
}

std::size_t ResponseWriter::find_name(WireName name,
                                      std::size_t& matched_suffix_at) const noexcept {
    // Longest suffix first; the root alone is never worth a pointer.
    std::size_t i = 0;
    while (i < name.size() && name[i] != 0) {
        WireName suffix = name.subspan(i);
        for (std::size_t k = 0; k < name_count_; ++k) {
            std::size_t at = names_[k];
            if (out_[at] == suffix[0] && message_name_equals({out_.data(), size_}, at, suffix)) {
                matched_suffix_at = i;
                return at;
            }
        }
        i += name[i] + 1u;
    }
    matched_suffix_at = i;
    return 0;
}

void ResponseWriter::remember_name(std::size_t offset, WireName name,
                                   std::size_t literal) noexcept {
    std::size_t i = 0;
    while (i < literal && name[i] != 0 && name_count_ < max_names && offset + i <= max_pointer) {
        names_[name_count_++] = static_cast<std::uint16_t>(offset + i);
        i += name[i] + 1u;
    }
}

bool ResponseWriter::write_owner(WireName owner) noexcept {
    std::size_t literal = 0;
    std::size_t target = find_name(owner, literal);
    std::size_t need = literal + (target ? 2 : 1);
    if (literal > owner.size() || size_ + need > limit_) return false;
    std::memcpy(out_.data() + size_, owner.data(), literal);
    remember_name(size_, owner, literal);
    size_ += literal;
    if (target) {
        put_u16(out_.data() + size_, static_cast<std::uint16_t>(0xc000 | target));
        size_ += 2;
    } else {
        out_[size_++] = 0;
    }
    return true;
}

bool ResponseWriter::add(Section section, WireName owner, std::uint16_t type, std::uint32_t ttl,
                         std::span<const std::uint8_t> rdata) noexcept {
    if (!enter(section)) return false;
    if (rdata.size() > 0xffff) return fail(section);
    Mark before = mark();
    if (!write_owner(owner)) {
        rollback(before);
        return fail(section);
    }
    return write_fields(section, type, ttl, rdata, before);
}

bool ResponseWriter::add_for_question(Section section, std::uint16_t type, std::uint32_t ttl,
                                      std::span<const std::uint8_t> rdata) noexcept {
    if (!enter(section)) return false; // also when there is no question
    if (rdata.size() > 0xffff) return fail(section);
    Mark before = mark();
    if (size_ + 2 > limit_) return fail(section);
    put_u16(out_.data() + size_, static_cast<std::uint16_t>(0xc000 | header_size));
    size_ += 2;
    return write_fields(section, type, ttl, rdata, before);
}

// Type, class, TTL, RDLENGTH and RDATA after an owner already written.
bool ResponseWriter::write_fields(Section section, std::uint16_t type, std::uint32_t ttl,
                                  std::span<const std::uint8_t> rdata,
                                  const Mark& before) noexcept {
    if (size_ + 10 + rdata.size() > limit_) {
        rollback(before);
        return fail(section);
    }
    std::uint8_t* p = out_.data() + size_;
    put_u16(p, type);
    put_u16(p + 2, rrclass::in);
    put_u32(p + 4, ttl);
    put_u16(p + 8, static_cast<std::uint16_t>(rdata.size()));
    if (!rdata.empty()) std::memcpy(p + 10, rdata.data(), rdata.size());
    size_ += 10 + rdata.size();
    ++counts_[static_cast<std::size_t>(section)];
    return true;
}

bool ResponseWriter::add_precompiled(Section section, WireName owner,
                                     std::span<const std::uint8_t> records, std::uint16_t count,
                                     bool required) noexcept {
    if (!enter(section)) return false;
    Mark before = mark();
    std::size_t owner_at = size_;
    std::size_t pos = 0;
    for (std::uint16_t n = 0; n < count; ++n) {
        if (pos + 10 > records.size()) break; // malformed blob: our bug, keep what is whole
        std::size_t rr_size = 10 + get_u16(records.data() + pos + 8);
        bool ok;
        if (n == 0) {
            ok = write_owner(owner);
        } else if (owner_at <= max_pointer && size_ + 2 <= limit_) {
            // The first record's owner is now in the message: point at it.
            put_u16(out_.data() + size_, static_cast<std::uint16_t>(0xc000 | owner_at));
            size_ += 2;
            ok = true;
        } else {
            ok = write_owner(owner);
        }
        if (!ok || pos + rr_size > records.size() || size_ + rr_size > limit_) {
            rollback(before);
            return fail(section, required);
        }
        if (n == 0) {
            // If write_owner emitted just a pointer, point at its target.
            if ((out_[owner_at] & 0xc0) == 0xc0)
                owner_at = ((out_[owner_at] & 0x3fu) << 8) | out_[owner_at + 1];
        }
        std::memcpy(out_.data() + size_, records.data() + pos, rr_size);
        size_ += rr_size;
        pos += rr_size;
    }
    counts_[static_cast<std::size_t>(section)] += count;
    return true;
}

ResponseWriter::Mark ResponseWriter::mark() const noexcept {
    return Mark{size_, counts_, name_count_};
}

void ResponseWriter::rollback(const Mark& m) noexcept {
    size_ = m.size;
    counts_ = m.counts;
    name_count_ = m.names;
}

std::size_t ResponseWriter::finish() noexcept {
    if (size_ < header_size) return 0;
    std::uint16_t flags = get_u16(out_.data() + 2);
    flags = static_cast<std::uint16_t>((flags & ~0x060fu) | (aa_ ? 0x0400u : 0u) |
                                       (tc_ ? 0x0200u : 0u) | (rcode_ & 0xfu) | echoed_flags_);
    put_u16(out_.data() + 2, flags);
    put_u16(out_.data() + 6, counts_[0]);
    put_u16(out_.data() + 8, counts_[1]);
    std::uint16_t additional = counts_[2];
    if (edns_ && size_ + opt_size <= out_.size()) {
        // EDE only when it fits in the client's limit without displacing records.
        bool ede = ede_ != 0xffff && size_ + ede_size <= limit_;
        std::uint8_t* p = out_.data() + size_;
        p[0] = 0; // root owner
        put_u16(p + 1, rrtype::opt);
        put_u16(p + 3, our_udp_payload); // class: our payload size
        // TTL: extended rcode, version 0, DO echoed.
        put_u32(p + 5, (std::uint32_t{static_cast<std::uint8_t>(rcode_ >> 4)} << 24) |
                           (dnssec_ok_ ? 0x8000u : 0u));
        put_u16(p + 9, 0);
        size_ += opt_size;
        if (ede) {
            put_u16(p + 9, ede_size);
            put_u16(p + 11, 15); // EDE option code
            put_u16(p + 13, 2);
            put_u16(p + 15, ede_);
            size_ += ede_size;
        }
        if (ecs_size_ > 0) { // room reserved by set_client_subnet()
            std::uint8_t* o = out_.data() + size_;
            std::size_t address_size = ecs_size_ - 8u;
            put_u16(o, 8); // ECS option code
            put_u16(o + 2, static_cast<std::uint16_t>(ecs_size_ - 4));
            put_u16(o + 4, ecs_.family);
            o[6] = ecs_.source_prefix;
            o[7] = ecs_.scope_prefix;
            std::memcpy(o + 8, ecs_.address.data(), address_size);
            put_u16(p + 9, static_cast<std::uint16_t>(get_u16(p + 9) + ecs_size_));
            size_ += ecs_size_;
        }
        ++additional;
    }
    put_u16(out_.data() + 10, additional);
    return size_;
}

void ResponseWriter::set_client_subnet(const ClientSubnet& ecs,
                                       std::uint8_t scope_prefix) noexcept {
    if (!edns_ || closed_ || ecs_size_ > 0 || (ecs.family != 1 && ecs.family != 2)) return;
    std::size_t max_bits = ecs.family == 1 ? 32 : 128;
    std::size_t address_size = (std::min<std::size_t>(ecs.source_prefix, max_bits) + 7) / 8;
    std::size_t size = 8 + address_size; // code, length, family, source, scope, address
    if (limit_ < size_ + size) return;
    limit_ -= size;
    ecs_ = ecs;
    ecs_.scope_prefix = std::min(scope_prefix, ecs.source_prefix);
    ecs_.source_prefix =
        static_cast<std::uint8_t>(std::min<std::size_t>(ecs.source_prefix, max_bits));
    ecs_size_ = static_cast<std::uint8_t>(size);
}

} // namespace cairn::dns
