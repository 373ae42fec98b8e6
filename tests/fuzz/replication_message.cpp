// Fuzzes the replication decoder and the replica behind it: any bytes, as a
// gossip user message or as push-pull state, give a message or an error,
// never a crash or an exception. A decoded message encodes back to bytes
// that decode to the same encoding.

#include <cstdint>
#include <cstdlib>
#include <span>

#include "registry/registry.hpp"
#include "registry/replication/replica.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cairn::registry;
    std::span<const std::uint8_t> bytes(data, size);
    auto decoded = replication::decode(bytes);
    if (decoded) {
        auto again = replication::encode(*decoded);
        auto redecoded = replication::decode(again);
        if (!redecoded || replication::encode(*redecoded) != again) std::abort();
    } else if (decoded.error().message.empty()) {
        std::abort();
    }

    Registry registry("fuzz");
    replication::Replica replica(registry, [] { return std::int64_t{1000}; });
    (void)replica.receive(bytes);
    (void)replica.merge_remote_state(bytes);
    (void)replica.local_state();
    (void)replica.take_broadcasts();
    (void)replica.take_outgoing();
    (void)registry.publish();
    return 0;
}
