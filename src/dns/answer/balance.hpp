#pragma once
// Load-balancing policies for discovery answers (docs/discovery.md): which
// instances an answer lists and in which order. Pure and per query; the
// Balancer keeps per-worker scratch space and a random source, so it needs
// no lock and allocates nothing once its scratch has grown to the largest
// answer it has made.
//
// It chooses from a registry::EndpointPool (built when the snapshot is
// published) one endpoint at a time, in answer order, and the caller stops
// asking when the message is full: so a query costs what its answer holds,
// about k for k records out of n instances (affinity: k + log n), not n.
//
//   random       a uniformly random ordered sample without replacement: on
//                a pool of at least four times the answer, uniform draws
//                with a repeat drawn again (one table probe per pick); on
//                a smaller one, a partial Fisher-Yates shuffle over the
//                pool's indexes, the swaps kept in a small table instead of
//                an index array. Both give every order of every k-subset
//                the same probability
//   round_robin  rotate by the service's shared counter (one relaxed atomic
//                increment per query in ServiceEntry::rotation, shared by all
//                workers, so the rotation is even across workers too): take
//                k from that start
//   weighted     weighted random sampling without replacement: each pick is
//                one draw from the pool's alias table, a repeat is drawn
//                again; P(first = i) = w_i / sum(w), so 90/10 holds
//                in A answers. The draws are made a few picks ahead of
//                their use and their columns prefetched, so that the cache
//                misses of a large table overlap instead of queueing. Small pools (and the rare
//                pool whose chosen weight passes half) use Efraimidis-Spirakis keys
//                (-ln(u)/w, smallest first) over what is left: the same
//                distribution
//   affinity     weighted rendezvous hashing on the client key (address or
//                EDNS Client Subnet prefix): the same client gets the same
//                order while the set is unchanged. A pool of at most
//                registry::affinity_whole instances is ranked whole (removing
//                an instance moves only the clients that had it first). A
//                larger one is ranked a window at a time: from the client's
//                place on the pool's hash ring, the next affinity_window
//                distinct instances, ranked by rendezvous hash, then the next
//                window; so a query hashes about one window, whatever n
//   fastest      the pool's latency order (ascending measured check latency,
//                ties by position), then the unmeasured in random order
//   least_loaded first the endpoint of least (reported load + answers that
//                listed it first lately, the pool's recent counters): per
//                distinct load, lowest first, the better of two random
//                endpoints of that load (power of two choices), stopping at
//                a load no better than the best found or after
//                max_load_levels; then the pool's load order (ascending
//                reported load, ties by position), then the endpoints
//                without a load in random order. Nothing reported = random
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include "registry/snapshot.hpp"
#include "registry/types.hpp"

namespace cairn::dns {

struct ClientSubnet;

// What affinity hashes on: an address truncated to `prefix_bits`.
struct ClientKey {
    std::uint8_t family = 0; // 4 or 6; 0 = unknown (hashes as all zero)
    std::uint8_t prefix_bits = 0;
    std::array<std::uint8_t, 16> bytes{};
};

// The longest ECS prefixes affinity uses (RFC 7871 §11.1 recommends that
// clients send no more than /24 and /56; a longer one is cut to these).
inline constexpr std::uint8_t max_ecs_prefix_v4 = 24;
inline constexpr std::uint8_t max_ecs_prefix_v6 = 56;

// The key for a query: the EDNS Client Subnet prefix when there is one
// (cut to the maxima above), else the peer's full address. The prefix
// length used is the ECS scope to echo (RFC 7871 §7.2.1).
[[nodiscard]] ClientKey client_key(const sockaddr* peer, const ClientSubnet* ecs) noexcept;

// xoshiro256** (Blackman & Vigna): fast, good enough for load balancing, not
// for secrets.
class Random {
public:
    explicit Random(std::uint64_t seed) noexcept;
    std::uint64_t next() noexcept;
    // Uniform in [0, n); n > 0.
    std::uint64_t below(std::uint64_t n) noexcept;
    // Uniform in (0, 1].
    double unit() noexcept;

private:
    std::array<std::uint64_t, 4> s_{};
};

// least_loaded looks at most at this many distinct loads for its first
// pick, so that a query costs the same whatever the size of the service.
inline constexpr std::size_t max_load_levels = 8;

class Balancer {
public:
    explicit Balancer(std::uint64_t seed) noexcept
        : random_(seed) {}

