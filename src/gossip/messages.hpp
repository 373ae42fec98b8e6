#pragma once
// The messages of memberlist's wire protocol (memberlist 0.2.2, net.go), one
// struct per Go struct, field for field and in Go's declaration order. Each
// member's comment gives the Go field name: that name is the msgpack map key
// the codec (codec.hpp) writes and reads, so the two must not drift apart.
//
// These are plain values: no validation happens here. Byte fields keep the
// bytes as the peer sent them (an address stays 4 or 16 bytes, a Vsn keeps
// its length), so what cairn re-gossips is what it heard.
//
// Encoding and decoding: codec.hpp (one message, one packet), packet.hpp
// (compound, CRC, compression), stream.hpp (TCP framing), security.hpp
// (encryption). docs/gossip.md describes the bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cairn::gossip {

using Bytes = std::vector<std::uint8_t>;

// memberlist's messageType: the first byte of every packet, compound part and
// stream. On the wire: append-only, values fixed by memberlist.
enum class MessageType : std::uint8_t {
    ping = 0,
    indirect_ping = 1,
    ack_resp = 2,
    suspect = 3,
    alive = 4,
    dead = 5,
    push_pull = 6,
    compound = 7,
    user = 8, // the delegate's payload, raw bytes after the type byte
    compress = 9,
    encrypt = 10,
    nack_resp = 11,
    has_crc = 12,
    err = 13,
};

// memberlist's NodeStateType (a Go int on the wire). Append-only.
enum class NodeState : std::int64_t {
    alive = 0,
    suspect = 1,
    dead = 2,
    left = 3,
};

// memberlist's compressionType. Append-only.
enum class CompressionType : std::uint8_t {
    lzw = 0,
};

// The protocol versions memberlist 0.2.2 understands (ProtocolVersionMin/Max).
inline constexpr std::uint8_t protocol_version_min = 1;
inline constexpr std::uint8_t protocol_version_max = 5;
// Node metadata is at most this many bytes (MetaMaxSize).
inline constexpr std::size_t meta_max_size = 512;

// Vsn: protocol and delegate versions, in this order. Usually six bytes; a
// decoded Vsn is kept at whatever length it arrived (memberlist checks
// lengths where it reads it).
enum VsnIndex : std::size_t {
    vsn_pmin = 0,
    vsn_pmax,
    vsn_pcur,
    vsn_dmin,
    vsn_dmax,
    vsn_dcur,
    vsn_size
};

// ping: sent directly to a node (UDP, or TCP as the fallback probe).
struct Ping {
    std::uint32_t seq_no = 0;      // SeqNo
    std::string node{};            // Node: the intended recipient; empty = anyone
    Bytes source_addr{};           // SourceAddr (omitempty): where to send the ack
    std::uint16_t source_port = 0; // SourcePort (omitempty)
    std::string source_node{};     // SourceNode (omitempty)

    bool operator==(const Ping&) const = default;
};

// indirectPingReq: asks a peer to ping Target on our behalf.
struct IndirectPingReq {
    std::uint32_t seq_no = 0;      // SeqNo
    Bytes target{};                // Target: address bytes (4 or 16)
    std::uint16_t port = 0;        // Port
    std::string node{};            // Node
    bool nack = false;             // Nack: answer with a nack if no ack comes
    Bytes source_addr{};           // SourceAddr (omitempty)
    std::uint16_t source_port = 0; // SourcePort (omitempty)
    std::string source_node{};     // SourceNode (omitempty)

    bool operator==(const IndirectPingReq&) const = default;
};

// ackResp: the answer to a ping.
struct AckResp {
    std::uint32_t seq_no = 0; // SeqNo
    Bytes payload{};          // Payload: the ping delegate's bytes; empty = nil

    bool operator==(const AckResp&) const = default;
};

// nackResp: an indirect probe that got no ack in time.
struct NackResp {
    std::uint32_t seq_no = 0; // SeqNo

    bool operator==(const NackResp&) const = default;
};

// errResp: a stream request the remote end could not handle.
struct ErrResp {
    std::string error{}; // Error

    bool operator==(const ErrResp&) const = default;
};

// suspect: broadcast when a node is suspected dead.
struct Suspect {
    std::uint32_t incarnation = 0; // Incarnation
    std::string node{};            // Node
    std::string from{};            // From: who suspects

    bool operator==(const Suspect&) const = default;
};

// alive: broadcast when a node is alive, and to join.
struct Alive {
    std::uint32_t incarnation = 0; // Incarnation
    std::string node{};            // Node
    Bytes addr{};                  // Addr: 4 or 16 bytes, as the node sent it
    std::uint16_t port = 0;        // Port
    Bytes meta{};                  // Meta: at most meta_max_size; empty = nil
    Bytes vsn{};                   // Vsn: pmin, pmax, pcur, dmin, dmax, dcur

    bool operator==(const Alive&) const = default;
};

// dead: broadcast when a node is confirmed dead, and (From == Node) on leave.
struct Dead {
    std::uint32_t incarnation = 0; // Incarnation
    std::string node{};            // Node
    std::string from{};            // From

    bool operator==(const Dead&) const = default;
};

// pushPullHeader: opens a push-pull stream.
struct PushPullHeader {
    std::int64_t nodes = 0;          // Nodes: count of PushNodeState that follow
    std::int64_t user_state_len = 0; // UserStateLen: bytes of user state after them
    bool join = false;               // Join: a join rather than anti-entropy

    bool operator==(const PushPullHeader&) const = default;
};

// userMsgHeader: opens a user message on a stream.
struct UserMsgHeader {
    std::int64_t user_msg_len = 0; // UserMsgLen

    bool operator==(const UserMsgHeader&) const = default;
};

// pushNodeState: one member in a push-pull exchange.
struct PushNodeState {
    std::string name{};                 // Name
    Bytes addr{};                       // Addr
    std::uint16_t port = 0;             // Port
    Bytes meta{};                       // Meta
    std::uint32_t incarnation = 0;      // Incarnation
    NodeState state = NodeState::alive; // State
    Bytes vsn{};                        // Vsn

    bool operator==(const PushNodeState&) const = default;
};

// compress: wraps a compressed message (packet or stream).
struct Compress {
    CompressionType algo = CompressionType::lzw; // Algo
    Bytes buf{};                                 // Buf

    bool operator==(const Compress&) const = default;
};

// A packet's user message (type 8): the bytes after the type byte.
struct UserMsg {
    Bytes payload{};

    bool operator==(const UserMsg&) const = default;
};

// What a packet can carry, once compound, CRC, compression and encryption
// are unwrapped (codec.hpp, packet.hpp).
using PacketMessage =
    std::variant<Ping, IndirectPingReq, AckResp, NackResp, Suspect, Alive, Dead, UserMsg>;

// A whole push-pull stream message: header, members, then user state.
struct PushPull {
    bool join = false;
    std::vector<PushNodeState> nodes{};
    Bytes user_state{};

    bool operator==(const PushPull&) const = default;
};

// What one stream request or answer can carry (stream.hpp). A stream's user
// message is UserMsg too (its header only frames it).
using StreamMessage = std::variant<PushPull, Ping, AckResp, ErrResp, UserMsg>;

} // namespace cairn::gossip
