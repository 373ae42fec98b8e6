#include "core/text.hpp"

#include <fmt/format.h>

namespace cairn {

std::string escaped(std::string_view text, std::size_t max_bytes) {
    std::string out;
    for (char c : text.substr(0, max_bytes)) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u >= 0x20 && u < 0x7f) {
            out += c;
        } else {
            out += fmt::format("\\x{:02x}", u);
        }
    }
    if (text.size() > max_bytes) out += "...";
    return out;
}

std::string quote(std::string_view text, std::size_t max_bytes) {
    // Appended rather than `"\"" + escaped(...)`: GCC 12 at -O3 reports a false
    // -Wrestrict on inserting a literal at the front of a string.
    std::string out(1, '"');
    out += escaped(text, max_bytes);
    out += '"';
    return out;
}

} // namespace cairn
