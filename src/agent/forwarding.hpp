#pragma once
// Forwarding as the agent wires it ([dns.forward], docs/forwarding.md): the
// upstreams (from config, or /etc/resolv.conf's nameservers, without
// cairn's own listen addresses), the cache, the Forwarder and the Gateway
// the Catalog calls for outside names. Built, started and stopped on the
// main thread.

#include <memory>
#include <string>

#include "config/config.hpp"
#include "core/result.hpp"
#include "dns/recursion.hpp"

namespace cairn::dns::forward {
class Cache;
class Forwarder;
class Gateway;
} // namespace cairn::dns::forward

namespace cairn::agent {

class Forwarding {
public:
    // Null when the agent does not forward: `allow` is empty, or no upstream
    // is left (both logged). An error for a value that cannot be used.
    static Result<std::unique_ptr<Forwarding>> make(const config::Config& config,
                                                    const std::string& resolv_conf_path);
    ~Forwarding();
    Forwarding(const Forwarding&) = delete;
    Forwarding& operator=(const Forwarding&) = delete;

    Result<void> start();
    // Clients still waiting get SERVFAIL. Call after the DNS server stopped.
    void stop();

    [[nodiscard]] dns::Recursion& recursion();
    [[nodiscard]] dns::forward::Cache* cache() { return cache_.get(); }
    // The forwarder's counters for /metrics.
    [[nodiscard]] std::string metrics() const;

private:
    Forwarding() = default;

    std::unique_ptr<dns::forward::Cache> cache_;
    std::unique_ptr<dns::forward::Forwarder> forwarder_;
    std::unique_ptr<dns::forward::Gateway> gateway_;
};

} // namespace cairn::agent
