#include "registry/types.hpp"

#include <algorithm>

#include "core/text.hpp"

namespace cairn::registry {

namespace {

// How bad a status is, for "worst of the checks". Maintenance is handled
// before this: it overrides every check.
int severity(Health h) {
    switch (h) {
    case Health::passing:
        return 0;
    case Health::warning:
        return 1;
    case Health::critical:
        return 2;
    case Health::maintenance:
        return 3;
    }
    return 2;
}

} // namespace

Health Instance::health() const {
    if (maintenance) return Health::maintenance;
    Health worst = Health::passing;
    for (const Check& c : checks)
        if (severity(c.state.status) > severity(worst)) worst = c.state.status;
    // A check cannot itself be "in maintenance"; treat it as critical.
    return worst == Health::maintenance ? Health::critical : worst;
}

std::uint32_t Instance::latency_us() const {
    std::uint64_t sum = 0;
    std::uint32_t n = 0;
    for (const Check& c : checks) {
        if (c.state.latency_us == 0) continue;
        sum += c.state.latency_us;
        ++n;
    }
    return n == 0 ? 0 : static_cast<std::uint32_t>(sum / n);
}

std::optional<std::uint32_t> Instance::load() const {
    std::optional<std::uint32_t> highest;
    for (const Check& c : checks)
        if (c.state.load && (!highest || *c.state.load > *highest)) highest = c.state.load;
    return highest;
}

std::string_view to_string(Health h) {
    switch (h) {
    case Health::passing:
        return "passing";
    case Health::warning:
        return "warning";
    case Health::critical:
        return "critical";
    case Health::maintenance:
        return "maintenance";
    }
    return "critical";
}

std::string_view to_string(Policy p) {
    switch (p) {
    case Policy::unset:
        return "";
    case Policy::random:
        return "random";
    case Policy::round_robin:
        return "round_robin";
    case Policy::weighted:
        return "weighted";
    case Policy::affinity:
        return "affinity";
    case Policy::fastest:
        return "fastest";
    case Policy::least_loaded:
        return "least_loaded";
    }
    return "";
}

std::string_view to_string(CheckKind k) {
    switch (k) {
    case CheckKind::http:
        return "http";
    case CheckKind::tcp:
        return "tcp";
    case CheckKind::script:
        return "script";
    case CheckKind::ttl:
        return "ttl";
    }
    return "ttl";
}

std::string_view to_string(ServeWarning s) {
    switch (s) {
    case ServeWarning::fallback:
        return "fallback";
    case ServeWarning::always:
        return "always";
    case ServeWarning::never:
        return "never";
    }
    return "fallback";
}

Result<Policy> parse_policy(std::string_view text) {
    for (Policy p : {Policy::random, Policy::round_robin, Policy::weighted, Policy::affinity,
                     Policy::fastest, Policy::least_loaded})
        if (text == to_string(p)) return p;
    return fail("{} is not a policy (expected random, round_robin, weighted, affinity, fastest or "
                "least_loaded)",
                quote(text));
}

Result<ServeWarning> parse_serve_warning(std::string_view text) {
    for (ServeWarning s : {ServeWarning::fallback, ServeWarning::always, ServeWarning::never})
        if (text == to_string(s)) return s;
    return fail("{} is not a serve_warning value (expected fallback, always or never)",
                quote(text));
}

std::optional<Health> parse_health(std::string_view text) {
    for (Health h : {Health::passing, Health::warning, Health::critical, Health::maintenance})
        if (text == to_string(h)) return h;
    return std::nullopt;
}

std::string record_key(std::string_view node, std::string_view id) {
    std::string key;
    key.reserve(node.size() + 1 + id.size());
    key.append(node).append(1, '\n').append(id);
    return key;
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

} // namespace cairn::registry
