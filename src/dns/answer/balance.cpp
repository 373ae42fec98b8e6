#include "dns/answer/balance.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <netinet/in.h>

#include "dns/wire/query.hpp"

namespace cairn::dns {

namespace {

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

std::uint64_t splitmix64(std::uint64_t& state)
{
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

std::uint64_t mix(std::uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// FNV-1a, continued from `h`.
std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t size)
{
    const auto* p = static_cast<const std::uint8_t*>(data);
    for (std::size_t i = 0; i < size; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

constexpr std::uint64_t fnv_basis = 0xcbf29ce484222325ULL;

// (0, 1] from 53 random bits.
double to_unit(std::uint64_t bits) { return static_cast<double>((bits >> 11) + 1) * 0x1.0p-53; }

void truncate_to_prefix(ClientKey& key, std::uint8_t bits)
{
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

ClientKey client_key(const sockaddr* peer, const ClientSubnet* ecs) noexcept
{
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

Random::Random(std::uint64_t seed) noexcept
{
    for (auto& word : s_)
        word = splitmix64(seed);
}

std::uint64_t Random::next() noexcept
{
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

std::uint64_t Random::below(std::uint64_t n) noexcept
{
    // Multiply-shift on 32 bits (Lemire); the bias for n in the thousands is
    // below 1e-6, far under what load balancing can notice.
    if (n <= 0xffffffffULL)
        return ((next() >> 32) * n) >> 32;
    return next() % n;
}

double Random::unit() noexcept { return to_unit(next()); }

namespace {

std::uint64_t client_hash(const ClientKey& client)
{
    std::uint64_t c = fnv1a(fnv_basis, &client.family, 1);
    c = fnv1a(c, &client.prefix_bits, 1);
    c = fnv1a(c, client.bytes.data(), client.family == 4 ? 4 : client.bytes.size());
    return mix(c);
}

} // namespace

std::uint64_t affinity_hash(const registry::Endpoint& endpoint, const ClientKey& client) noexcept
{
    return mix(endpoint.identity ^ client_hash(client));
}

void Balancer::shuffle(std::span<const registry::Endpoint*> items, std::size_t limit) noexcept
{
    std::size_t n = items.size();
    for (std::size_t i = 0; i + 1 < n && i < limit; ++i)
        std::swap(items[i], items[i + random_.below(n - i)]);
}

void Balancer::by_key(std::span<const registry::Endpoint*> items, std::size_t limit) noexcept
{
    auto middle = keyed_.begin() + static_cast<std::ptrdiff_t>(std::min(limit, keyed_.size()));
    auto less = [](const auto& a, const auto& b) { return a.first < b.first; };
    if (middle == keyed_.end())
        std::sort(keyed_.begin(), keyed_.end(), less);
    else
        std::partial_sort(keyed_.begin(), middle, keyed_.end(), less);
    for (std::size_t i = 0; i < keyed_.size(); ++i)
        items[i] = keyed_[i].second;
}

void Balancer::order(registry::Policy policy, std::span<const registry::Endpoint*> items, std::size_t limit,
                     const registry::RotationCounter& rotation, const ClientKey& client) noexcept
{
    std::uint32_t step = policy == registry::Policy::round_robin ? rotation.next() : 0;
    order(policy, items, limit, step, client);
}

void Balancer::order(registry::Policy policy, std::span<const registry::Endpoint*> items, std::size_t limit,
                     std::uint32_t rotation_value, const ClientKey& client) noexcept
{
    std::size_t n = items.size();
    if (n < 2)
        return;
    if (limit == 0 || limit > n)
        limit = n;
    // Growing the scratch allocates only until it fits the largest service;
    // if that allocation fails the answer is just not balanced.
    auto fill_keys = [&](auto key_of) noexcept {
        try {
            keyed_.resize(n);
        } catch (...) {
            return false;
        }
        for (std::size_t i = 0; i < n; ++i)
            keyed_[i] = {key_of(*items[i]), items[i]};
        return true;
    };

    switch (policy) {
    case registry::Policy::round_robin:
        std::rotate(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(rotation_value % n), items.end());
        return;
    case registry::Policy::weighted:
        // Efraimidis-Spirakis A-ES: the smallest -ln(u)/w first. -ln(u) is an
        // exponential variate, so this is "first arrival" among exponential
        // clocks of rate w: P(first = i) = w_i / sum(w).
        if (fill_keys([this](const registry::Endpoint& e) { return -std::log(random_.unit()) / std::max<std::uint32_t>(e.weight, 1); }))
            by_key(items, limit);
        return;
    case registry::Policy::affinity:
        // Weighted rendezvous hashing: the same construction with u from the
        // (client, instance) hash instead of the random source. An instance's
        // key does not depend on the others, so removing one changes only the
        // clients for which it was the smallest.
        if (fill_keys([c = client_hash(client)](const registry::Endpoint& e) {
                return -std::log(to_unit(mix(e.identity ^ c))) / std::max<std::uint32_t>(e.weight, 1);
            }))
            by_key(items, limit);
        return;
    case registry::Policy::fastest: {
        shuffle(items, n); // random among equals and among the unmeasured
        if (fill_keys([](const registry::Endpoint& e) {
                std::uint32_t l = e.latency_us;
                return l == 0 ? std::numeric_limits<double>::infinity() : static_cast<double>(l);
            }))
            by_key(items, limit);
        return;
    }
    case registry::Policy::unset:
    case registry::Policy::random:
        shuffle(items, limit);
        return;
    }
    shuffle(items, limit);
}

} // namespace cairn::dns
