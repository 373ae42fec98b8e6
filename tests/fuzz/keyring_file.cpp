// Fuzzes data_dir/keyring.json as the agent reads it at start, and a keyring
// change's key as the HTTP API hands it over. Any input gives a keyring or an
// error that says why, never a crash; a keyring that parses is written and
// read back to the same keys, primary first.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/keyring_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cairn;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto ring = agent::parse_keyring_file(input);
    if (!ring) {
        if (ring.error().message.empty()) std::abort();
    } else {
        if (!ring->enabled()) std::abort();
        auto again = agent::parse_keyring_file(agent::format_keyring_file(*ring));
        if (!again || again->keys() != ring->keys()) std::abort();
    }
    // The same bytes as a key to install, use and remove.
    static const gossip::Bytes primary(16, 7);
    auto base = gossip::Keyring::create({}, primary);
    if (!base) std::abort();
    for (auto op : {agent::KeyringOp::install, agent::KeyringOp::use, agent::KeyringOp::remove}) {
        auto next = agent::plan_keyring_change(*base, op, input);
        if (!next && next.error().message.empty()) std::abort();
        if (next && !next->enabled()) std::abort();
    }
    return 0;
}
