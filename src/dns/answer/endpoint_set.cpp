#include "dns/answer/endpoint_set.hpp"

#include <algorithm>
#include <bit>

namespace cairn::dns {

namespace {

std::size_t address_size(const registry::Address& a) {
    return a.family == 4 ? 4 : 16;
}

// FNV-1a, continued from `h`.
std::uint64_t fnv(std::uint64_t h, const std::uint8_t* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

constexpr std::uint64_t fnv_basis = 0xcbf29ce484222325ull;

} // namespace

bool EndpointSet::begin(Key key, std::size_t max_endpoints) noexcept {
    // At most half full, so that probe runs stay short.
    std::size_t size = std::bit_ceil(std::max<std::size_t>(2 * max_endpoints, 16));
    if (slots_.size() < size) {
        try {
            slots_.resize(size);
        } catch (...) {
            return false;
        }
    }
    if (++stamp_ == 0) {
        // Wrapped: slots of 2^32 passes ago would look current.
        std::fill(slots_.begin(), slots_.end(), Slot{});
        stamp_ = 1;
    }
    mask_ = size - 1;
    key_ = key;
    return true;
}

bool EndpointSet::contains_or_insert(const registry::Endpoint& endpoint) noexcept {
    for (std::size_t i = hash(endpoint) & mask_;; i = (i + 1) & mask_) {
        Slot& slot = slots_[i];
        if (slot.stamp != stamp_) {
            slot = {stamp_, &endpoint};
            return false;
        }
        if (same(*slot.endpoint, endpoint)) return true;
    }
}

std::uint64_t EndpointSet::hash(const registry::Endpoint& e) const noexcept {
    if (key_ == Key::txt) return fnv(fnv_basis, e.txt.data(), e.txt.size());
    std::uint64_t h = fnv(fnv_basis, &e.address.family, 1);
    h = fnv(h, e.address.bytes.data(), address_size(e.address));
    if (key_ == Key::address_port) {
        std::uint8_t port[2] = {static_cast<std::uint8_t>(e.port >> 8),
                                static_cast<std::uint8_t>(e.port)};
        h = fnv(h, port, 2);
    }
    return h;
}

bool EndpointSet::same(const registry::Endpoint& a, const registry::Endpoint& b) const noexcept {
    if (key_ == Key::txt) return a.txt == b.txt;
    if (key_ == Key::address_port && a.port != b.port) return false;
    return a.address.family == b.address.family &&
           std::equal(a.address.bytes.begin(), a.address.bytes.begin() + address_size(a.address),
                      b.address.bytes.begin());
}

} // namespace cairn::dns
