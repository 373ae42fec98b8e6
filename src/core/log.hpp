#pragma once
// The one logger. Lines are `ts=... level=... msg=... key=value ...`, or one
// JSON object per line when set_json(true). Safe to call from any thread: each
// line is written with a single write under a mutex.
//
//   log::info("dns.listen", {{"addr", addr}, {"workers", n}});

#include <initializer_list>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "core/result.hpp"

namespace cairn::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

struct Field {
    template <class T>
    Field(std::string_view k, const T& v)
        : key(k)
        , value(fmt::format("{}", v)) {}
    std::string_view key;
    std::string value;
};

void set_level(Level level);
void set_json(bool json);
[[nodiscard]] bool enabled(Level level);
[[nodiscard]] Result<Level> parse_level(std::string_view name);

void write(Level level, std::string_view msg, std::initializer_list<Field> fields);

inline void debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::debug)) write(Level::debug, msg, fields);
}
inline void info(std::string_view msg, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::info)) write(Level::info, msg, fields);
}
inline void warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::warn)) write(Level::warn, msg, fields);
}
inline void error(std::string_view msg, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::error)) write(Level::error, msg, fields);
}

// The text of one line, without the trailing newline; exposed for tests.
[[nodiscard]] std::string format_line(Level level, std::string_view msg,
                                      std::initializer_list<Field> fields, bool json);

} // namespace cairn::log
