#include "config/toml_guard.hpp"

#include <cstdint>

namespace cairn::config {
namespace {

enum class State { normal, comment, basic, literal, multiline_basic, multiline_literal };

bool starts_key(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '"' || c == '\'';
}

std::string printable(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return fmt::format("'{}'", c);
    return fmt::format("byte 0x{:02x}", u);
}

} // namespace

Result<void> prescan_toml(std::string_view text, std::string_view origin) {
    State state = State::normal;
    std::uint32_t line = 1;
    bool line_start = true; // only whitespace so far on this line
    int depth = 0;          // open arrays and inline tables in values
    auto at = [&](std::size_t i, std::string_view s) { return text.substr(i, s.size()) == s; };
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\n') {
            ++line;
            line_start = true;
            if (state == State::comment || state == State::basic || state == State::literal)
                state = State::normal; // an unterminated string is toml++'s to report
            continue;
        }
        switch (state) {
        case State::comment:
            continue;
        case State::basic:
            if (c == '\\')
                ++i;
            else if (c == '"')
                state = State::normal;
            continue;
        case State::literal:
            if (c == '\'') state = State::normal;
            continue;
        case State::multiline_basic:
            if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
                ++i;
            } else if (at(i, "\"\"\"")) {
                i += 2;
                for (int extra = 0; extra < 2 && i + 1 < text.size() && text[i + 1] == '"'; ++extra)
                    ++i;
                state = State::normal;
            }
            continue;
        case State::multiline_literal:
            if (at(i, "'''")) {
                i += 2;
                for (int extra = 0; extra < 2 && i + 1 < text.size() && text[i + 1] == '\'';
                     ++extra)
                    ++i;
                state = State::normal;
            }
            continue;
        case State::normal:
            break;
        }
        if (static_cast<unsigned char>(c) >= 0x80)
            return fail(
                "{}:{}: a non-ASCII character outside a string or comment (keys without quotes are "
                "ASCII; put the text in quotes)",
                origin, line);
        bool was_line_start = line_start;
        if (c != ' ' && c != '\t' && c != '\r') line_start = false;
        switch (c) {
        case '#':
            state = State::comment;
            break;
        case '"':
            if (at(i, "\"\"\"")) {
                state = State::multiline_basic;
                i += 2;
            } else {
                state = State::basic;
            }
            break;
        case '\'':
            if (at(i, "'''")) {
                state = State::multiline_literal;
                i += 2;
            } else {
                state = State::literal;
            }
            break;
        case '{':
            ++depth;
            break;
        case '}':
        case ']':
            if (depth > 0) --depth;
            break;
        case '[':
            if (!was_line_start || depth > 0) {
                ++depth;
                break;
            }
            // A table header: [key] or [[key]].
            std::size_t j = i + 1;
            if (j < text.size() && text[j] == '[') ++j;
            while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
            if (j == text.size() || !starts_key(text[j]))
                return fail("{}:{}: a table header needs a key after '[' (a letter, digit, '-', "
                            "'_' or a quote), "
                            "found {}",
                            origin, line,
                            j == text.size() ? std::string("the end") : printable(text[j]));
            i = j - 1;
            break;
        }
    }
    return {};
}

} // namespace cairn::config
