#pragma once
// Result<T>: the return type of everything that parses untrusted input or can
// fail at run time. Errors carry a human-readable message that names what was
// wrong (a field, a key and line, a byte offset).

#include <expected>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace cairn {

struct Error {
    std::string message;
};

template <class T = void>
using Result = std::expected<T, Error>;

template <class... Args>
[[nodiscard]] std::unexpected<Error> fail(fmt::format_string<Args...> format, Args&&... args) {
    return std::unexpected(Error{fmt::format(format, std::forward<Args>(args)...)});
}

} // namespace cairn
