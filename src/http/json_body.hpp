#pragma once
// Request bodies to JSON without exceptions: a parse error becomes a message
// with the byte offset, and nesting deeper than `max_depth` is refused before
// it costs anything.

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"

namespace cairn::http {

[[nodiscard]] Result<nlohmann::json> parse_json_body(std::string_view body,
                                                     std::size_t max_depth = 32);

} // namespace cairn::http
