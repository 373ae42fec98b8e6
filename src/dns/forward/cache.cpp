#include "dns/forward/cache.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dns/forward/cached_message.hpp"

namespace cairn::dns::forward {
namespace {

// Bytes counted for an entry beyond its message and key: the list node, the
// index node and the bookkeeping vectors' headers, roughly.
constexpr std::size_t entry_overhead = 128;

// The key: lower-case name in wire form, then type, class and the DO bit. A
// name is self-delimiting, so the bytes compare as the tuple does.
struct KeyBuffer {
    std::array<char, max_name_size + 5> bytes{};
    std::size_t size = 0;

    [[nodiscard]] std::string_view view() const { return {bytes.data(), size}; }
};

KeyBuffer make_key(const Query& query) {
    KeyBuffer key;
    std::memcpy(key.bytes.data(), query.qname.bytes.data(), query.qname.size);
    auto* p = reinterpret_cast<std::uint8_t*>(key.bytes.data()) + query.qname.size;
    put_u16(p, query.qtype);
    put_u16(p + 2, query.qclass);
    p[4] = query.dnssec_ok ? 1 : 0;
    key.size = query.qname.size + 5;
    return key;
}

std::string_view name_view(WireName name) {
    return {reinterpret_cast<const char*>(name.data()), name.size()};
}

struct Entry {
    std::string key;
    CachedMessage message;
    Clock::time_point stored;
    Clock::time_point expires;
    std::size_t cost = 0;
    std::uint32_t hits = 0;
    bool prefetched = false;
};

} // namespace

struct alignas(64) Cache::Shard {
    mutable std::mutex mutex;
    std::list<Entry> lru; // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index; // views into lru keys
    std::size_t bytes = 0;
    CacheStats counters;

