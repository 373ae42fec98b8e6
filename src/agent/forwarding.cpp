#include "agent/forwarding.hpp"

#include <fstream>
#include <sstream>

#include "core/log.hpp"
#include "dns/forward/access.hpp"
#include "dns/forward/cache.hpp"
#include "dns/forward/cache_metrics.hpp"
#include "dns/forward/forwarder.hpp"
#include "dns/forward/gateway.hpp"
#include "dns/forward/metrics.hpp"
#include "dns/forward/reply.hpp"
#include "dns/forward/resolv_conf.hpp"

namespace cairn::agent {

namespace fwd = dns::forward;

namespace {

std::vector<SocketAddress> upstreams_of(const config::Config& config,
                                        const std::string& resolv_conf_path) {
    std::vector<SocketAddress> found;
    if (!config.dns.forward.upstreams.empty()) {
        for (const auto& text : config.dns.forward.upstreams)
            if (auto a = parse_socket_address(text, 53)) found.push_back(*a); // validated by config
    } else {
        std::ifstream in(resolv_conf_path);
        std::stringstream text;
        text << in.rdbuf();
        found = fwd::resolv_conf_nameservers(text.str());
        log::info("dns.forward.resolv_conf",
                  {{"path", resolv_conf_path}, {"nameservers", found.size()}});
    }
    std::vector<SocketAddress> kept;
    for (const auto& a : found) {
        if (fwd::is_own_address(a, config.dns.listen)) {
            log::warn("dns.forward.upstream_skipped",
                      {{"upstream", a.to_string()}, {"reason", "one of cairn's own addresses"}});
            continue;
        }
        kept.push_back(a);
    }
    return kept;
}

} // namespace

Result<std::unique_ptr<Forwarding>> Forwarding::make(const config::Config& config,
                                                     const std::string& resolv_conf_path) {
    const config::ForwardConfig& c = config.dns.forward;
    if (c.allow.empty()) {
        log::info("dns.forward.off", {{"reason", "allow is empty"}});
        return nullptr;
    }
    auto allow = fwd::AccessList::parse(c.allow);
    if (!allow) return fail("dns.forward.{}", allow.error().message);
    auto policy = fwd::parse_policy(c.policy);
    if (!policy) return fail("dns.forward.policy: {}", policy.error().message);
    fwd::ForwarderSettings settings;
    settings.upstreams = upstreams_of(config, resolv_conf_path);
    if (settings.upstreams.empty()) {
        log::warn("dns.forward.off", {{"reason", "no upstream"}});
        return nullptr;
    }
    settings.policy = *policy;
    settings.total_timeout = c.timeout;
    settings.health.probe_interval = c.probe_interval;
    settings.health.max_rto = std::min(settings.health.max_rto, c.timeout);

    std::unique_ptr<Forwarding> f(new Forwarding);
    if (c.cache_size > 0) {
        fwd::CacheSettings cs;
        cs.max_bytes = c.cache_size;
        cs.stale_limit_s = static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::seconds>(c.serve_stale).count());
        cs.udp_payload = fwd::edns_payload;
        if (auto domain = dns::name_from_text(config.domain)) cs.own_domain = *domain;
        f->cache_ = std::make_unique<fwd::Cache>(cs);
    }
    f->forwarder_ = std::make_unique<fwd::Forwarder>(std::move(settings), f->cache_.get());
    f->gateway_ =
        std::make_unique<fwd::Gateway>(std::move(*allow), f->cache_.get(), *f->forwarder_);
    return f;
}

Forwarding::~Forwarding() {
    stop();
}

Result<void> Forwarding::start() {
    return forwarder_->start();
}

void Forwarding::stop() {
    if (forwarder_) forwarder_->stop();
}

dns::Recursion& Forwarding::recursion() {
    return *gateway_;
}

std::string Forwarding::metrics() const {
    std::string text = fwd::format_metrics(forwarder_->stats());
    if (cache_) text += fwd::format_cache_metrics(cache_->stats());
    return text;
}

} // namespace cairn::agent
