#include "gossip/codec.hpp"

#include <limits>
#include <string_view>

namespace cairn::gossip {

namespace {

using msgpack::Reader;
using msgpack::Writer;

// Field readers: nil is the zero value, as in go-msgpack.
Result<void> get(Reader& r, std::string& out) {
    auto v = r.read_string();
    if (!v) return std::unexpected(v.error());
    out = std::move(*v);
    return {};
}

Result<void> get(Reader& r, Bytes& out) {
    auto v = r.read_bytes();
    if (!v) return std::unexpected(v.error());
    out = std::move(*v);
    return {};
}

Result<void> get(Reader& r, bool& out) {
    if (r.try_nil()) {
        out = false;
        return {};
    }
    auto v = r.read_bool();
    if (!v) return std::unexpected(v.error());
    out = *v;
    return {};
}

template <class U>
requires std::is_unsigned_v<U> Result<void> get(Reader& r, U& out) {
    if (r.try_nil()) {
        out = 0;
        return {};
    }
    auto v = r.read_uint(std::numeric_limits<U>::max());
    if (!v) return std::unexpected(v.error());
    out = static_cast<U>(*v);
    return {};
}

// Go int fields that hold a count or a length: negative is malformed.
Result<void> get_count(Reader& r, std::int64_t& out) {
    if (r.try_nil()) {
        out = 0;
        return {};
    }
    auto v = r.read_int(0, std::numeric_limits<std::int64_t>::max());
    if (!v) return std::unexpected(v.error());
    out = *v;
    return {};
}

Result<void> get(Reader& r, NodeState& out) {
    std::int64_t v = 0;
    if (!r.try_nil()) {
        auto n = r.read_int(std::numeric_limits<std::int64_t>::min(),
                            std::numeric_limits<std::int64_t>::max());
        if (!n) return std::unexpected(n.error());
        v = *n;
    }
    // Kept as sent: memberlist stores whatever int arrives.
    out = static_cast<NodeState>(v);
    return {};
}

Result<void> get(Reader& r, CompressionType& out) {
    std::uint8_t v = 0;
    if (auto ok = get(r, v); !ok) return ok;
    out = static_cast<CompressionType>(v);
    return {};
}

// Reads a struct map: `field(key)` reads the value of a known key and returns
// true, or returns false and the value is skipped.
template <class Field>
Result<void> read_map(Reader& r, Field&& field) {
    auto n = r.map_header();
    if (!n) return std::unexpected(n.error());
    for (std::size_t i = 0; i < *n; ++i) {
        auto key = r.read_string();
        if (!key) return std::unexpected(key.error());
        auto known = field(std::string_view(*key));
        if (!known) return std::unexpected(known.error());
        if (!*known)
            if (auto ok = r.skip(); !ok) return ok;
    }
    return {};
}

// Adapts a get() result to read_map's "known key" result.
Result<bool> known(Result<void> ok) {
    if (!ok) return std::unexpected(ok.error());
    return true;
}

// Writes a map key; its value follows on the returned writer.
Writer& key(Writer& w, std::string_view name) {
    w.raw(name);
    return w;
}

} // namespace

// Keys are written in sorted order, as go-msgpack writes struct maps; the
// golden tests compare every message with memberlist's own bytes.

void write(Writer& w, const Ping& m) {
    // SourceAddr, SourcePort and SourceNode are `codec:",omitempty"`.
    std::size_t n = 2 + !m.source_addr.empty() + !m.source_node.empty() + (m.source_port != 0);
    w.map_header(n);
    key(w, "Node").raw(m.node);
    key(w, "SeqNo").uint(m.seq_no);
    if (!m.source_addr.empty()) key(w, "SourceAddr").raw(m.source_addr);
    if (!m.source_node.empty()) key(w, "SourceNode").raw(m.source_node);
    if (m.source_port != 0) key(w, "SourcePort").uint(m.source_port);
}

void write(Writer& w, const IndirectPingReq& m) {
    std::size_t n = 5 + !m.source_addr.empty() + !m.source_node.empty() + (m.source_port != 0);
    w.map_header(n);
    key(w, "Nack").boolean(m.nack);
    key(w, "Node").raw(m.node);
    key(w, "Port").uint(m.port);
    key(w, "SeqNo").uint(m.seq_no);
    if (!m.source_addr.empty()) key(w, "SourceAddr").raw(m.source_addr);
    if (!m.source_node.empty()) key(w, "SourceNode").raw(m.source_node);
    if (m.source_port != 0) key(w, "SourcePort").uint(m.source_port);
    key(w, "Target").bytes_or_nil(m.target);
}

void write(Writer& w, const AckResp& m) {
    w.map_header(2);
    key(w, "Payload").bytes_or_nil(m.payload);
    key(w, "SeqNo").uint(m.seq_no);
}

void write(Writer& w, const NackResp& m) {
    w.map_header(1);
    key(w, "SeqNo").uint(m.seq_no);
}

void write(Writer& w, const ErrResp& m) {
    w.map_header(1);
    key(w, "Error").raw(m.error);
}

void write(Writer& w, const Suspect& m) {
    w.map_header(3);
    key(w, "From").raw(m.from);
    key(w, "Incarnation").uint(m.incarnation);
    key(w, "Node").raw(m.node);
}

void write(Writer& w, const Alive& m) {
    w.map_header(6);
    key(w, "Addr").bytes_or_nil(m.addr);
    key(w, "Incarnation").uint(m.incarnation);
    key(w, "Meta").bytes_or_nil(m.meta);
    key(w, "Node").raw(m.node);
    key(w, "Port").uint(m.port);
    key(w, "Vsn").bytes_or_nil(m.vsn);
}

void write(Writer& w, const Dead& m) {
    w.map_header(3);
    key(w, "From").raw(m.from);
    key(w, "Incarnation").uint(m.incarnation);
    key(w, "Node").raw(m.node);
}

void write(Writer& w, const PushPullHeader& m) {
    w.map_header(3);
    key(w, "Join").boolean(m.join);
    key(w, "Nodes").sint(m.nodes);
    key(w, "UserStateLen").sint(m.user_state_len);
}

void write(Writer& w, const UserMsgHeader& m) {
    w.map_header(1);
    key(w, "UserMsgLen").sint(m.user_msg_len);
}

void write(Writer& w, const PushNodeState& m) {
    w.map_header(7);
    key(w, "Addr").bytes_or_nil(m.addr);
    key(w, "Incarnation").uint(m.incarnation);
    key(w, "Meta").bytes_or_nil(m.meta);
    key(w, "Name").raw(m.name);
    key(w, "Port").uint(m.port);
    key(w, "State").sint(static_cast<std::int64_t>(m.state));
    key(w, "Vsn").bytes_or_nil(m.vsn);
}

void write(Writer& w, const Compress& m) {
    w.map_header(2);
    key(w, "Algo").uint(static_cast<std::uint8_t>(m.algo));
    key(w, "Buf").bytes_or_nil(m.buf);
}

Result<void> read(Reader& r, Ping& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "SeqNo") return known(get(r, m.seq_no));
        if (k == "Node") return known(get(r, m.node));
        if (k == "SourceAddr") return known(get(r, m.source_addr));
        if (k == "SourcePort") return known(get(r, m.source_port));
        if (k == "SourceNode") return known(get(r, m.source_node));
        return false;
    });
}

