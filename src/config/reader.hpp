#pragma once
// Reads one TOML table into plain values, remembering which keys were read so
// that every key nobody asked for is reported as unknown, and collecting
// every error with its file:line and full key path instead of stopping at the
// first. Internal to src/config.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.hpp"
#include "core/net.hpp"

namespace cairn::config {

class Errors {
public:
    explicit Errors(std::string origin)
        : origin_(std::move(origin)) {}
    void add(std::uint32_t line, std::string_view path, std::string_view message);
    [[nodiscard]] bool empty() const { return entries_.empty(); }
    // All errors, sorted by line, one per line of text.
    [[nodiscard]] std::string text() const;
    [[nodiscard]] const std::string& origin() const { return origin_; }
    // With a set given, every key path any reader looks up ("dns.listen",
    // "service[0].checks[0].id") is added to it: known_keys() lists them so.
    void record_keys(std::set<std::string>* keys) { keys_ = keys; }
    void asked(std::string path) {
        if (keys_) keys_->insert(std::move(path));
    }

private:
    struct Entry {
        std::uint32_t line;
        std::string text;
    };
    std::string origin_;
    std::vector<Entry> entries_;
    std::set<std::string>* keys_ = nullptr;
};

class TableReader {
public:
    TableReader(const toml::table& table, std::string path, Errors& errors);

    // Each reader looks `key` up; if it is absent `out` keeps its default,
    // if it is present and valid `out` takes it, otherwise an error is added.
    void string(std::string_view key, std::string& out);
    // A string that must pass `check` (which names no key: the reader adds it).
    void string(std::string_view key, std::string& out,
                const std::function<Result<void>(std::string_view)>& check);
    void boolean(std::string_view key, bool& out);
    void integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max);
    template <class Int>
    void integer(std::string_view key, Int& out, std::int64_t min, std::int64_t max) {
        std::int64_t v = static_cast<std::int64_t>(out);
        integer(key, v, min, max);
        out = static_cast<Int>(v);
    }
    void duration(std::string_view key, Duration& out, Duration min, Duration max);
    // An integer without a range (the caller's rule decides), nullopt if the
    // key is absent or not an integer (then an error is added).
    [[nodiscard]] std::optional<std::int64_t> integer(std::string_view key);
    // Whether the key is present (it does not count as read).
    [[nodiscard]] bool has(std::string_view key) const { return table_.contains(key); }
    [[nodiscard]] const toml::table& node() const { return table_; }
    void string_list(std::string_view key, std::vector<std::string>& out,
                     const std::function<Result<void>(std::string_view)>& check = {});
    void string_map(std::string_view key, std::map<std::string, std::string>& out);
    void address(std::string_view key, SocketAddress& out, std::uint16_t default_port);
    // A string or an array of strings; must not be empty.
    void address_list(std::string_view key, std::vector<SocketAddress>& out,
                      std::uint16_t default_port);

    // A sub-table (nullptr if absent or not a table; the latter is an error).
    [[nodiscard]] const toml::table* table(std::string_view key);
    // An array of tables (nullptr if absent or of the wrong type).
    [[nodiscard]] const toml::array* table_array(std::string_view key);

    // A key that an earlier version read: an error saying what took its
    // place if present, and not one of known_keys().
    void replaced(std::string_view key, std::string_view message);

    // Reports every key of the table that no reader asked for.
    void finish();

    [[nodiscard]] std::string path_of(std::string_view key) const;
    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] std::uint32_t line() const { return table_.source().begin.line; }
    [[nodiscard]] std::uint32_t line_of(std::string_view key) const;
    void error(std::string_view key, std::string_view message);
    [[nodiscard]] Errors& errors() { return errors_; }

private:
    const toml::node* find(std::string_view key);
    void type_error(std::string_view key, const toml::node& node, std::string_view expected);

    const toml::table& table_;
    std::string path_;
    Errors& errors_;
    std::set<std::string, std::less<>> read_;
};

// "\"text\"" for strings (shortened), the literal for numbers and booleans,
// else the type's name: for messages.
[[nodiscard]] std::string describe(const toml::node& node);

} // namespace cairn::config
