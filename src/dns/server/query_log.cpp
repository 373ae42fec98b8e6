#include "dns/server/query_log.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "core/log.hpp"
#include "core/net.hpp"
#include "core/rate_limit.hpp"
#include "dns/wire/query.hpp"
#include "dns/wire/wire.hpp"

namespace cairn::dns {

namespace {

std::atomic<bool> enabled{false};

struct Limiter {
    std::mutex mutex;
    std::optional<TokenBucket> bucket;
    std::uint64_t suppressed = 0;
    std::uint64_t reported_ns = 0; // when the last suppressed line went out
};

Limiter& limiter() {
    static Limiter l;
    return l;
}

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

// RFC 3597's TYPEnnn unless it is one of the common ones.
std::string type_text(std::uint16_t type) {
    switch (type) {
    case 1:
        return "A";
    case 2:
        return "NS";
    case 5:
        return "CNAME";
    case 6:
        return "SOA";
    case 12:
        return "PTR";
    case 15:
        return "MX";
    case 16:
        return "TXT";
    case 28:
        return "AAAA";
    case 33:
        return "SRV";
    case 65:
        return "HTTPS";
    case 255:
        return "ANY";
    default:
        return "TYPE" + std::to_string(type);
    }
}

// Whether this line may be written; writes the suppressed count first when
// it is due.
bool admit() {
    Limiter& l = limiter();
    std::lock_guard lock(l.mutex);
    if (!l.bucket) return false;
    std::uint64_t now = now_ns();
    bool take = l.bucket->take(now);
    if (l.suppressed > 0 && (take || now - l.reported_ns >= 1'000'000'000)) {
        log::info("dns.query.suppressed", {{"count", l.suppressed}});
        l.suppressed = 0;
        l.reported_ns = now;
    }
    if (!take) ++l.suppressed;
    return take;
}

} // namespace

void set_query_log(bool on, std::uint32_t per_second) {
    Limiter& l = limiter();
    {
        std::lock_guard lock(l.mutex);
        l.bucket.reset();
        if (on) l.bucket.emplace(per_second, per_second, now_ns());
    }
    enabled.store(on, std::memory_order_relaxed);
}

bool query_log_on() noexcept {
    return enabled.load(std::memory_order_relaxed);
}

void log_query(const sockaddr* client, Transport transport, std::span<const std::uint8_t> query,
               std::span<const std::uint8_t> answer) {
    if (!admit()) return;
    Query q;
    bool parsed = parse_query(query, q).has_value();
    std::string name = parsed ? name_to_text(q.qname.name()) : std::string("-");
    unsigned rcode = answer.size() >= 4 ? answer[3] & 0x0f : 0;
    unsigned answers = answer.size() >= 8 ? (answer[6] << 8) | answer[7] : 0;
    bool tc = answer.size() >= 3 && (answer[2] & 0x02) != 0;
    log::info("dns.query", {{"client", SocketAddress::from(client).to_string()},
                            {"transport", transport == Transport::tcp ? "tcp" : "udp"},
                            {"qname", name},
                            {"qtype", type_text(q.qtype)},
                            {"rcode", rcode},
                            {"answers", answers},
                            {"size", answer.size()},
                            {"tc", tc}});
}

} // namespace cairn::dns