    // The monotonic time of the query, in ms, for least_loaded's count of
    // recent answers.
    void set_now_ms(std::uint64_t now_ms) noexcept { now_ms_ = now_ms; }

    // Starts choosing from `pool` (positions into `group`) under `policy`
    // (unset counts as random). At most `want` endpoints will be asked for.
    // `rotation_value` is the service's round-robin counter value; `client`
    // is used by affinity only. False if the scratch space could not grow
    // (out of memory): then next() gives nothing.
    bool start(registry::Policy policy, std::span<const registry::Endpoint> group,
               const registry::EndpointPool& pool, std::size_t want, std::uint32_t rotation_value,
               const ClientKey& client) noexcept;

    // The next endpoint in answer order, each endpoint of the pool at most
    // once; nullptr after `want` of them or when the pool is exhausted.
    const registry::Endpoint* next() noexcept;

    // least_loaded: counts the first endpoint of the last start() as one
    // more recent answer (the caller calls it when that endpoint is the
    // answer's first record); nothing under other policies.
    void count_first() noexcept;

    Random& random() noexcept { return random_; }

private:
    // A partial map from index to index with O(1) reset, for the swaps of
    // the sparse shuffle and the picks of weighted sampling.
    class IndexMap {
    public:
        bool reset(std::size_t max_entries) noexcept;
        // The value at `key`, or `key` itself when none was set.
        std::uint32_t get(std::uint32_t key) const noexcept;
        bool contains(std::uint32_t key) const noexcept;
        void set(std::uint32_t key, std::uint32_t value) noexcept;
        // Marks `key` (as mapping to itself); false if it was there already.
        // One probe, where contains() and set() take two.
        bool insert(std::uint32_t key) noexcept;

    private:
        struct Slot {
            std::uint32_t stamp = 0;
            std::uint32_t key = 0;
            std::uint32_t value = 0;
        };
        std::size_t find(std::uint32_t key) const noexcept;
        std::vector<Slot> slots_;
        std::size_t mask_ = 0;
        int shift_ = 64; // 64 - log2(slots in use)
        std::uint32_t stamp_ = 0;
    };

    // How many alias draws are made ahead of their use (see draw_ahead()).
    static constexpr std::size_t lookahead = 8;

    std::uint32_t shuffled(std::uint32_t end) noexcept;
    std::uint32_t sampled(std::uint32_t end) noexcept;
    std::uint32_t column_of(std::uint64_t r) const noexcept;
    std::uint64_t prefetched(std::uint64_t r) const noexcept;
    std::uint64_t draw_ahead() noexcept;
    std::uint32_t next_weighted() noexcept;
    bool order_by_key(std::uint32_t count, bool affinity) noexcept;
    bool next_window() noexcept;
    std::uint32_t least_loaded_first() noexcept;
    std::uint32_t next_least_loaded(std::uint32_t n) noexcept;

    Random random_;
    registry::Policy policy_ = registry::Policy::random;
    std::span<const registry::Endpoint> group_;
    const registry::EndpointPool* pool_ = nullptr;
    std::size_t want_ = 0;
    std::size_t taken_ = 0;
    std::uint32_t rotation_ = 0;
    std::uint64_t client_hash_ = 0;
    bool equal_weights_ = true;
    bool ring_mode_ = false;     // affinity over the pool's ring, a window at a time
    std::size_t ring_at_ = 0;    // the next ring point to look at
    std::size_t ring_steps_ = 0; // ring points looked at so far
    std::uint64_t chosen_weight_ = 0;
    bool sampled_mode_ = false; // random by draws, not by the shuffle
    std::uint64_t now_ms_ = 0;
    std::uint32_t first_loaded_ = 0; // least_loaded: the first pick's place in by_load
    bool keyed_mode_ = false;        // next() reads keyed_[taken_ - keyed_base_]
    std::size_t keyed_base_ = 0;
    IndexMap map_;
    std::vector<std::pair<double, std::uint32_t>> keyed_; // scratch, reused
    std::array<std::uint64_t, lookahead> ahead_{};        // weighted's next draws
    std::size_t ahead_at_ = 0;                            // the oldest of them
};

// The affinity hash of an endpoint for a client (exposed for tests).
[[nodiscard]] std::uint64_t affinity_hash(const registry::Endpoint& endpoint,
                                          const ClientKey& client) noexcept;

} // namespace cairn::dns
