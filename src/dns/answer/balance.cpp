#include "dns/answer/balance.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include <netinet/in.h>

#include "dns/wire/query.hpp"

namespace cairn::dns {

namespace {

std::uint64_t rotl(std::uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// FNV-1a, continued from `h`.
std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    for (std::size_t i = 0; i < size; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

constexpr std::uint64_t fnv_basis = 0xcbf29ce484222325ULL;

// (0, 1] from 53 random bits.
double to_unit(std::uint64_t bits) {
    return static_cast<double>((bits >> 11) + 1) * 0x1.0p-53;
}

void truncate_to_prefix(ClientKey& key, std::uint8_t bits) {
    key.prefix_bits = bits;
    for (std::size_t i = 0; i < key.bytes.size(); ++i) {
        std::size_t first_bit = i * 8;
        if (first_bit >= bits)
            key.bytes[i] = 0;
        else if (first_bit + 8 > bits)
            key.bytes[i] &= static_cast<std::uint8_t>(0xff00u >> (bits - first_bit));
    }
}

} // namespace

ClientKey client_key(const sockaddr* peer, const ClientSubnet* ecs) noexcept {
    ClientKey key;
    if (ecs && (ecs->family == 1 || ecs->family == 2)) {
        key.family = ecs->family == 1 ? 4 : 6;
        std::memcpy(key.bytes.data(), ecs->address.data(), key.family == 4 ? 4 : 16);
        std::uint8_t cap = key.family == 4 ? max_ecs_prefix_v4 : max_ecs_prefix_v6;
        truncate_to_prefix(key, std::min(ecs->source_prefix, cap));
        return key;
    }
    if (peer && peer->sa_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(peer);
        key.family = 4;
        key.prefix_bits = 32;
        std::memcpy(key.bytes.data(), &v4->sin_addr, 4);
    } else if (peer && peer->sa_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(peer);
        key.family = 6;
        key.prefix_bits = 128;
        std::memcpy(key.bytes.data(), &v6->sin6_addr, 16);
    }
    return key;
}

Random::Random(std::uint64_t seed) noexcept {
    for (auto& word : s_) word = splitmix64(seed);
}

std::uint64_t Random::next() noexcept {
    std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

std::uint64_t Random::below(std::uint64_t n) noexcept {
    // Multiply-shift on 32 bits (Lemire); the bias for n in the thousands is
    // below 1e-6, far under what load balancing can notice.
    if (n <= 0xffffffffULL) return ((next() >> 32) * n) >> 32;
    return next() % n;
}

double Random::unit() noexcept {
    return to_unit(next());
}

namespace {

std::uint64_t client_hash(const ClientKey& client) {
    std::uint64_t c = fnv1a(fnv_basis, &client.family, 1);
    c = fnv1a(c, &client.prefix_bits, 1);
    c = fnv1a(c, client.bytes.data(), client.family == 4 ? 4 : client.bytes.size());
    return mix(c);
}

// The rendezvous key of an endpoint whose hash with the client is `h`,
// smallest first: -ln(u)/w (weighted rendezvous, Schindelhauer and
// Schomaker); with equal weights that order is descending u, so no log.
double rendezvous_key(std::uint64_t h, std::uint32_t weight, bool equal_weights) {
    if (equal_weights) return static_cast<double>((~h) >> 11);
    return -std::log(to_unit(h)) / std::max<std::uint32_t>(weight, 1);
}

} // namespace

std::uint64_t affinity_hash(const registry::Endpoint& endpoint, const ClientKey& client) noexcept {
    return mix(endpoint.identity ^ client_hash(client));
}

bool Balancer::IndexMap::reset(std::size_t max_entries) noexcept {
    // At most a quarter full, so that probe runs stay short.
    std::size_t size = std::bit_ceil(std::max<std::size_t>(4 * max_entries, 16));
    if (slots_.size() < size) {
        try {
            slots_.resize(size);
        } catch (...) {
            return false;
        }
    }
    if (++stamp_ == 0) { // wrapped: slots of 2^32 resets ago would look current
        std::fill(slots_.begin(), slots_.end(), Slot{});
        stamp_ = 1;
    }
    mask_ = size - 1;
    shift_ = 64 - std::countr_zero(size);
    return true;
}

std::size_t Balancer::IndexMap::find(std::uint32_t key) const noexcept {
    // Fibonacci hashing: one multiply, and the keys (indexes, often
    // consecutive) spread over the table.
    auto i = static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_);
    while (slots_[i].stamp == stamp_ && slots_[i].key != key) i = (i + 1) & mask_;
    return i;
}

std::uint32_t Balancer::IndexMap::get(std::uint32_t key) const noexcept {
    const Slot& slot = slots_[find(key)];
    return slot.stamp == stamp_ ? slot.value : key;
}

bool Balancer::IndexMap::contains(std::uint32_t key) const noexcept {
    return slots_[find(key)].stamp == stamp_;
}

void Balancer::IndexMap::set(std::uint32_t key, std::uint32_t value) noexcept {
    slots_[find(key)] = {stamp_, key, value};
}

bool Balancer::IndexMap::insert(std::uint32_t key) noexcept {
    Slot& slot = slots_[find(key)];
    if (slot.stamp == stamp_) return false;
    slot = {stamp_, key, key};
    return true;
}

bool Balancer::start(registry::Policy policy, std::span<const registry::Endpoint> group,
                     const registry::EndpointPool& pool, std::size_t want,
                     std::uint32_t rotation_value, const ClientKey& client) noexcept {
    policy_ = policy == registry::Policy::unset ? registry::Policy::random : policy;
    // Equal weights: weighted is uniform. Nothing measured: fastest is random.
    if ((policy_ == registry::Policy::weighted && pool.cumulative.empty()) ||
        (policy_ == registry::Policy::fastest && pool.measured == 0) ||
        (policy_ == registry::Policy::least_loaded && pool.loaded == 0))
        policy_ = registry::Policy::random;
    group_ = group;
    pool_ = &pool;
    want_ = std::min(want, pool.size());
    taken_ = 0;
    rotation_ = rotation_value;
    chosen_weight_ = 0;
    keyed_mode_ = false;
    sampled_mode_ = policy_ == registry::Policy::random && pool.size() >= 4 * want_;
    equal_weights_ = pool.cumulative.empty();
    ring_mode_ = policy_ == registry::Policy::affinity && !pool.ring.empty();
    // The ring walk marks every instance of the windows it ranked.
    if (!map_.reset(want_ + (ring_mode_ ? registry::affinity_window : 0))) {
        want_ = 0;
        return false;
    }
    auto n = static_cast<std::uint32_t>(pool.size());
    bool ok = true;
    if (ring_mode_) {
        client_hash_ = client_hash(client);
        auto start = static_cast<std::uint32_t>(client_hash_ >> 32);
        ring_at_ =
            static_cast<std::size_t>(std::lower_bound(pool.ring.begin(), pool.ring.end(), start,
                                                      [](const registry::RingPoint& p,
                                                         std::uint32_t v) { return p.point < v; }) -
                                     pool.ring.begin());
        if (ring_at_ == pool.ring.size()) ring_at_ = 0;
        ring_steps_ = 0;
        ok = next_window();
    } else if (policy_ == registry::Policy::affinity) {
        client_hash_ = client_hash(client);
        ok = order_by_key(n, true);
    } else if (policy_ == registry::Policy::least_loaded) {
        first_loaded_ = want_ > 0 ? least_loaded_first() : 0;
    } else if (policy_ == registry::Policy::weighted && n <= 4 * want_) {
        // Few instances for the answer: keys for all of them cost less than
        // drawing again after repeats.
        ok = order_by_key(n, false);
    } else if (policy_ == registry::Policy::weighted) {
        for (auto& r : ahead_) r = prefetched(random_.next());
        ahead_at_ = 0;
    }
    if (!ok) want_ = 0;
    return ok;
}

// One step of a partial Fisher-Yates shuffle of the indexes [0, end) whose
// first taken_ places are settled: the element that lands at place taken_
// after swapping it with a random later one. Only swapped places are stored
// (map_), so a shuffle of k out of n costs k, not n.
std::uint32_t Balancer::shuffled(std::uint32_t end) noexcept {
    auto i = static_cast<std::uint32_t>(taken_);
    auto j = static_cast<std::uint32_t>(i + random_.below(end - i));
    std::uint32_t at_j = map_.get(j);
    map_.set(j, map_.get(i));
    return at_j;
}

// The alias column that the draw `r` picks (its high half; the low half is
// the coin).
std::uint32_t Balancer::column_of(std::uint64_t r) const noexcept {
    auto n = static_cast<std::uint64_t>(pool_->alias.size());
    return static_cast<std::uint32_t>(((r >> 32) * n) >> 32);
}

// Starts loading the column `r` will read, so that it is in cache when
// next_weighted() gets to it `lookahead` draws later: the table of a large
// pool is mostly out of cache, and one miss per pick in a row cost more
// than the rest of the answer (profiled at 20,000 instances).
std::uint64_t Balancer::prefetched(std::uint64_t r) const noexcept {
    __builtin_prefetch(&pool_->alias[column_of(r)]);
    return r;
}

// The oldest draw made ahead, replaced by a new one. The draws are used in
// the order they were made, so each is as independent of the others as
// before; drawing ahead changes when a draw is made, not what it is.
std::uint64_t Balancer::draw_ahead() noexcept {
    std::uint64_t r = ahead_[ahead_at_];
    ahead_[ahead_at_] = prefetched(random_.next());
    ahead_at_ = ahead_at_ + 1 == lookahead ? 0 : ahead_at_ + 1;
    return r;
}

// A uniform draw among the indexes [0, end) not taken yet, drawing again on
// a repeat: the same distribution as the shuffle, for one table probe per
// pick instead of three. With end at least four times the answer, a draw
// repeats with probability under 1/4, so 64 repeats in a row (then the next
// index not taken, which exists while taken_ < end) are as good as never.
std::uint32_t Balancer::sampled(std::uint32_t end) noexcept {
    auto i = static_cast<std::uint32_t>(random_.below(end));
    for (int attempt = 0; attempt < 64; ++attempt) {
        if (map_.insert(i)) return i;
        i = static_cast<std::uint32_t>(random_.below(end));
    }
    while (!map_.insert(i)) i = i + 1 == end ? 0 : i + 1;
    return i;
}

// Weighted sampling without replacement by drawing from the alias table
// and drawing again on a repeat: each pick is then i with
// probability w_i / (the weight not yet chosen), as Efraimidis-Spirakis
// gives. When repeats become likely (chosen weight past half, or 16 draws
// in a row) the rest is ordered by keys instead.
std::uint32_t Balancer::next_weighted() noexcept {
    const auto& cumulative = pool_->cumulative;
    std::uint64_t total = pool_->total_weight();
    if (2 * chosen_weight_ <= total) {
        const auto& alias = pool_->alias;
        for (int attempt = 0; attempt < 16; ++attempt) {
            std::uint64_t r = draw_ahead();
            std::uint32_t column = column_of(r);
            const registry::AliasColumn& c = alias[column];
            bool kept = static_cast<std::uint32_t>(r) < c.keep;
            std::uint32_t i = kept ? column : c.alias;
            if (!map_.insert(i)) continue;
            chosen_weight_ += kept ? c.weight : c.alias_weight;
            return i;
        }
    }
    // What is left, by key; next() reads keyed_ from here on.
    auto n = static_cast<std::uint32_t>(pool_->size());
    std::size_t left = want_ - taken_;
    keyed_.clear();
    try {
        keyed_.reserve(n);
    } catch (...) {
        return UINT32_MAX;
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        if (map_.contains(i)) continue;
        double w = static_cast<double>(cumulative[i] - (i == 0 ? 0 : cumulative[i - 1]));
        keyed_.emplace_back(-std::log(random_.unit()) / w, i);
    }
    auto middle = keyed_.begin() + static_cast<std::ptrdiff_t>(std::min(left, keyed_.size()));
    std::partial_sort(keyed_.begin(), middle, keyed_.end(),
                      [](const auto& a, const auto& b) { return a.first < b.first; });
    keyed_mode_ = true;
    keyed_base_ = taken_;
    return keyed_.empty() ? UINT32_MAX : keyed_[0].second;
}

// Orders the pool's `count` indexes by key and keeps the smallest want_:
// affinity's rendezvous hash, or Efraimidis-Spirakis keys for weighted.
bool Balancer::order_by_key(std::uint32_t count, bool affinity) noexcept {
    keyed_.clear();
    try {
        keyed_.reserve(count);
    } catch (...) {
        return false;
    }
    for (std::uint32_t i = 0; i < count; ++i) {
        const registry::Endpoint& e = group_[pool_->position(i)];
        if (affinity) {
            keyed_.emplace_back(
                rendezvous_key(mix(e.identity ^ client_hash_), e.weight, equal_weights_), i);
        } else {
            double w = std::max<std::uint32_t>(e.weight, 1);
            keyed_.emplace_back(-std::log(random_.unit()) / w, i);
        }
    }
    auto middle = keyed_.begin() + static_cast<std::ptrdiff_t>(want_);
    auto less = [](const auto& a, const auto& b) {
        return a.first < b.first || (a.first == b.first && a.second < b.second);
    };
    std::partial_sort(keyed_.begin(), middle, keyed_.end(), less);
    keyed_mode_ = true;
    keyed_base_ = 0;
    return true;
}

// affinity on a large pool: ranks the next window, the next
// affinity_window instances on the ring (from the client's place on it) not
// ranked yet, by rendezvous key; next() reads keyed_ from here on. The key
// hashes the ring point the walk met the instance at, so that nothing but
// the ring (and, with unequal weights, the cumulative weights) is read. False when the whole ring
// has been walked.
bool Balancer::next_window() noexcept {
    const auto& ring = pool_->ring;
    keyed_.clear();
    try {
        keyed_.reserve(registry::affinity_window);
    } catch (...) {
        return false;
    }
    while (keyed_.size() < registry::affinity_window && ring_steps_ < ring.size()) {
        const registry::RingPoint& p = ring[ring_at_];
        ring_at_ = ring_at_ + 1 == ring.size() ? 0 : ring_at_ + 1;
        ++ring_steps_;
        if (!map_.insert(p.index)) continue;
        std::uint32_t weight = 1;
        if (!equal_weights_) {
            const auto& cumulative = pool_->cumulative;
            weight = static_cast<std::uint32_t>(cumulative[p.index] -
                                                (p.index == 0 ? 0 : cumulative[p.index - 1]));
        }
        keyed_.emplace_back(rendezvous_key(mix(p.point ^ client_hash_), weight, equal_weights_),
                            p.index);
    }
    std::size_t left = std::min(want_ - taken_, keyed_.size());
    auto less = [](const auto& a, const auto& b) {
        return a.first < b.first || (a.first == b.first && a.second < b.second);
    };
    if (2 * left >= keyed_.size()) // most of it: a plain sort is cheaper than a heap
        std::sort(keyed_.begin(), keyed_.end(), less);
    else
        std::partial_sort(keyed_.begin(), keyed_.begin() + static_cast<std::ptrdiff_t>(left),
                          keyed_.end(), less);
    keyed_mode_ = true;
    keyed_base_ = taken_;
    return !keyed_.empty();
}

// least_loaded's first pick, as a place in the pool's load order: the
// endpoint of least reported load plus recent answers. Walks the distinct
// loads from the lowest, taking at each the better (fewer recent answers)
// of two random endpoints of that load, and stops at a load that cannot
// beat the best found (the recent answers only add) or after
// max_load_levels. A lone client thus gets the lowest load; a burst fills
// up the lowest loads one answer at a time, then spreads over the next.
std::uint32_t Balancer::least_loaded_first() noexcept {
    const auto& levels = pool_->load_levels;
    const auto& recent = pool_->recent;
    std::uint32_t best = 0;
    std::uint64_t best_load = UINT64_MAX;
    std::size_t count = std::min(levels.size() - 1, max_load_levels);
    for (std::size_t level = 0; level < count; ++level) {
        std::uint32_t begin = levels[level].start;
        std::uint32_t size = levels[level + 1].start - begin;
        std::uint64_t load = levels[level].load;
        if (load >= best_load) break;
        auto a = static_cast<std::uint32_t>(begin + random_.below(size));
        std::uint32_t answers = recent[a].estimate(now_ms_);
        if (size > 1) {
            auto b = static_cast<std::uint32_t>(begin + random_.below(size - 1));
            if (b >= a) ++b;
            std::uint32_t answers_b = recent[b].estimate(now_ms_);
            if (answers_b < answers) {
                a = b;
                answers = answers_b;
            }
        }
        if (load + answers < best_load) {
            best = a;
            best_load = load + answers;
        }
    }
    return best;
}

void Balancer::count_first() noexcept {
    if (policy_ == registry::Policy::least_loaded && pool_ && first_loaded_ < pool_->recent.size())
        pool_->recent[first_loaded_].add(now_ms_);
}

// least_loaded after the first pick: the load order without it, then the
// endpoints without a load in random order.
std::uint32_t Balancer::next_least_loaded(std::uint32_t n) noexcept {
    const auto& order = pool_->by_load;
    auto t = static_cast<std::uint32_t>(taken_);
    if (t == 0) return order[first_loaded_];
    if (t < pool_->loaded) return order[t - 1 < first_loaded_ ? t - 1 : t];
    return order[shuffled(n)];
}

const registry::Endpoint* Balancer::next() noexcept {
    if (taken_ >= want_) return nullptr;
    auto n = static_cast<std::uint32_t>(pool_->size());
    std::uint32_t index = 0;
    if (keyed_mode_) {
        std::size_t k = taken_ - keyed_base_;
        if (k >= keyed_.size()) {
            if (!ring_mode_ || !next_window()) return nullptr;
            k = 0;
        }
        index = keyed_[k].second;
    } else {
        switch (policy_) {
        case registry::Policy::round_robin:
            index = static_cast<std::uint32_t>((rotation_ % n + taken_) % n);
            break;
        case registry::Policy::weighted:
            index = next_weighted();
            if (index == UINT32_MAX) return nullptr;
            break;
        case registry::Policy::least_loaded:
            index = next_least_loaded(n);
            break;
        case registry::Policy::fastest:
            if (taken_ < pool_->measured)
                index = pool_->by_latency[taken_];
            else // the unmeasured, in random order
                index = pool_->by_latency[shuffled(n)];
            break;
        default:
            index = sampled_mode_ ? sampled(n) : shuffled(n);
            break;
        }
    }
    ++taken_;
    return &group_[pool_->position(index)];
}

} // namespace cairn::dns