Result<void> read(Reader& r, IndirectPingReq& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "SeqNo") return known(get(r, m.seq_no));
        if (k == "Target") return known(get(r, m.target));
        if (k == "Port") return known(get(r, m.port));
        if (k == "Node") return known(get(r, m.node));
        if (k == "Nack") return known(get(r, m.nack));
        if (k == "SourceAddr") return known(get(r, m.source_addr));
        if (k == "SourcePort") return known(get(r, m.source_port));
        if (k == "SourceNode") return known(get(r, m.source_node));
        return false;
    });
}

Result<void> read(Reader& r, AckResp& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "SeqNo") return known(get(r, m.seq_no));
        if (k == "Payload") return known(get(r, m.payload));
        return false;
    });
}

Result<void> read(Reader& r, NackResp& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "SeqNo") return known(get(r, m.seq_no));
        return false;
    });
}

Result<void> read(Reader& r, ErrResp& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "Error") return known(get(r, m.error));
        return false;
    });
}

// suspect and dead have the same fields.
template <class SuspectOrDead>
Result<void> read_incarnation_node_from(Reader& r, SuspectOrDead& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "Incarnation") return known(get(r, m.incarnation));
        if (k == "Node") return known(get(r, m.node));
        if (k == "From") return known(get(r, m.from));
        return false;
    });
}

