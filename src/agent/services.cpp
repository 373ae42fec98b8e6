#include "agent/services.hpp"

#include <algorithm>
#include <set>

namespace cairn::agent {

registry::Policy to_registry_policy(config::Policy p)
{
    switch (p) {
    case config::Policy::random: return registry::Policy::random;
    case config::Policy::round_robin: return registry::Policy::round_robin;
    case config::Policy::weighted: return registry::Policy::weighted;
    case config::Policy::affinity: return registry::Policy::affinity;
    case config::Policy::fastest: return registry::Policy::fastest;
    }
    return registry::Policy::unset;
}

registry::CheckDefinition to_check_definition(const config::CheckConfig& check)
{
    registry::CheckDefinition d;
    d.id = check.id;
    if (!check.http.empty()) {
        d.kind = registry::CheckKind::http;
        d.target = check.http;
    } else if (!check.tcp.empty()) {
        d.kind = registry::CheckKind::tcp;
        d.target = check.tcp;
    } else if (!check.args.empty()) {
        d.kind = registry::CheckKind::script;
        d.args = check.args;
    } else {
        d.kind = registry::CheckKind::ttl;
    }
    d.method = check.method;
    d.headers.assign(check.headers.begin(), check.headers.end());
    d.tls_skip_verify = check.tls_skip_verify;
    d.ttl_ms = static_cast<std::uint32_t>(check.ttl.count());
    d.interval_ms = static_cast<std::uint32_t>(check.interval.count());
    d.timeout_ms = static_cast<std::uint32_t>(check.timeout.count());
    d.success_before_passing = static_cast<std::uint32_t>(check.success_before_passing);
    d.failures_before_warning = static_cast<std::uint32_t>(check.failures_before_warning);
    d.failures_before_critical = static_cast<std::uint32_t>(check.failures_before_critical);
    d.deregister_critical_after_ms = static_cast<std::uint32_t>(check.deregister_critical_after.count());
    return d;
}


Result<registry::Instance> to_instance(const config::ServiceConfig& service, std::string_view node,
                                       const registry::Address& default_address)
{
    registry::Instance i;
    i.id = service.id.empty() ? service.name : service.id;
    i.service = service.name;
    i.node = std::string(node);
    if (service.address.empty()) {
        i.address = default_address;
    } else {
        auto a = parse_ip_address(service.address);
        if (!a)
            return fail("address: {}", a.error().message);
        i.address = *a;
    }
    i.port = service.port;
    i.tags = service.tags;
    i.meta.assign(service.meta.begin(), service.meta.end());
    i.weight = service.weight;
    if (!service.policy.empty()) {
        auto p = config::parse_policy(service.policy);
        if (!p)
            return fail("policy: {}", p.error().message);
        i.policy = to_registry_policy(*p);
    }
    i.ttl_ms = static_cast<std::uint32_t>(service.ttl.count());
    for (const config::CheckConfig& check : service.checks)
        i.checks.push_back({to_check_definition(check), {}});
    return i;
}

SyncPlan plan_sync(const std::vector<std::string>& registered_ids, std::vector<registry::Instance> wanted)
{
    SyncPlan plan;
    std::set<std::string, std::less<>> keep;
    for (const registry::Instance& i : wanted)
        keep.insert(i.id);
    for (const std::string& id : registered_ids)
        if (!keep.contains(id))
            plan.removals.push_back(id);
    plan.upserts = std::move(wanted);
    return plan;
}

} // namespace cairn::agent
