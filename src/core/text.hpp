#pragma once
// Quoting outside bytes into messages: errors and logs must stay printable
// ASCII (and so valid UTF-8 and valid JSON) whatever the input was.

#include <cstddef>
#include <string>
#include <string_view>

namespace cairn {

// `text` cut to `max_bytes` ("..." after it), with '"', '\\' and every byte
// outside printable ASCII written as \" \\ \xNN.
[[nodiscard]] std::string escaped(std::string_view text, std::size_t max_bytes = 64);
// The same in double quotes.
[[nodiscard]] std::string quote(std::string_view text, std::size_t max_bytes = 64);

// True if `text` holds a NUL byte: such a string cannot reach a system call
// (a path, an argument, an address) without being cut short.
[[nodiscard]] constexpr bool has_nul(std::string_view text) {
    return text.find('\0') != std::string_view::npos;
}

} // namespace cairn