Result<void> read(Reader& r, Suspect& m) {
    return read_incarnation_node_from(r, m);
}

Result<void> read(Reader& r, Dead& m) {
    return read_incarnation_node_from(r, m);
}

Result<void> read(Reader& r, Alive& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "Incarnation") return known(get(r, m.incarnation));
        if (k == "Node") return known(get(r, m.node));
        if (k == "Addr") return known(get(r, m.addr));
        if (k == "Port") return known(get(r, m.port));
        if (k == "Meta") return known(get(r, m.meta));
        if (k == "Vsn") return known(get(r, m.vsn));
        return false;
    });
}

Result<void> read(Reader& r, PushPullHeader& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "Nodes") return known(get_count(r, m.nodes));
        if (k == "UserStateLen") return known(get_count(r, m.user_state_len));
        if (k == "Join") return known(get(r, m.join));
        return false;
    });
}

Result<void> read(Reader& r, UserMsgHeader& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "UserMsgLen") return known(get_count(r, m.user_msg_len));
        return false;
    });
}

Result<void> read(Reader& r, PushNodeState& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "Name") return known(get(r, m.name));
        if (k == "Addr") return known(get(r, m.addr));
        if (k == "Port") return known(get(r, m.port));
        if (k == "Meta") return known(get(r, m.meta));
        if (k == "Incarnation") return known(get(r, m.incarnation));
        if (k == "State") return known(get(r, m.state));
        if (k == "Vsn") return known(get(r, m.vsn));
        return false;
    });
}

Result<void> read(Reader& r, Compress& m) {
    return read_map(r, [&](std::string_view k) -> Result<bool> {
        if (k == "Algo") return known(get(r, m.algo));
        if (k == "Buf") return known(get(r, m.buf));
        return false;
    });
}

Bytes encode_user(std::span<const std::uint8_t> payload) {
    Bytes out;
    out.reserve(1 + payload.size());
    out.push_back(static_cast<std::uint8_t>(MessageType::user));
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

namespace {

template <class T>
Result<PacketMessage> body_as(std::span<const std::uint8_t> body) {
    auto m = decode_body<T>(body);
    if (!m) return std::unexpected(m.error());
    return PacketMessage(std::move(*m));
}

} // namespace

Result<PacketMessage> decode_message(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return fail("gossip: empty message");
    auto body = bytes.subspan(1);
    switch (static_cast<MessageType>(bytes[0])) {
    case MessageType::ping:
        return body_as<Ping>(body);
    case MessageType::indirect_ping:
        return body_as<IndirectPingReq>(body);
    case MessageType::ack_resp:
        return body_as<AckResp>(body);
    case MessageType::nack_resp:
        return body_as<NackResp>(body);
    case MessageType::suspect:
        return body_as<Suspect>(body);
    case MessageType::alive:
        return body_as<Alive>(body);
    case MessageType::dead:
        return body_as<Dead>(body);
    case MessageType::user:
        return PacketMessage(UserMsg{Bytes(body.begin(), body.end())});
    default:
        return fail("gossip: message type {} is not a plain packet message", bytes[0]);
    }
}

} // namespace cairn::gossip
