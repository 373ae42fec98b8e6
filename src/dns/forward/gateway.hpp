#pragma once
// The Recursion (src/dns/recursion.hpp) the agent gives the Catalog when it
// forwards: the access list, then the cache on the worker's own thread (a
// hit is answered at once, allocating nothing), then the Forwarder for a miss
// (the answer is deferred). When every upstream is known down the client gets
// the stale answer or SERVFAIL at once, without waiting.

#include "dns/forward/access.hpp"
#include "dns/recursion.hpp"

namespace cairn::dns::forward {

class Cache;
class Forwarder;

class Gateway final : public Recursion {
public:
    // `cache` may be null (no caching); both must outlive the Gateway.
    Gateway(AccessList allow, Cache* cache, Forwarder& forwarder)
        : allow_(std::move(allow))
        , cache_(cache)
        , forwarder_(forwarder) {}

    [[nodiscard]] bool offers(const Client& client) const noexcept override {
        return allow_.allows(client.address);
    }
    [[nodiscard]] std::size_t resolve(const Query& query, std::span<const std::uint8_t> packet,
                                      const Client& client, std::span<std::uint8_t> out,
                                      std::size_t limit) noexcept override;

private:
    // Sends `query` to the Forwarder; `pending` null: a prefetch.
    void submit(const Query& query, std::span<const std::uint8_t> packet, std::size_t limit,
                std::unique_ptr<PendingAnswer> pending) noexcept;

    AccessList allow_;
    Cache* cache_;
    Forwarder& forwarder_;
};

} // namespace cairn::dns::forward
