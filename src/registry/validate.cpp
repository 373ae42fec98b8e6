#include "registry/validate.hpp"

#include <set>

namespace cairn::registry {

namespace {

constexpr std::size_t max_id_length = 128;
constexpr std::size_t max_meta_entries = 64;
constexpr std::size_t max_tags = 64;
// One TXT character-string holds 255 bytes (RFC 1035 §3.3.14); the meta
// entry goes out as one "key=value" string.
constexpr std::size_t max_meta_string = 255;

bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Quotes a value for a message, cutting it short so that a 1 MiB tag does not
// come back in the error.
std::string quoted(std::string_view text)
{
    std::string out = "\"";
    for (char c : text.substr(0, 64)) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out += c;
        else
            out += '?';
    }
    if (text.size() > 64)
        out += "...";
    return out + "\"";
}

std::string check_meta(std::string_view key, std::string_view value)
{
    std::string field = "meta." + std::string(key.substr(0, 64));
    if (key.empty())
        return "meta: keys must not be empty";
    for (char c : key)
        if (c == '=' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return field + ": keys may not contain '=' or control characters";
    for (char c : value)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return field + ": the value may not contain control characters";
    if (key.size() + 1 + value.size() > max_meta_string)
        return field + ": key=value is longer than 255 bytes (one DNS TXT string)";
    return {};
}

std::string check_one_check(const Check& check, std::size_t index)
{
    const CheckDefinition& d = check.definition;
    std::string field = "checks[" + std::to_string(index) + "]";
    if (d.id.empty())
        return field + ".id: must not be empty";
    if (!check_instance_id(d.id).empty())
        return field + ".id: " + quoted(d.id) + " must be 1-128 printable characters without '/' or spaces";
    switch (d.kind) {
    case CheckKind::http:
        if (d.target.empty())
            return field + ".http: the URL must not be empty";
        break;
    case CheckKind::tcp:
        if (d.target.empty())
            return field + ".tcp: host:port must not be empty";
        break;
    case CheckKind::script:
        if (d.args.empty() || d.args.front().empty())
            return field + ".args: the command must not be empty";
        break;
    case CheckKind::ttl:
        if (d.ttl_ms == 0)
            return field + ".ttl: must be more than 0";
        break;
    default:
        return field + ": unknown kind";
    }
    if (d.kind != CheckKind::ttl) {
        if (d.interval_ms == 0)
            return field + ".interval: must be more than 0";
        if (d.timeout_ms == 0)
            return field + ".timeout: must be more than 0";
    }
    if (d.success_before_passing == 0)
        return field + ".success_before_passing: must be at least 1";
    if (d.failures_before_warning == 0)
        return field + ".failures_before_warning: must be at least 1";
    if (d.failures_before_critical == 0)
        return field + ".failures_before_critical: must be at least 1";
    if (check.state.status == Health::maintenance)
        return field + ".status: a check cannot be in maintenance";
    return {};
}

} // namespace

bool is_label_safe(std::string_view text)
{
    if (text.empty() || text.size() > 63 || text.front() == '-' || text.back() == '-')
        return false;
    for (char c : text)
        if (!is_alnum(c) && c != '-')
            return false;
    return true;
}

std::string check_service_name(std::string_view name)
{
    if (name.empty())
        return "name: is required";
    if (!is_label_safe(name))
        return "name: " + quoted(name) + " is not DNS-label-safe (letters, digits and '-', 1-63 characters, not starting or ending with '-')";
    return {};
}

std::string check_instance_id(std::string_view id)
{
    if (id.empty())
        return "id: must not be empty";
    if (id.size() > max_id_length)
        return "id: is longer than 128 characters";
    for (char c : id)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '%')
            return "id: " + quoted(id) + " may not contain spaces, control characters or any of / ? # %";
    return {};
}

std::string check_port(std::int64_t port)
{
    if (port < 1 || port > 65535)
        return "port: " + std::to_string(port) + " is out of range 1-65535";
    return {};
}

std::string check_weight(std::int64_t weight)
{
    if (weight < 1 || weight > 65535)
        return "weight: " + std::to_string(weight) + " is out of range 1-65535";
    return {};
}

std::string check_tag(std::size_t index, std::string_view tag)
{
    if (!is_label_safe(tag))
        return "tags[" + std::to_string(index) + "]: " + quoted(tag) +
               " is not DNS-label-safe (letters, digits and '-', 1-63 characters)";
    return {};
}

std::expected<void, std::string> validate(const Instance& instance)
{
    auto bad = [](std::string message) { return std::unexpected(std::move(message)); };
    if (auto m = check_service_name(instance.service); !m.empty())
        return bad(m);
    if (auto m = check_instance_id(instance.id); !m.empty())
        return bad(m);
    if (instance.address.family != 4 && instance.address.family != 6)
        return bad("address: is not set (an IPv4 or IPv6 address is required)");
    if (auto m = check_port(instance.port); !m.empty())
        return bad(m);
    if (auto m = check_weight(instance.weight); !m.empty())
        return bad(m);
    if (static_cast<std::uint8_t>(instance.policy) > static_cast<std::uint8_t>(Policy::fastest))
        return bad("policy: unknown value");
    if (instance.tags.size() > max_tags)
        return bad("tags: more than 64 tags");
    for (std::size_t i = 0; i < instance.tags.size(); ++i)
        if (auto m = check_tag(i, instance.tags[i]); !m.empty())
            return bad(m);
    if (instance.meta.size() > max_meta_entries)
        return bad("meta: more than 64 entries");
    std::set<std::string_view> keys;
    for (const auto& [key, value] : instance.meta) {
        if (auto m = check_meta(key, value); !m.empty())
            return bad(m);
        if (!keys.insert(key).second)
            return bad("meta." + key + ": appears twice");
    }
    std::set<std::string_view> check_ids;
    for (std::size_t i = 0; i < instance.checks.size(); ++i) {
        if (auto m = check_one_check(instance.checks[i], i); !m.empty())
            return bad(m);
        if (!check_ids.insert(instance.checks[i].definition.id).second)
            return bad("checks[" + std::to_string(i) + "].id: " + quoted(instance.checks[i].definition.id) +
                       " is used twice");
    }
    return {};
}

} // namespace cairn::registry
