#pragma once
// One memberlist message to and from bytes, as memberlist's encode() and
// decode() (util.go) do it with go-msgpack: a message is its type byte
// followed by its struct as a msgpack map, keyed by the Go field names in
// sorted order (go-msgpack sorts struct fields by name when writing maps),
// `omitempty` fields left out when empty, empty byte fields written as nil.
//
//   Bytes packet = encode(Alive{...});           // [4] + map
//   auto msg = decode_message(packet);            // Result<PacketMessage>
//   if (msg) if (auto* a = std::get_if<Alive>(&*msg)) ...
//
// Reading follows go-msgpack's decoder: keys in any order, unknown keys
// skipped, a later duplicate key wins, missing fields stay zero, integers of
// any width accepted if they fit the Go field. Wrappers (compound, CRC,
// compress, encrypt) are packet.hpp's and security.hpp's; stream framing is
// stream.hpp's.

#include <span>
#include <variant>

#include "core/result.hpp"
#include "gossip/messages.hpp"
#include "gossip/msgpack.hpp"

namespace cairn::gossip {

// The struct alone, as a msgpack map (no type byte).
void write(msgpack::Writer& w, const Ping& m);
void write(msgpack::Writer& w, const IndirectPingReq& m);
void write(msgpack::Writer& w, const AckResp& m);
void write(msgpack::Writer& w, const NackResp& m);
void write(msgpack::Writer& w, const ErrResp& m);
void write(msgpack::Writer& w, const Suspect& m);
void write(msgpack::Writer& w, const Alive& m);
void write(msgpack::Writer& w, const Dead& m);
void write(msgpack::Writer& w, const PushPullHeader& m);
void write(msgpack::Writer& w, const UserMsgHeader& m);
void write(msgpack::Writer& w, const PushNodeState& m);
void write(msgpack::Writer& w, const Compress& m);

// Reads one struct map from r into m (fields absent from the map keep the
// value m had).
Result<void> read(msgpack::Reader& r, Ping& m);
Result<void> read(msgpack::Reader& r, IndirectPingReq& m);
Result<void> read(msgpack::Reader& r, AckResp& m);
Result<void> read(msgpack::Reader& r, NackResp& m);
Result<void> read(msgpack::Reader& r, ErrResp& m);
Result<void> read(msgpack::Reader& r, Suspect& m);
Result<void> read(msgpack::Reader& r, Alive& m);
Result<void> read(msgpack::Reader& r, Dead& m);
Result<void> read(msgpack::Reader& r, PushPullHeader& m);
Result<void> read(msgpack::Reader& r, UserMsgHeader& m);
Result<void> read(msgpack::Reader& r, PushNodeState& m);
Result<void> read(msgpack::Reader& r, Compress& m);

// The message type each struct travels under.
constexpr MessageType message_type(const Ping&) {
    return MessageType::ping;
}
constexpr MessageType message_type(const IndirectPingReq&) {
    return MessageType::indirect_ping;
}
constexpr MessageType message_type(const AckResp&) {
    return MessageType::ack_resp;
}
constexpr MessageType message_type(const NackResp&) {
    return MessageType::nack_resp;
}
constexpr MessageType message_type(const ErrResp&) {
    return MessageType::err;
}
constexpr MessageType message_type(const Suspect&) {
    return MessageType::suspect;
}
constexpr MessageType message_type(const Alive&) {
    return MessageType::alive;
}
constexpr MessageType message_type(const Dead&) {
    return MessageType::dead;
}
constexpr MessageType message_type(const Compress&) {
    return MessageType::compress;
}
constexpr MessageType message_type(const PushPull&) {
    return MessageType::push_pull;
}
constexpr MessageType message_type(const UserMsg&) {
    return MessageType::user;
}
// The type of whichever message a variant holds.
template <class... Ts>
constexpr MessageType message_type(const std::variant<Ts...>& m) {
    return std::visit([](const auto& v) { return message_type(v); }, m);
}

// Type byte + map: what memberlist's encode(msgType, &msg) returns. Usable as
// a packet, a compound part, or (ping, ack, err) a whole stream.
template <class T>
Bytes encode(const T& m) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(message_type(m)));
    msgpack::Writer w(out);
    write(w, m);
    return out;
}

// A packet's user message: type byte 8 and the payload as is.
Bytes encode_user(std::span<const std::uint8_t> payload);

// Decodes a message without wrappers: ping, indirect ping, ack, nack,
// suspect, alive, dead or user. Anything else (compound, compress, CRC,
// encrypt, push-pull, err, unknown types) is an error here; decode_packet()
// in packet.hpp unwraps compound, CRC and compression first.
Result<PacketMessage> decode_message(std::span<const std::uint8_t> bytes);

// The struct map alone (no type byte) into T; like memberlist's decode(),
// bytes after the map are ignored.
template <class T>
Result<T> decode_body(std::span<const std::uint8_t> body, msgpack::Limits limits = {}) {
    msgpack::Reader r(body, limits);
    T m{};
    if (auto ok = read(r, m); !ok) return std::unexpected(ok.error());
    return m;
}

} // namespace cairn::gossip
