#include "dns/forward/gateway.hpp"

#include <exception>

#include "dns/forward/cache.hpp"
#include "dns/forward/forwarder.hpp"
#include "dns/forward/reply.hpp"

namespace cairn::dns::forward {

std::size_t Gateway::resolve(const Query& query, std::span<const std::uint8_t> packet,
                             const Client& client, std::span<std::uint8_t> out,
                             std::size_t limit) noexcept {
    auto now = Clock::now();
    bool down = forwarder_.all_down();
    if (cache_ != nullptr) {
        CacheAnswer a = cache_->lookup(query, packet, now, out, limit);
        if (a.status == CacheStatus::hit && a.size > 0) {
            if (a.prefetch) submit(query, packet, limit, nullptr);
            return a.size;
        }
        if (down && a.status == CacheStatus::stale) {
            a = cache_->lookup_stale(query, packet, now, out, limit);
            if (a.size > 0) return a.size;
        }
    }
    std::unique_ptr<PendingAnswer> pending;
    if (!down && client.deferrer != nullptr) pending = client.deferrer->defer();
    if (!pending) {
        forwarder_.count_servfail_at_once();
        return write_client_error(rcode::servfail, query, packet, out);
    }
    submit(query, packet, limit, std::move(pending));
    return Responder::deferred;
}

void Gateway::submit(const Query& query, std::span<const std::uint8_t> packet, std::size_t limit,
                     std::unique_ptr<PendingAnswer> pending) noexcept {
    try {
        Forwarder::Request r;
        r.query = query;
        std::size_t head = std::min(packet.size(), header_size + query.question_size);
        r.packet.assign(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(head));
        r.limit = limit;
        r.pending = std::move(pending);
        forwarder_.submit(std::move(r));
    } catch (const std::exception&) {
        // No memory: the pending answer, destroyed here, sends nothing.
    }
}

} // namespace cairn::dns::forward
