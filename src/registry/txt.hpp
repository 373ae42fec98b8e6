#pragma once
// Metadata as TXT RDATA, for the instances of a service and for the nodes
// alike: one character-string "key=value" per entry (RFC 1035 §3.3.14).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "registry/types.hpp"

namespace cairn::registry {

// Writes the RDATA into `out` and returns its length. Each string is cut to
// 255 bytes (validation keeps them shorter); the entries from the first one
// that does not fit in `out` or in 65,535 bytes on are left out.
[[nodiscard]] std::size_t write_txt_rdata(const Metadata& meta,
                                          std::span<std::uint8_t> out) noexcept;
[[nodiscard]] std::vector<std::uint8_t> txt_rdata(const Metadata& meta);

} // namespace cairn::registry
