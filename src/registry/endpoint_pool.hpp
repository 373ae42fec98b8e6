#pragma once
// What a DNS answer chooses from, precomputed when a snapshot is published
// so that choosing k instances out of n costs about k log n per query, not n
// (docs/discovery.md, "Large services"): the positions of the endpoints of
// one health group (optionally of one address family, optionally with one
// tag), their cumulative weights (a weighted pick is a binary search) and
// their order by measured check latency (fastest takes a prefix).

#include <cstdint>
#include <span>
#include <vector>

namespace cairn::registry {

struct Endpoint;

// Each part is stored only when it says something, so that a plain service
// (one address family, equal weights, nothing measured) costs no memory
// beyond its tag positions.
struct EndpointPool {
    // Into the group's endpoints, ascending; empty when the pool is the whole
    // group in order (then position(i) is i).
    std::vector<std::uint32_t> positions;
    std::uint32_t count = 0;
    // cumulative[i]: weights of the first i + 1 endpoints (each at least 1);
    // empty when all weights are equal (weighted is then uniform).
    std::vector<std::uint64_t> cumulative;
    // Indexes into the pool: the measured endpoints by ascending latency
    // (ties by position), then the unmeasured ones; empty when none is
    // measured.
    std::vector<std::uint32_t> by_latency;
    std::uint32_t measured = 0; // how many of by_latency have a latency

    [[nodiscard]] std::size_t size() const noexcept { return count; }
    [[nodiscard]] bool empty() const noexcept { return count == 0; }
    [[nodiscard]] std::uint32_t position(std::uint32_t i) const noexcept {
        return positions.empty() ? i : positions[i];
    }
    [[nodiscard]] std::uint64_t total_weight() const noexcept {
        return cumulative.empty() ? 0 : cumulative.back();
    }
};

// One health group's pools: every endpoint, the IPv4 ones, the IPv6 ones.
// When every endpoint has the same family, that family's pool is `any`.
struct GroupPools {
    EndpointPool any;
    EndpointPool v4;
    EndpointPool v6;
    std::uint8_t only_family = 0; // 4 or 6 when all of `any` are of it

    // 4, 6, or 0 for any family.
    [[nodiscard]] const EndpointPool& for_family(std::uint8_t family) const noexcept {
        if (family == 0 || family == only_family) return any;
        return family == 4 ? v4 : v6;
    }
};

// The pools of `group`, restricted to `positions` (all of the group when
// null). Costs O(n log n); runs on the main loop when an entry is built.
[[nodiscard]] GroupPools build_group_pools(std::span<const Endpoint> group,
                                           const std::vector<std::uint32_t>* positions);

} // namespace cairn::registry
