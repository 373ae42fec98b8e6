#pragma once
// Reading the fields of one JSON object with the path used in messages
// ("checks[0].interval: expected a duration string such as \"10s\", got an
// integer"). Internal to src/http. Only the types are checked here: what a
// valid value is, is the registry's rulebook (registry/validate.hpp) and
// core's parsers (durations, addresses).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "core/result.hpp"

namespace cairn::http {

// "a string", "an integer", ... for messages.
[[nodiscard]] std::string_view type_name(const nlohmann::json& j);

class Fields {
public:
    // `prefix` is put before each key in messages: "" or "checks[0].".
    Fields(const nlohmann::json& object, std::string prefix);

    [[nodiscard]] std::string path(std::string_view key) const;
    // The value, or nullptr when the key is absent or null.
    [[nodiscard]] const nlohmann::json* get(std::string_view key) const;

    // Each gives nullopt for an absent key and an error naming the key for
    // a value of the wrong type.
    [[nodiscard]] Result<std::optional<std::string>> string(std::string_view key) const;
    // Integers beyond int64 read as INT64_MAX, so the range check refuses them.
    [[nodiscard]] Result<std::optional<std::int64_t>> integer(std::string_view key) const;
    [[nodiscard]] Result<std::optional<bool>> boolean(std::string_view key) const;
    [[nodiscard]] Result<std::optional<Duration>> duration(std::string_view key) const;
    // Absent gives an empty list; more than `max` entries is an error.
    [[nodiscard]] Result<std::vector<std::string>> strings(std::string_view key,
                                                           std::size_t max) const;
    [[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>>
    string_map(std::string_view key, std::size_t max) const;

    // Every key must be one we know, so that a typo ("tag") is an error
    // rather than silently ignored.
    [[nodiscard]] Result<void> only(std::span<const std::string_view> known) const;

private:
    const nlohmann::json& object_;
    std::string prefix_;
};

} // namespace cairn::http
