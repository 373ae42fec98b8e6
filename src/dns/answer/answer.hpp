#pragma once
// The answer rules for the static zones (issue 2 item 7), pure: a parsed
// query and a ZoneSet in, records into a ResponseWriter out. Follows what NSD
// 4.6 answers, so that the two can be compared record for record:
//
// - AA on authoritative answers; cleared on referrals and for QCLASS ANY.
// - Positive answers carry the zone's NS RRset in the authority section
//   (except for DS/DNSKEY) and the in-zone addresses of NS and MX targets in
//   the additional section.
// - NXDOMAIN and NODATA carry the zone's SOA in authority with TTL =
//   min(SOA TTL, SOA minimum); an empty non-terminal is NODATA.
// - Wildcards (RFC 4592): only "*.<closest encloser>" matches; NODATA at a
//   wildcard when it lacks the type.
// - CNAMEs are followed inside our zones, at most 16 deep, loops stopped; the
//   rcode then reflects the first name (as NSD does).
// - Delegations: a referral with the NS RRset in authority and glue in
//   additional, AA clear; DS at a cut is answered by the parent.
// - ANY: every RRset at the name (NSD does so, RFC 8482 allows it).

#include "dns/wire/query.hpp"
#include "dns/wire/writer.hpp"
#include "dns/zone/zone.hpp"

namespace cairn::dns {

// Where a lower-case name falls in the zones.
struct ZoneMatch {
    const Node* encloser = nullptr; // the closest existing node; nullptr: in no zone
    bool exact = false;             // the name itself exists
    unsigned apex_labels = 0;       // label count of the zone's apex
};

[[nodiscard]] ZoneMatch match_zone(const ZoneSet& zones, WireName lower_name) noexcept;

// Answers `query` from `zones` into `writer` (already started). The name must
// lie in a zone (match_zone found an encloser).
void answer_from_zones(const ZoneSet& zones, const Query& query, const ZoneMatch& match,
                       ResponseWriter& writer) noexcept;

} // namespace cairn::dns
