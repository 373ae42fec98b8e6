#pragma once
// What a DNS answer chooses from, precomputed when a snapshot is published
// so that choosing k instances out of n costs about k per query, not n
// (docs/discovery.md, "Large services"): the positions of the endpoints of
// one health group (optionally of one address family, optionally with one
// tag), their weights as cumulative sums and an alias table (a weighted pick
// is one table draw), their order by measured check latency (fastest takes a
// prefix) and by reported load (least_loaded), whether their addresses are distinct (then an answer
// needs no repeat check) and, for a pool larger than affinity_whole, a hash ring that affinity
// starts from.

#include <cstdint>
#include <span>
#include <vector>

#include "registry/recent_answers.hpp"

namespace cairn::registry {

struct Endpoint;

// affinity ranks this many instances per step (rendezvous hashing over a
// window of the pool's ring, docs/discovery.md "Large services"); a pool of
// at most affinity_whole is ranked whole, exactly, and has no ring (which
// also keeps the memory of services of a few hundred instances as it was).
inline constexpr std::uint32_t affinity_window = 32;
inline constexpr std::uint32_t affinity_whole = 8 * affinity_window;
// Points per endpoint on the ring: more even windows for more memory.
inline constexpr std::uint32_t ring_points_per_endpoint = 2;

// A point of the affinity ring: a 32-bit hash of (endpoint identity, k).
struct RingPoint {
    std::uint32_t point = 0;
    std::uint32_t index = 0; // into the pool
};

// One column of a weighted pool's alias table (Walker; Vose's build): a
// draw picks a column uniformly, then keeps it with probability
// keep / 2^32, else takes `alias`. O(1) per weighted pick. The two
// endpoints' weights are stored beside them, so that a pick, which needs its
// weight, reads one column and nothing else of a large pool.
struct AliasColumn {
    std::uint32_t keep = 0;
    std::uint32_t alias = 0;        // into the pool
    std::uint32_t weight = 0;       // of this column's endpoint
    std::uint32_t alias_weight = 0; // of `alias`
};

// One distinct reported load of a pool and where its endpoints start in
// the pool's load order.
struct LoadLevel {
    std::uint32_t start = 0;
    std::uint32_t load = 0;
};

// Where an endpoint's k-th ring point lies; the same in every process.
[[nodiscard]] std::uint32_t ring_point(std::uint64_t identity, std::uint32_t k) noexcept;

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
    // The same weights as an alias table, one column (16 bytes) per
    // endpoint; empty with cumulative.
    std::vector<AliasColumn> alias;
    // Indexes into the pool: the measured endpoints by ascending latency
    // (ties by position), then the unmeasured ones; empty when none is
    // measured.
    std::vector<std::uint32_t> by_latency;
    std::uint32_t measured = 0; // how many of by_latency have a latency
    // Indexes into the pool: the endpoints with a reported load by
    // ascending load (ties by position), then the others; empty when none
    // reports one. load_levels: each distinct load and where it starts in
    // by_load, then {loaded, 0}, so that least_loaded finds the endpoints
    // of equal load without looking at them. recent: per place in by_load
    // (of the first `loaded`), the answers that listed it first lately,
    // bumped by the DNS workers (recent_answers.hpp); next to each other,
    // so that least_loaded's choices read a small array, not endpoints.
    std::vector<std::uint32_t> by_load;
    std::vector<LoadLevel> load_levels;
    std::vector<RecentAnswers> recent;
    std::uint32_t loaded = 0; // how many of by_load have a load
    // No two endpoints share an address (or an address and port): an
    // answer from this pool alone needs no duplicate check.
    bool distinct_addresses = true;
    bool distinct_address_ports = true;
    // ring_points_per_endpoint points per endpoint, ascending by (point,
    // index); empty when the pool has at most affinity_whole endpoints.
    std::vector<RingPoint> ring;

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
