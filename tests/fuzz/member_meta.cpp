// Fuzzes a member's gossip metadata as the agent shows it (any member of the
// cluster sends it). Any input gives pairs, never a crash; what reads as a
// cairn agent's (its datacenter and version) is written again by
// encode_agent_meta() and reads back the same.

#include <cstdint>
#include <cstdlib>
#include <span>

#include "agent/member_meta.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cairn;
    const auto pairs = agent::member_meta(std::span(data, size));
    if (pairs.size() == 2 && pairs[0].first == "dc" && pairs[1].first == "version" &&
        !pairs[0].second.empty()) {
        if (agent::member_meta(agent::encode_agent_meta(pairs[0].second, pairs[1].second)) != pairs)
            std::abort();
    }
    return 0;
}
