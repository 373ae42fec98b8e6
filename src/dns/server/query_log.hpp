#pragma once
// Query logging ([log] queries): one line per answered query, `dns.query`
// with the client, transport, name, type, rcode, answer count and size, at
// most `per_second` lines a second (bursts of as many). Lines over the rate
// are counted, and the count goes out as one `dns.query.suppressed count=N`
// line before the next line written, or with a query at least a second
// after the last such line. Off, the query path pays one relaxed atomic
// load (query_log_on()).
//
// Any thread: the DNS workers' UDP readers and TCP loops call log_query().

#include <cstdint>
#include <span>

#include <sys/socket.h>

#include "dns/responder.hpp"

namespace cairn::dns {

void set_query_log(bool on, std::uint32_t per_second);
[[nodiscard]] bool query_log_on() noexcept;

// `query` as received, `answer` as sent (both DNS messages; a query that
// does not parse is logged with what its header says).
void log_query(const sockaddr* client, Transport transport, std::span<const std::uint8_t> query,
               std::span<const std::uint8_t> answer);

} // namespace cairn::dns
