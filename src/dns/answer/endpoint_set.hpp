#pragma once
// Which endpoints an answer already holds, so that a record is not written
// twice: the first endpoint with a key is kept, later ones are duplicates.
// The key is the address (A, AAAA), the address and port (SRV) or the TXT
// RDATA. O(1) per endpoint, so an answer costs the same per record however
// many instances the service has.
//
// An open-addressing table of endpoint pointers that grows to the largest
// answer seen and is never cleared: each slot carries the stamp of the pass
// that wrote it, and begin() starts a new pass by raising the stamp. Per
// worker, like the rest of the discovery scratch space.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "registry/snapshot.hpp"

namespace cairn::dns {

class EndpointSet {
public:
    enum class Key : std::uint8_t { address, address_port, txt };

    // Starts a pass that will hold at most `max_endpoints` endpoints, keyed
    // by `key`. False if the table could not grow (out of memory).
    [[nodiscard]] bool begin(Key key, std::size_t max_endpoints) noexcept;

    // True if an endpoint with the same key is already held; otherwise holds
    // `endpoint` and returns false. `endpoint` must outlive the pass.
    bool contains_or_insert(const registry::Endpoint& endpoint) noexcept;

private:
    struct Slot {
        std::uint32_t stamp = 0;
        const registry::Endpoint* endpoint = nullptr;
    };

    [[nodiscard]] std::uint64_t hash(const registry::Endpoint& e) const noexcept;
    [[nodiscard]] bool same(const registry::Endpoint& a,
                            const registry::Endpoint& b) const noexcept;

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::uint32_t stamp_ = 0;
    Key key_ = Key::address;
};

} // namespace cairn::dns
