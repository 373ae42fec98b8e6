#include "dns/answer/answer_stats.hpp"

#include <string>

#include "core/metrics_text.hpp"
#include "registry/types.hpp"

namespace cairn::dns {

std::string_view qtype_slot_name(std::size_t slot) {
    constexpr std::array<std::string_view, qtype_slots> names{
        "A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "HTTPS", "ANY", "other"};
    return slot < names.size() ? names[slot] : "other";
}

std::string format_answer_metrics(const AnswerStats& s) {
    MetricsText m;
    m.family("cairn_dns_queries_by_type_total", "counter",
             "DNS queries with a question that parsed, by QTYPE (types not listed: other).");
    for (std::size_t i = 0; i < s.by_qtype.size(); ++i)
        m.sample("cairn_dns_queries_by_type_total", s.by_qtype[i], {{"qtype", qtype_slot_name(i)}});
    m.family("cairn_dns_answers_by_policy_total", "counter",
             "Service queries answered from the service's instances (A, AAAA, SRV, TXT, ANY), by "
             "the load-balancing policy that chose and ordered them.");
    for (std::size_t p = 1; p < s.by_policy.size(); ++p)
        m.sample("cairn_dns_answers_by_policy_total", s.by_policy[p],
                 {{"policy", registry::to_string(static_cast<registry::Policy>(p))}});
    return std::move(m).text();
}

} // namespace cairn::dns
