#include "http/json_fields.hpp"

#include <algorithm>
#include <limits>

#include "core/text.hpp"

namespace cairn::http {

using nlohmann::json;

std::string_view type_name(const json& j) {
    switch (j.type()) {
    case json::value_t::null:
        return "null";
    case json::value_t::object:
        return "an object";
    case json::value_t::array:
        return "an array";
    case json::value_t::string:
        return "a string";
    case json::value_t::boolean:
        return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
        return "an integer";
    case json::value_t::number_float:
        return "a number";
    default:
        return "a value of another type";
    }
}

Fields::Fields(const json& object, std::string prefix)
    : object_(object)
    , prefix_(std::move(prefix)) {}

std::string Fields::path(std::string_view key) const {
    return prefix_ + escaped(key);
}

const json* Fields::get(std::string_view key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
}

Result<std::optional<std::string>> Fields::string(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) return fail("{}: expected a string, got {}", path(key), type_name(*v));
    return v->get<std::string>();
}

Result<std::optional<std::int64_t>> Fields::integer(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (v->is_number_unsigned()) {
        auto n = v->get<std::uint64_t>();
        constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        return static_cast<std::int64_t>(std::min(n, max));
    }
    if (v->is_number_integer()) return v->get<std::int64_t>();
    return fail("{}: expected an integer, got {}", path(key), type_name(*v));
}

Result<std::optional<bool>> Fields::boolean(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean())
        return fail("{}: expected true or false, got {}", path(key), type_name(*v));
    return v->get<bool>();
}

Result<std::optional<Duration>> Fields::duration(std::string_view key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string())
        return fail("{}: expected a duration string such as \"10s\", got {}", path(key),
                    type_name(*v));
    auto d = parse_duration(v->get_ref<const std::string&>());
    if (!d) return fail("{}: {}", path(key), d.error().message);
    return *d;
}

Result<std::vector<std::string>> Fields::strings(std::string_view key, std::size_t max) const {
    std::vector<std::string> out;
    const json* v = get(key);
    if (!v) return out;
    if (!v->is_array())
        return fail("{}: expected an array of strings, got {}", path(key), type_name(*v));
    if (v->size() > max) return fail("{}: more than {} entries", path(key), max);
    for (std::size_t i = 0; i < v->size(); ++i) {
        const json& e = (*v)[i];
        if (!e.is_string())
            return fail("{}[{}]: expected a string, got {}", path(key), i, type_name(e));
        out.push_back(e.get<std::string>());
    }
    return out;
}

Result<std::vector<std::pair<std::string, std::string>>> Fields::string_map(std::string_view key,
                                                                            std::size_t max) const {
    std::vector<std::pair<std::string, std::string>> out;
    const json* v = get(key);
    if (!v) return out;
    if (!v->is_object())
        return fail("{}: expected an object of strings, got {}", path(key), type_name(*v));
    if (v->size() > max) return fail("{}: more than {} entries", path(key), max);
    for (const auto& [k, e] : v->items()) {
        if (!e.is_string())
            return fail("{}.{}: expected a string, got {}", path(key), escaped(k), type_name(e));
        out.emplace_back(k, e.get<std::string>());
    }
    return out;
}

Result<void> Fields::only(std::span<const std::string_view> known) const {
    for (const auto& [k, v] : object_.items())
        if (std::ranges::find(known, std::string_view(k)) == known.end())
            return fail("{}: unknown field", path(k));
    return {};
}

} // namespace cairn::http
