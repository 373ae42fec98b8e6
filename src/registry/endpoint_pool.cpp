#include "registry/endpoint_pool.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "registry/snapshot.hpp"

namespace cairn::registry {

std::uint32_t ring_point(std::uint64_t identity, std::uint32_t k) noexcept {
    // splitmix64's finaliser over the identity and the point number.
    std::uint64_t z = identity + (std::uint64_t{k} + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<std::uint32_t>((z ^ (z >> 31)) >> 32);
}

namespace {

void build_ring(EndpointPool& pool, std::span<const Endpoint> group,
                const std::vector<std::uint32_t>& positions) {
    if (pool.count <= affinity_whole) return;
    pool.ring.reserve(std::size_t{pool.count} * ring_points_per_endpoint);
    for (std::uint32_t i = 0; i < pool.count; ++i)
        for (std::uint32_t k = 0; k < ring_points_per_endpoint; ++k)
            pool.ring.push_back({ring_point(group[positions[i]].identity, k), i});
    // Ties by index, which follows (node, id): the same order on every agent.
    std::sort(pool.ring.begin(), pool.ring.end(), [](const RingPoint& a, const RingPoint& b) {
        return a.point < b.point || (a.point == b.point && a.index < b.index);
    });
}

// Vose's alias method, in integers: each weight scaled by n is measured
// against the total, so that every column holds exactly one total's worth.
void build_alias(EndpointPool& pool) {
    std::uint32_t n = pool.count;
    std::uint64_t total = pool.total_weight();
    std::vector<std::uint64_t> scaled(n);
    std::vector<std::uint32_t> small, large;
    pool.alias.resize(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        std::uint64_t w = pool.cumulative[i] - (i == 0 ? 0 : pool.cumulative[i - 1]);
        pool.alias[i].weight = static_cast<std::uint32_t>(w); // one weight: 32 bits
        scaled[i] = w * n; // weights are 32-bit and n far below 2^32: no overflow
        (scaled[i] < total ? small : large).push_back(i);
    }
    while (!small.empty() && !large.empty()) {
        std::uint32_t s = small.back(), l = large.back();
        small.pop_back();
        double keep = static_cast<double>(scaled[s]) / static_cast<double>(total) * 0x1p32;
        pool.alias[s].keep = static_cast<std::uint32_t>(std::min(keep, 4294967295.0));
        pool.alias[s].alias = l;
        scaled[l] -= total - scaled[s];
        if (scaled[l] < total) {
            large.pop_back();
            small.push_back(l);
        }
    }
    // What is left holds a full column (up to rounding): always kept.
    for (const auto* rest : {&small, &large})
        for (std::uint32_t i : *rest) {
            pool.alias[i].keep = UINT32_MAX;
            pool.alias[i].alias = i;
        }
    for (AliasColumn& c : pool.alias) c.alias_weight = pool.alias[c.alias].weight;
}

// Whether any two endpoints of the pool share an address (with
// `with_port`: an address and port).
bool has_repeats(std::span<const Endpoint> group, const std::vector<std::uint32_t>& positions,
                 bool with_port) {
    std::vector<std::pair<std::array<std::uint8_t, 17>, std::uint16_t>> keys;
    keys.reserve(positions.size());
    for (std::uint32_t p : positions) {
        const Endpoint& e = group[p];
        std::array<std::uint8_t, 17> key{};
        key[0] = e.address.family;
        std::copy(e.address.bytes.begin(), e.address.bytes.end(), key.begin() + 1);
        keys.emplace_back(key, with_port ? e.port : 0);
    }
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

void build_load_order(EndpointPool& pool, std::span<const Endpoint> group,
                      const std::vector<std::uint32_t>& positions) {
    // Read from the instances (alive while the entry is built), not kept in
    // every Endpoint: only the pool's order needs them.
    std::vector<std::uint64_t> loads(pool.count);
    for (std::uint32_t i = 0; i < pool.count; ++i) {
        const Instance* instance = group[positions[i]].instance;
        std::optional<std::uint32_t> l = instance ? instance->load() : std::nullopt;
        loads[i] = l ? *l : std::uint64_t{UINT32_MAX} + 1; // no load last
        pool.loaded += l.has_value();
    }
    if (pool.loaded == 0) return;
    auto load = [&](std::uint32_t i) { return loads[i]; };
    pool.by_load.resize(pool.count);
    for (std::uint32_t i = 0; i < pool.count; ++i) pool.by_load[i] = i;
    std::stable_sort(pool.by_load.begin(), pool.by_load.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return load(a) < load(b); });
    for (std::uint32_t k = 0; k < pool.loaded; ++k)
        if (k == 0 || load(pool.by_load[k]) != load(pool.by_load[k - 1]))
            pool.load_levels.push_back({k, static_cast<std::uint32_t>(load(pool.by_load[k]))});
    pool.load_levels.push_back({pool.loaded, 0});
    pool.recent.resize(pool.loaded);
}

// Fills everything but `positions` from the pool's endpoints.
void finish(EndpointPool& pool, std::span<const Endpoint> group,
            std::vector<std::uint32_t> positions) {
    pool.count = static_cast<std::uint32_t>(positions.size());
    bool identity = true;
    for (std::uint32_t i = 0; i < positions.size() && identity; ++i) identity = positions[i] == i;
    auto weight = [&](std::uint32_t i) {
        return std::max<std::uint32_t>(group[positions[i]].weight, 1);
    };
    bool equal_weights = true;
    for (std::uint32_t i = 1; i < pool.count && equal_weights; ++i)
        equal_weights = weight(i) == weight(0);
    if (!equal_weights) {
        pool.cumulative.resize(pool.count);
        std::uint64_t sum = 0;
        for (std::uint32_t i = 0; i < pool.count; ++i) pool.cumulative[i] = sum += weight(i);
        build_alias(pool);
    }
    auto latency = [&](std::uint32_t i) {
        std::uint32_t l = group[positions[i]].latency_us;
        return l == 0 ? UINT32_MAX : l; // unmeasured last
    };
    for (std::uint32_t i = 0; i < pool.count; ++i)
        pool.measured += group[positions[i]].latency_us != 0;
    if (pool.measured > 0) {
        pool.by_latency.resize(pool.count);
        for (std::uint32_t i = 0; i < pool.count; ++i) pool.by_latency[i] = i;
        std::stable_sort(pool.by_latency.begin(), pool.by_latency.end(),
                         [&](std::uint32_t a, std::uint32_t b) { return latency(a) < latency(b); });
    }
    build_load_order(pool, group, positions);
    pool.distinct_address_ports = !has_repeats(group, positions, true);
    pool.distinct_addresses = pool.distinct_address_ports && !has_repeats(group, positions, false);
    build_ring(pool, group, positions);
    if (!identity) pool.positions = std::move(positions);
}

} // namespace

GroupPools build_group_pools(std::span<const Endpoint> group,
                             const std::vector<std::uint32_t>* positions) {
    std::vector<std::uint32_t> any, v4, v6;
    auto take = [&](std::uint32_t p) {
        if (p >= group.size()) return;
        any.push_back(p);
        std::uint8_t family = group[p].address.family;
        (family == 4 ? v4 : v6).push_back(p);
    };
    if (positions) {
        for (std::uint32_t p : *positions) take(p);
    } else {
        for (std::uint32_t p = 0; p < group.size(); ++p) take(p);
    }
    GroupPools pools;
    if (v6.empty() && !v4.empty())
        pools.only_family = 4;
    else if (v4.empty() && !v6.empty())
        pools.only_family = 6;
    else {
        finish(pools.v4, group, std::move(v4));
        finish(pools.v6, group, std::move(v6));
    }
    finish(pools.any, group, std::move(any));
    return pools;
}

} // namespace cairn::registry
