#pragma once
// The forwarder's side of the wire: the query it sends upstream, the check
// of what comes back (outside bytes: every read is bounds-checked, and
// tests/fuzz/forward_reply.cpp feeds it garbage), and the answer made from
// it for a client. Pure, no allocation.
//
// A reply is taken only if it is a response (QR) to a standard query with
// the ID sent and exactly the question sent (name compared ignoring case,
// RFC 4343); every record must be well formed, and an OPT record must be the
// last one (as every server writes it), so that dropping it leaves the other
// records and their compression pointers intact. The source address and port
// are the forwarder's to check: this sees bytes only.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>

#include "dns/wire/query.hpp"
#include "dns/wire/wire.hpp"

namespace cairn::dns::forward {

// The EDNS payload size cairn advertises upstream and to its clients.
inline constexpr std::uint16_t edns_payload = 1232;

// Writes the query for `question` (its name, type, class, DO and CD bits)
// with `id`, RD set and an OPT record of `edns_payload`. Returns its length,
// 0 when `out` is too small.
[[nodiscard]] std::size_t write_upstream_query(std::span<std::uint8_t> out, std::uint16_t id,
                                               const Query& question) noexcept;

struct Reply {
    std::uint16_t rcode = 0; // with the OPT's extended bits
    bool truncated = false;  // TC: the records are not looked at
    bool authentic = false;  // AD
    std::uint16_t answers = 0;
    // The message up to its last record, without the OPT record if there was
    // one (it is last): what the client's answer is made from.
    std::size_t body_size = 0;
    bool had_opt = false;
};

enum class ReplyError : std::uint8_t {
    malformed,      // not a DNS message, or a record runs past the end
    not_a_response, // QR clear, or an opcode other than QUERY
    wrong_id,
    wrong_question,
    opt_not_last,
};

struct BadReply {
    ReplyError error;
    const char* reason; // static text, for logs and tests
};

// Checks `message` against the query sent (`id`, `question`).
[[nodiscard]] std::expected<Reply, BadReply> check_reply(std::span<const std::uint8_t> message,
                                                         std::uint16_t id,
                                                         const Query& question) noexcept;

// The answer for a client, made from a checked reply: the client's ID, its
// question bytes as sent (so its case), its RD and CD, RA set, AA cleared, AD
// kept only for a client that set DO or AD; an OPT with `edns_payload` (DO
// echoed) when the client sent EDNS. Larger than `limit`: header and
// question with TC, for the client's retry over TCP. Returns the length, 0
// when `out` cannot hold even that.
[[nodiscard]] std::size_t write_client_answer(std::span<const std::uint8_t> message,
                                              const Reply& reply, const Query& client,
                                              std::span<const std::uint8_t> client_packet,
                                              std::span<std::uint8_t> out,
                                              std::size_t limit) noexcept;

// SERVFAIL for a client (header, question as sent, OPT if it sent EDNS), or
// any other rcode below 16.
[[nodiscard]] std::size_t write_client_error(std::uint16_t rcode, const Query& client,
                                             std::span<const std::uint8_t> client_packet,
                                             std::span<std::uint8_t> out) noexcept;

} // namespace cairn::dns::forward
