#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include <fmt/chrono.h>

namespace cairn::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_json{false};
std::mutex g_write_mutex;

constexpr std::string_view level_name(Level level) {
    switch (level) {
    case Level::debug:
        return "debug";
    case Level::info:
        return "info";
    case Level::warn:
        return "warn";
    case Level::error:
        return "error";
    }
    return "info";
}

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (char c : v)
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            return true;
    return false;
}

// Escapes for both logfmt quoting and JSON strings (the rules coincide for
// the characters we escape).
void append_quoted(std::string& out, std::string_view v) {
    out += '"';
    for (char c : v) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20)
                out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
            else
                out += c;
        }
    }
    out += '"';
}

void append_value(std::string& out, std::string_view v, bool json) {
    if (json || needs_quotes(v))
        append_quoted(out, v);
    else
        out += v;
}

} // namespace

void set_level(Level level) {
    g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}
void set_json(bool json) {
    g_json.store(json, std::memory_order_relaxed);
}
bool enabled(Level level) {
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

Result<Level> parse_level(std::string_view name) {
    for (Level l : {Level::debug, Level::info, Level::warn, Level::error})
        if (name == level_name(l)) return l;
    return fail("unknown log level '{}' (expected debug, info, warn or error)", name);
}

std::string format_line(Level level, std::string_view msg, std::initializer_list<Field> fields,
                        bool json) {
    // RFC 3339 in UTC to the millisecond, as Consul's logs have it.
    const auto now =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
    std::string ts = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", secs, (now - secs).count());
    std::string out;
    out.reserve(128);
    auto field = [&](std::string_view key, std::string_view value, bool first) {
        if (json) {
            out += first ? "" : ",";
            append_quoted(out, key);
            out += ':';
        } else {
            out += first ? "" : " ";
            out += key;
            out += '=';
        }
        append_value(out, value, json);
    };
    if (json) out += '{';
    field("ts", ts, true);
    field("level", level_name(level), false);
    field("msg", msg, false);
    for (const Field& f : fields) field(f.key, f.value, false);
    if (json) out += '}';
    return out;
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
    std::string line = format_line(level, msg, fields, g_json.load(std::memory_order_relaxed));
    line += '\n';
    std::lock_guard lock(g_write_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

} // namespace cairn::log
