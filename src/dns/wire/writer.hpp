#pragma once
// Writes a DNS response into a caller-provided buffer, record by record, with
// name compression, the size limit, TC and the EDNS OPT record.
//
// Usage (one writer per response, on the stack; it never allocates):
//
//   ResponseWriter w(out, limit_for(query, transport));
//   w.start(query, packet);               // header + the question as sent
//   w.set_aa(true);
//   w.add(Section::answer, owner, rrtype::a, ttl, rdata);   // ... more records
//   w.add(Section::authority, ...);
//   w.add(Section::additional, ...);
//   std::size_t n = w.finish();           // counts, OPT; bytes to send
//
// Sections must be filled in order: answer, then authority, then additional.
//
// Truncation: when a record for the answer or authority section does not fit,
// add() returns false, sets TC, and every later add() fails too (the client
// will retry over TCP and get it whole). A record for the additional section
// that does not fit is just left out: add() returns false without TC. So
// callers never set TC themselves; they may stop adding on false.
//
// Compression: owner names are compressed against every name already written
// as an owner or the question; RDATA is written exactly as given (never
// compressed, which is always correct).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/wire/query.hpp"
#include "dns/wire/wire.hpp"

namespace cairn::dns {

enum class Section : std::uint8_t { answer = 0, authority = 1, additional = 2 };

// The most a response to `query` may take: 65535 over TCP; over UDP the
// client's EDNS payload size (512 without EDNS), capped at `udp_max`.
[[nodiscard]] std::size_t response_limit(const Query& query, bool tcp,
                                         std::size_t udp_max = 1232) noexcept;

class ResponseWriter {
public:
    // `limit` is clamped to out.size() and 65535.
    ResponseWriter(std::span<std::uint8_t> out, std::size_t limit) noexcept;

    // Header (id, opcode, RD from the query; QR set) and the question exactly
    // as sent (packet[12, 12 + query.question_size)). Reserves room for the OPT
    // record when the query had EDNS.
    void start(const Query& query, std::span<const std::uint8_t> packet) noexcept;

    // Header-only response as NSD sends it (QDCOUNT 0): FORMERR (never with
    // an OPT: the query's OPT may be what was malformed), NOTIMP (the query's
    // flags echoed, see echo_query_flags), REFUSED for classes we do not
    // serve, and NOERROR to a query that is an OPT alone (these two with an
    // OPT if the query had one). Flags otherwise QR, the opcode and RD.
    void start_error(const Query& query, std::uint16_t rcode) noexcept;

    // NOTIMP and BADVERS keep the query's AA, TC, RD, RA, Z and CD bits in
    // the response, as NSD's query_error() does; AD is always cleared.
    void echo_query_flags(const Query& query) noexcept;

    void set_rcode(std::uint16_t rcode) noexcept { rcode_ = rcode; } // see rcode::
    // An Extended DNS Error (RFC 8914) in the OPT record, without text; only
    // sent when the query had EDNS. E.g. 20 "Not Authoritative" with REFUSED.
    void set_extended_error(std::uint16_t code) noexcept { ede_ = code; }
    void set_aa(bool aa) noexcept;
    // RA: the client is offered recursion (the agent forwards for it). After
    // start().
    void set_ra() noexcept { echoed_flags_ |= 0x0080; }
    // Echoes the EDNS Client Subnet option (RFC 7871 §7.2.1: the query's
    // family, source prefix and address, with `scope_prefix`). Only when the
    // query had EDNS; its room is reserved at once, so call it before adding
    // records. (Added by "registry" for the affinity policy.)
    void set_client_subnet(const ClientSubnet& ecs, std::uint8_t scope_prefix) noexcept;
    [[nodiscard]] bool truncated() const noexcept { return tc_; }

    // Adds one record of class IN. Returns false (writing nothing) when it
    // does not fit; see "Truncation" above.
    bool add(Section section, WireName owner, std::uint16_t type, std::uint32_t ttl,
             std::span<const std::uint8_t> rdata) noexcept;

    // The same for a record whose owner is the question's name: the owner is
    // a pointer to the question, found without comparing names (what a
    // discovery answer of thousands of records writes for each).
    bool add_for_question(Section section, std::uint16_t type, std::uint32_t ttl,
                          std::span<const std::uint8_t> rdata) noexcept;

    // Adds records precompiled to wire form without their owner: a sequence of
    // `count` entries of [type u16, class u16, ttl u32, rdlength u16, rdata],
    // all with the same owner. All or nothing: on false none of them is kept.
    // `required` false: an authority RRset the answer can do without (the
    // zone's NS RRset on a positive answer, as NSD treats it): not fitting
    // then leaves it out without TC, like additional data.
    bool add_precompiled(Section section, WireName owner, std::span<const std::uint8_t> records,
                         std::uint16_t count, bool required = true) noexcept;

    // A position to roll back to, e.g. to keep an RRset whole.
    struct Mark {
        std::size_t size;
        std::array<std::uint16_t, 3> counts;
        std::uint8_t names;
    };
    [[nodiscard]] Mark mark() const noexcept;
    void rollback(const Mark& mark) noexcept;

    [[nodiscard]] std::uint16_t count(Section section) const noexcept {
        return counts_[static_cast<std::size_t>(section)];
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    // Bytes still free for records under the limit (0 once closed).
    [[nodiscard]] std::size_t room() const noexcept {
        return closed_ || header_only_ || size_ >= limit_ ? 0 : limit_ - size_;
    }

    // Writes the counts, flags and OPT; returns the response length.
    [[nodiscard]] std::size_t finish() noexcept;

private:
    bool enter(Section section) noexcept;
    bool write_owner(WireName owner) noexcept;
    bool write_fields(Section section, std::uint16_t type, std::uint32_t ttl,
                      std::span<const std::uint8_t> rdata, const Mark& before) noexcept;
    void remember_name(std::size_t offset, WireName name, std::size_t literal) noexcept;
    [[nodiscard]] std::size_t find_name(WireName name,
                                        std::size_t& matched_suffix_at) const noexcept;
    bool fail(Section section, bool required = true) noexcept;

    std::span<std::uint8_t> out_;
    std::size_t limit_ = 0; // bytes available for header + records (OPT space excluded)
    std::size_t size_ = 0;
    std::array<std::uint16_t, 3> counts_{};
    Section section_ = Section::answer;
    std::uint16_t rcode_ = 0;
    std::uint16_t ede_ = 0xffff; // none
    ClientSubnet ecs_{};
    std::uint8_t ecs_size_ = 0;      // bytes of the ECS option; 0 = none
    std::uint16_t echoed_flags_ = 0; // query flags kept, see echo_query_flags
    bool aa_ = false;
    bool tc_ = false;     // a required record did not fit
    bool closed_ = false; // no more records (after TC, or an error response)
    bool edns_ = false;
    bool dnssec_ok_ = false;
    bool header_only_ = false;
    // Offsets of names written so far (each label start), for compression.
    static constexpr std::size_t max_names = 64;
    std::array<std::uint16_t, max_names> names_{};
    std::uint8_t name_count_ = 0;
};

} // namespace cairn::dns
