#pragma once
// Record helpers shared by the discovery answers (internal to
// src/dns/answer/discovery*.cpp): the apex SOA, negative answers, TXT from metadata.

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dns/answer/discovery.hpp"

namespace cairn::dns {

// The SOA of the apex as asked, with the negative TTL as its minimum.
void add_soa(const DiscoveryQuery& q, ResponseWriter& w, Section section) noexcept;

// NXDOMAIN (`nxdomain`) or NODATA, with the SOA in authority (RFC 2308).
void answer_negative(const DiscoveryQuery& q, ResponseWriter& w, bool nxdomain) noexcept;

// TXT RDATA: one character-string "key=value" per entry, each cut to 255
// bytes. Returns the size written into `out` (0 if `meta` is empty or the
// entries do not fit).
[[nodiscard]] std::size_t txt_rdata(const std::vector<std::pair<std::string, std::string>>& meta,
                                    std::span<std::uint8_t> out) noexcept;

} // namespace cairn::dns
