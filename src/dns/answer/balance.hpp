#pragma once
// Load-balancing policies for discovery answers (docs/discovery.md): which
// instances an answer lists and in which order. Pure and per query; the
// Balancer keeps per-worker scratch space and a random source, so it needs
// no lock and allocates nothing once its scratch has grown to the largest
// service it has seen.
//
//   random       shuffle (a partial Fisher-Yates: only the first `limit`)
//   round_robin  rotate by the service's shared counter (one relaxed atomic
//                increment per query in ServiceEntry::rotation, shared by all
//                workers, so the rotation is even across workers too)
//   weighted     weighted random sampling without replacement
//                (Efraimidis-Spirakis: key = -ln(u)/w, smallest first), so the
//                FIRST record follows the weights: 90/10 holds in A answers
//   affinity     weighted rendezvous hashing on the client key (address or
//                EDNS Client Subnet prefix): the same client gets the same
//                order while the set is unchanged, and removing an instance
//                moves only the clients that had it first
//   fastest      ascending Endpoint::latency_us (Instance::latency_us()); unmeasured (0) instances
//                after the measured ones, in random order; all unmeasured =
//                random

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

class Balancer {
public:
    explicit Balancer(std::uint64_t seed) noexcept : random_(seed) {}

    // Orders `items` in place for one answer under `policy` (unset counts as
    // random): afterwards the first min(limit, size) items (limit 0 = all)
    // are the chosen ones, in answer order; the rest are in no useful order.
    // `rotation` is the service's round-robin counter; `client` is used by
    // affinity only.
    void order(registry::Policy policy, std::span<const registry::Endpoint*> items, std::size_t limit,
               const registry::RotationCounter& rotation, const ClientKey& client) noexcept;

    // Orders with a given rotation value (round_robin), for callers that order
    // several groups of one answer with the same step.
    void order(registry::Policy policy, std::span<const registry::Endpoint*> items, std::size_t limit,
               std::uint32_t rotation_value, const ClientKey& client) noexcept;

    Random& random() noexcept { return random_; }

private:
    void shuffle(std::span<const registry::Endpoint*> items, std::size_t limit) noexcept;
    void by_key(std::span<const registry::Endpoint*> items, std::size_t limit) noexcept;

    Random random_;
    std::vector<std::pair<double, const registry::Endpoint*>> keyed_; // scratch, reused
};

// The affinity hash of an endpoint for a client (exposed for tests).
[[nodiscard]] std::uint64_t affinity_hash(const registry::Endpoint& endpoint, const ClientKey& client) noexcept;

} // namespace cairn::dns
