#include "registry/endpoint_pool.hpp"

#include <algorithm>

#include "registry/snapshot.hpp"

namespace cairn::registry {

namespace {

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
