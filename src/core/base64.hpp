#pragma once
// Base64 (RFC 4648, standard alphabet, padded): gossip keys in config, the
// keyring and `cairn keygen`. Decoding accepts what Go's base64.StdEncoding
// does: padding required, CR and LF skipped, any other character an error.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace cairn {

[[nodiscard]] std::string base64_encode(std::span<const std::uint8_t> bytes);
[[nodiscard]] Result<std::vector<std::uint8_t>> base64_decode(std::string_view text);

} // namespace cairn
