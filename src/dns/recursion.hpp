#pragma once
// The seam between the answer logic (src/dns/answer/) and the forwarder
// (src/dns/forward/): what the Catalog does with a name outside its domain
// and zones. The agent hands the Catalog a Recursion when it forwards; the
// answer logic never sees an upstream, and the forwarder never sees a zone.
//
// Shared by every DNS thread: implementations are thread-safe.

#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/responder.hpp"
#include "dns/wire/query.hpp"

namespace cairn::dns {

class Recursion {
public:
    virtual ~Recursion() = default;
    // Whether this client is offered recursion ([dns.forward].allow): its
    // answers say RA, and names outside the domain and zones are resolved
    // for it (others get REFUSED).
    [[nodiscard]] virtual bool offers(const Client& client) const noexcept = 0;
    // The answer to `query` (parsed from `packet`) for a client offered
    // recursion, at most `limit` bytes: written to `out` now (a cache hit,
    // or SERVFAIL when every upstream is down) and its length returned, or
    // Responder::deferred after taking a PendingAnswer from client.deferrer.
    // Cache hits allocate nothing.
    [[nodiscard]] virtual std::size_t resolve(const Query& query,
                                              std::span<const std::uint8_t> packet,
                                              const Client& client, std::span<std::uint8_t> out,
                                              std::size_t limit) noexcept = 0;
};

} // namespace cairn::dns
