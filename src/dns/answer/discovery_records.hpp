#pragma once
// Record helpers shared by the discovery answers (internal to
// src/dns/answer/discovery*.cpp): the apex SOA and negative answers. TXT from
// metadata is the registry's (registry/txt.hpp).

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

} // namespace cairn::dns
