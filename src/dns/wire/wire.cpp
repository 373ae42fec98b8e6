#include "dns/wire/wire.hpp"

#include <cctype>

namespace cairn::dns {

bool names_equal(WireName a, WireName b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

unsigned count_labels(WireName name) noexcept {
    unsigned n = 0;
    for (std::size_t i = 0; i < name.size() && name[i] != 0; i += name[i] + 1u) ++n;
    return n;
}

WireName strip_labels(WireName name, unsigned n) noexcept {
    std::size_t i = 0;
    while (n > 0 && i < name.size() && name[i] != 0) {
        i += name[i] + 1u;
        --n;
    }
    return i <= name.size() ? name.subspan(i) : WireName{};
}

bool is_subdomain(WireName name, WireName ancestor) noexcept {
    if (ancestor.size() > name.size()) return false;
    unsigned extra = count_labels(name) - count_labels(ancestor);
    return names_equal(strip_labels(name, extra), ancestor);
}

Result<NameBuffer> name_from_text(std::string_view text, bool lower) {
    NameBuffer out;
    if (text == "." || text.empty()) {
        out.bytes[0] = 0;
        out.size = 1;
        return out;
    }
    std::size_t pos = 0;      // write position
    std::size_t label_at = 0; // where the current label's length byte is
    std::size_t label_len = 0;
    auto push = [&](std::uint8_t c) -> bool {
        if (label_len >= max_label_size || pos + 1 >= max_name_size) return false;
        out.bytes[++pos] = lower ? ascii_lower(c) : c;
        ++label_len;
        return true;
    };
    out.bytes[0] = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '.') {
            if (label_len == 0) return fail("empty label in name '{}'", text);
            out.bytes[label_at] = static_cast<std::uint8_t>(label_len);
            ++pos;
            label_at = pos;
            label_len = 0;
            if (pos >= max_name_size) return fail("name '{}' longer than 255 bytes", text);
            out.bytes[label_at] = 0;
            ++out.labels;
            continue;
        }
        std::uint8_t byte = static_cast<std::uint8_t>(c);
        if (c == '\\') {
            if (i + 1 >= text.size()) return fail("dangling escape in name '{}'", text);
            if (i + 3 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
                std::isdigit(static_cast<unsigned char>(text[i + 2])) &&
                std::isdigit(static_cast<unsigned char>(text[i + 3]))) {
                int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                if (v > 255) return fail("bad escape in name '{}'", text);
                byte = static_cast<std::uint8_t>(v);
                i += 3;
            } else {
                byte = static_cast<std::uint8_t>(text[++i]);
            }
        }
        if (!push(byte)) return fail("label or name too long in '{}'", text);
    }
    if (label_len > 0) {
        out.bytes[label_at] = static_cast<std::uint8_t>(label_len);
        ++pos;
        ++out.labels;
        if (pos >= max_name_size) return fail("name '{}' longer than 255 bytes", text);
        out.bytes[pos] = 0;
    }
    out.size = static_cast<std::uint8_t>(pos + 1);
    return out;
}

std::string name_to_text(WireName name) {
    std::string text;
    std::size_t i = 0;
    while (i < name.size() && name[i] != 0) {
        std::size_t len = name[i];
        for (std::size_t k = 1; k <= len && i + k < name.size(); ++k) {
            auto c = static_cast<unsigned char>(name[i + k]);
            if (c == '.' || c == '\\') {
                text += '\\';
                text += static_cast<char>(c);
            } else if (c <= 0x20 || c >= 0x7f) {
                text += fmt::format("\\{:03}", c);
            } else {
                text += static_cast<char>(c);
            }
        }
        text += '.';
        i += len + 1;
    }
    return text.empty() ? "." : text;
}

} // namespace cairn::dns
