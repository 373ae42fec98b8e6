#pragma once
// Static zones: master files from a directory, parsed with ldns once, then
// held as an immutable ZoneSet precompiled to wire form. A query against it
// costs a hash lookup per tried name and copies of ready-made records.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "dns/wire/wire.hpp"

namespace cairn::dns {

class ZoneSet;

// Loads every `<dir>/*.zone` (sorted by name). The origin is the zone file's
// $ORIGIN or SOA owner; every zone needs exactly one SOA, at its apex. An
// empty or missing directory gives an empty ZoneSet. Errors name
// "file:line: reason".
[[nodiscard]] Result<std::shared_ptr<const ZoneSet>> load_zones(const std::string& dir);

// Parses one zone from master-file text; `origin` may be empty (then $ORIGIN
// or the SOA owner decides). For tests and `cairn validate`.
[[nodiscard]] Result<std::shared_ptr<const ZoneSet>>
load_zone_text(const std::string& text, const std::string& origin = "",
               const std::string& file_label = "zone");

struct ZoneInfo {
    std::string origin; // presentation form, lower case, final dot
    std::uint32_t serial = 0;
    std::size_t records = 0;
};

} // namespace cairn::dns

// The definition lives in set.hpp (answer logic only needs it).
#include "dns/zone/set.hpp"