    // Moves `it` out into `garbage` (freed by the caller after unlocking).
    void remove(std::list<Entry>::iterator it, std::list<Entry>& garbage) {
        index.erase(std::string_view(it->key));
        bytes -= it->cost;
        garbage.splice(garbage.end(), lru, it);
    }
};

Cache::Cache(const CacheSettings& settings)
    : settings_(settings) {
    std::size_t shards = std::bit_ceil(std::max<std::size_t>(settings.shards, 1));
    settings_.shards = shards;
    shard_mask_ = shards - 1;
    shard_bytes_ = settings.max_bytes / shards;
    shards_ = std::make_unique<Shard[]>(shards);
}

Cache::~Cache() = default;

Cache::Shard& Cache::shard_for(WireName lower_name) const noexcept {
    std::size_t hash = std::hash<std::string_view>{}(name_view(lower_name));
    return shards_[(hash >> 7) & shard_mask_];
}

CacheAnswer Cache::lookup(const Query& query, std::span<const std::uint8_t> packet,
                          Clock::time_point now, std::span<std::uint8_t> out,
                          std::size_t limit) noexcept {
    return find(query, packet, now, out, limit, false);
}

CacheAnswer Cache::lookup_stale(const Query& query, std::span<const std::uint8_t> packet,
                                Clock::time_point now, std::span<std::uint8_t> out,
                                std::size_t limit) noexcept {
    return find(query, packet, now, out, limit, true);
}

CacheAnswer Cache::find(const Query& query, std::span<const std::uint8_t> packet,
                        Clock::time_point now, std::span<std::uint8_t> out, std::size_t limit,
                        bool allow_stale) noexcept {
    KeyBuffer key = make_key(query);
    Shard& shard = shard_for(query.qname.name());
    std::list<Entry> garbage; // empty unless an entry is dropped; freed after the lock
    std::unique_lock lock(shard.mutex);
    auto found = shard.index.find(key.view());
    if (found == shard.index.end()) {
        ++shard.counters.misses;
        return {};
    }
    auto it = found->second;
    Entry& entry = *it;
    auto age = std::max(now - entry.stored, Clock::duration::zero());
    CacheAnswer answer;
    if (now < entry.expires) {
        ServeAs as{
            static_cast<std::uint32_t>(std::chrono::floor<std::chrono::seconds>(age).count()), 0,
            settings_.udp_payload};
        answer.size = serve_cached(entry.message, query, packet, as, out, limit);
        if (answer.size == 0) return {};
        answer.status = CacheStatus::hit;
        ++entry.hits;
        ++shard.counters.hits;
        shard.lru.splice(shard.lru.begin(), shard.lru, it);
        // Popular and in the last tenth of its life: ask for a refresh, once.
        auto left = entry.expires - now;
        if (!entry.prefetched && entry.hits >= settings_.prefetch_hits &&
            left * 10 < entry.expires - entry.stored) {
            entry.prefetched = true;
            answer.prefetch = true;
            ++shard.counters.prefetches;
        }
        return answer;
    }
    if (now - entry.expires < std::chrono::seconds(settings_.stale_limit_s)) {
        answer.status = CacheStatus::stale;
        if (!allow_stale) {
            ++shard.counters.misses;
            return answer;
        }
        ServeAs as{0, settings_.stale_ttl_s, settings_.udp_payload};
        answer.size = serve_cached(entry.message, query, packet, as, out, limit);
        if (answer.size == 0) return {};
        ++shard.counters.stale_served;
        shard.lru.splice(shard.lru.begin(), shard.lru, it);
        return answer;
    }
    shard.remove(it, garbage); // past the stale window: gone for good
    ++shard.counters.misses;
    lock.unlock();
    return {};
}

bool Cache::store(const Query& query, std::span<const std::uint8_t> response,
                  Clock::time_point now) {
    if (shard_bytes_ == 0) return false;
    if (settings_.own_domain.size > 0 &&
        is_subdomain(query.qname.name(), settings_.own_domain.name())) {
        return false;
    }
    auto message = prepare_for_cache(query, response, settings_);
    if (!message) return false;

    // Built outside the lock: the allocations happen here, not while other
    // workers wait for the shard.
    std::list<Entry> fresh;
    Entry& entry = fresh.emplace_back();
    entry.key = std::string(make_key(query).view());
    entry.message = std::move(*message);
    entry.stored = now;
    entry.expires = now + std::chrono::seconds(entry.message.lifetime_s);
    entry.cost = entry_overhead + 2 * entry.key.size() + entry.message.wire.size() +
                 entry.message.ttls.size() * (sizeof(std::uint32_t) + sizeof(std::uint16_t));
    if (entry.cost > shard_bytes_) return false;

    Shard& shard = shard_for(query.qname.name());
    std::list<Entry> garbage;
    std::lock_guard lock(shard.mutex);
    if (auto old = shard.index.find(std::string_view(entry.key)); old != shard.index.end()) {
        shard.remove(old->second, garbage);
    }
    shard.lru.splice(shard.lru.begin(), fresh);
    shard.index.emplace(std::string_view(shard.lru.front().key), shard.lru.begin());
    shard.bytes += shard.lru.front().cost;
    ++shard.counters.stored;
    while (shard.bytes > shard_bytes_) {
        shard.remove(std::prev(shard.lru.end()), garbage);
        ++shard.counters.evicted;
    }
    return true;
}

std::size_t Cache::flush() noexcept {
    std::size_t removed = 0;
    for (std::size_t i = 0; i <= shard_mask_; ++i) {
        std::list<Entry> garbage;
        std::lock_guard lock(shards_[i].mutex);
        removed += shards_[i].lru.size();
        shards_[i].index.clear();
        garbage.splice(garbage.end(), shards_[i].lru);
        shards_[i].bytes = 0;
    }
    return removed;
}

std::size_t Cache::flush(WireName name) noexcept {
    NameBuffer lower;
    lower.size = static_cast<std::uint8_t>(std::min(name.size(), max_name_size));
    std::transform(name.begin(), name.begin() + lower.size, lower.bytes.begin(), ascii_lower);
    std::string_view prefix = name_view(lower.name());
    Shard& shard = shard_for(lower.name());
    std::list<Entry> garbage;
    std::lock_guard lock(shard.mutex);
    std::size_t removed = 0;
    for (auto it = shard.lru.begin(); it != shard.lru.end();) {
        auto next = std::next(it);
        if (it->key.size() == prefix.size() + 5 && it->key.starts_with(prefix)) {
            shard.remove(it, garbage);
            ++removed;
        }
        it = next;
    }
    return removed;
}

CacheStats Cache::stats() const noexcept {
    CacheStats total;
    for (std::size_t i = 0; i <= shard_mask_; ++i) {
        std::lock_guard lock(shards_[i].mutex);
        const auto& c = shards_[i].counters;
        total.entries += shards_[i].lru.size();
        total.bytes += shards_[i].bytes;
        total.hits += c.hits;
        total.misses += c.misses;
        total.stale_served += c.stale_served;
        total.stored += c.stored;
        total.evicted += c.evicted;
        total.prefetches += c.prefetches;
    }
    return total;
}

} // namespace cairn::dns::forward
