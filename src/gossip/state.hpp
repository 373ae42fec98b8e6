#pragma once
// The member table's entries (memberlist's Node and nodeState, state.go).

#include <cstdint>
#include <string>

#include "gossip/messages.hpp"
#include "gossip/time.hpp"
#include "gossip/transport.hpp"

namespace cairn::gossip {

// A member as the layers above see it.
struct Node {
    std::string name;
    Bytes addr; // 4 or 16 bytes, as the node advertised it
    std::uint16_t port = 0;
    Bytes meta;
    NodeState state = NodeState::dead;
    std::uint8_t pmin = 0; // protocol versions understood and spoken
    std::uint8_t pmax = 0;
    std::uint8_t pcur = 0;
    std::uint8_t dmin = 0; // delegate versions understood and spoken
    std::uint8_t dmax = 0;
    std::uint8_t dcur = 0;

    [[nodiscard]] Address address() const { return Address{addr, port, name}; }
    [[nodiscard]] Bytes vsn() const { return {pmin, pmax, pcur, dmin, dmax, dcur}; }
    // The inverse, from a vsn as it arrived: one shorter than six bytes
    // leaves the versions as they are (memberlist checks lengths where it
    // reads them).
    void set_vsn(const Bytes& versions) {
        if (versions.size() < vsn_size) return;
        pmin = versions[vsn_pmin];
        pmax = versions[vsn_pmax];
        pcur = versions[vsn_pcur];
        dmin = versions[vsn_dmin];
        dmax = versions[vsn_dmax];
        dcur = versions[vsn_dcur];
    }
};

// Our view of one member.
struct NodeRecord {
    Node node;
    std::uint32_t incarnation = 0;
    TimePoint state_change{};

    [[nodiscard]] NodeState state() const { return node.state; }
    [[nodiscard]] bool dead_or_left() const {
        return node.state == NodeState::dead || node.state == NodeState::left;
    }
};

[[nodiscard]] const char* to_string(NodeState s);
[[nodiscard]] const char* to_string(MessageType t);

} // namespace cairn::gossip
