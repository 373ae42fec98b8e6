#pragma once
// The values memberlist encoded into tests/gossip/goldens/ (written by
// tests/gossip/peer/memberlist_goldens.go: keep the two in step), and a
// reader for those files.

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <doctest/doctest.h>

#include "gossip/messages.hpp"

namespace golden {

using cairn::gossip::Bytes;

inline Bytes read(const std::string& name) {
    std::ifstream in(std::string(CAIRN_GOSSIP_GOLDENS) + "/" + name + ".bin", std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "missing golden file ", name);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Bytes cairn wrote, kept so that memberlist's side of the check
// (peer/check_goldens.sh) reads them: equal to what is stored, or stored
// anew when CAIRN_WRITE_GOLDENS names the goldens directory.
inline void cairn_golden(const std::string& name, const Bytes& bytes) {
    if (const char* dir = std::getenv("CAIRN_WRITE_GOLDENS")) {
        std::ofstream(std::string(dir) + "/" + name + ".bin", std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
    }
    CAPTURE(name);
    CHECK(read(name) == bytes);
}

inline Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

// Text with a random byte in every seven (an LCG's), for compression: the
// peer's lzwInput makes the same bytes.
inline Bytes lzw_input(std::size_t size) {
    Bytes out;
    std::uint32_t x = 1;
    for (std::size_t i = 0; i < size; ++i) {
        x = x * 1103515245 + 12345;
        out.push_back(static_cast<std::uint8_t>(i % 7 == 0 ? x >> 24 : 'a' + i % 13));
    }
    return out;
}

inline const Bytes key16 = text("0123456789abcdef");
inline const Bytes key24 = text("0123456789abcdefghijklmn");
inline const Bytes key32 = text("0123456789abcdefghijklmnopqrstuv");
inline const Bytes addr4 = {127, 0, 0, 1};
inline const Bytes addr16 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
inline const Bytes vsn = {1, 5, 2, 2, 5, 4};
inline const Bytes meta = text("dc=dc1;version=0.1.0;role=agent;zone=a1");

inline cairn::gossip::Alive alive() {
    return {
        .incarnation = 1, .node = "node-a", .addr = addr4, .port = 7946, .meta = meta, .vsn = vsn};
}

inline cairn::gossip::Suspect suspect() {
    return {.incarnation = 7, .node = "node-c", .from = "node-a"};
}

inline cairn::gossip::Dead dead() {
    return {.incarnation = 3, .node = "node-c", .from = "node-c"};
}

// goldenMemberlist's nodes and delegate state, as a push-pull (join).
inline cairn::gossip::PushPull push_pull() {
    using cairn::gossip::NodeState;
    cairn::gossip::PushPull p;
    p.join = true;
    p.nodes = {
        {.name = "node-a",
         .addr = addr4,
         .port = 7946,
         .meta = meta,
         .incarnation = 2,
         .state = NodeState::alive,
         .vsn = vsn},
        {.name = "node-b",
         .addr = addr16,
         .port = 8301,
         .meta = {},
         .incarnation = 9,
         .state = NodeState::suspect,
         .vsn = vsn},
        {.name = "node-c",
         .addr = {127, 0, 0, 3},
         .port = 7946,
         .meta = {},
         .incarnation = 1,
         .state = NodeState::dead,
         .vsn = vsn},
        {.name = "node-d",
         .addr = {127, 0, 0, 4},
         .port = 7946,
         .meta = {},
         .incarnation = 4,
         .state = NodeState::left,
         .vsn = vsn},
    };
    p.user_state = text("user state bytes");
    return p;
}

} // namespace golden
