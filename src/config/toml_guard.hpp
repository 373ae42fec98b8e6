#pragma once
// A pre-scan of TOML text for the inputs that Debian's toml++ 3.3.0 does not
// survive cleanly: a non-ASCII character outside strings and comments reaches
// an "unreachable" branch in its whitespace table (undefined behaviour in a
// GCC build), and a table header whose key starts with a character that
// cannot start a key breaks a precondition of its key parser (upstream
// tomlplusplus PR 301). Neither is valid TOML, so rejecting them first, with
// the line, changes no valid document.

#include <string_view>

#include "core/result.hpp"

namespace cairn::config {

// Errors read "<origin>:<line>: <problem>".
[[nodiscard]] Result<void> prescan_toml(std::string_view text, std::string_view origin);

} // namespace cairn::config
