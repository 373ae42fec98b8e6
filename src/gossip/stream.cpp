#include "gossip/stream.hpp"

#include "gossip/codec.hpp"
#include "gossip/packet.hpp"
#include "gossip/security.hpp"

namespace cairn::gossip {

namespace {

// Reads the message after the type byte from `r`. The raw bytes after a
// push-pull's nodes or a user message's header (which msgpack does not
// frame) are counted in tail_bytes(); truncated() says the input ended early.
class StreamBody {
public:
    StreamBody(msgpack::Reader& r, const StreamLimits& limits)
        : r_(r)
        , limits_(limits) {}

    bool truncated() const { return truncated_ || r_.truncated(); }
    std::size_t tail_bytes() const { return tail_bytes_; }

    Result<StreamMessage> read(MessageType type) {
        switch (type) {
        case MessageType::push_pull:
            return push_pull();
        case MessageType::user:
            return user();
        case MessageType::ping:
            return one<Ping>();
        case MessageType::ack_resp:
            return one<AckResp>();
        case MessageType::err:
            return one<ErrResp>();
        default:
            return fail("gossip: stream message type {} not handled", static_cast<int>(type));
        }
    }

private:
    template <class T>
    Result<StreamMessage> one() {
        T m{};
        if (auto ok = gossip::read(r_, m); !ok) return std::unexpected(ok.error());
        return StreamMessage(std::move(m));
    }

    Result<Bytes> tail(std::int64_t size, const char* what) {
        if (static_cast<std::uint64_t>(size) > limits_.max_user_bytes)
            return fail("gossip: {} of {} bytes (limit {})", what, size, limits_.max_user_bytes);
        auto rest = r_.rest();
        if (rest.size() < static_cast<std::uint64_t>(size)) {
            truncated_ = true;
            return fail("gossip: {} truncated", what);
        }
        tail_bytes_ = static_cast<std::size_t>(size);
        return Bytes(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(size));
    }

    Result<StreamMessage> push_pull() {
        PushPullHeader header;
        if (auto ok = gossip::read(r_, header); !ok) return std::unexpected(ok.error());
        if (static_cast<std::uint64_t>(header.nodes) > limits_.max_nodes)
            return fail("gossip: push-pull of {} nodes (limit {})", header.nodes,
                        limits_.max_nodes);
        PushPull out;
        out.join = header.join;
        out.nodes.reserve(static_cast<std::size_t>(std::min<std::int64_t>(header.nodes, 1024)));
        for (std::int64_t i = 0; i < header.nodes; ++i) {
            PushNodeState node;
            if (auto ok = gossip::read(r_, node); !ok) return std::unexpected(ok.error());
            out.nodes.push_back(std::move(node));
        }
        if (header.user_state_len > 0) {
            auto user = tail(header.user_state_len, "push-pull user state");
            if (!user) return std::unexpected(user.error());
            out.user_state = std::move(*user);
        }
        return StreamMessage(std::move(out));
    }

    Result<StreamMessage> user() {
        UserMsgHeader header;
        if (auto ok = gossip::read(r_, header); !ok) return std::unexpected(ok.error());
        UserMsg out;
        if (header.user_msg_len > 0) {
            auto payload = tail(header.user_msg_len, "stream user message");
            if (!payload) return std::unexpected(payload.error());
            out.payload = std::move(*payload);
        }
        return StreamMessage(std::move(out));
    }

    msgpack::Reader& r_;
    const StreamLimits& limits_;
    bool truncated_ = false;
    std::size_t tail_bytes_ = 0;
};

struct Body {
    Result<StreamMessage> message;
    bool truncated = false;
    std::size_t consumed = 0;
};

// Decodes [type][body] from bytes (type byte included).
Body decode_body_at(std::span<const std::uint8_t> bytes, const StreamLimits& limits) {
    msgpack::Reader r(bytes.subspan(1));
    StreamBody body(r, limits);
    auto message = body.read(static_cast<MessageType>(bytes[0]));
    return {std::move(message), body.truncated(), 1 + r.offset() + body.tail_bytes()};
}

// A complete plaintext message (decrypted, or known to be all there): no
// more bytes can come, so truncation is an error.
Result<DecodedStream> decode_complete(std::span<const std::uint8_t> plain,
                                      const StreamLimits& limits, DecodedStream out) {
    if (plain.empty()) return fail("gossip: empty stream message");
    Bytes decompressed;
    if (plain[0] == static_cast<std::uint8_t>(MessageType::compress)) {
        auto inner = decompress_payload(plain.subspan(1), limits.max_decompressed);
        if (!inner) return std::unexpected(inner.error());
        if (inner->empty()) return fail("gossip: empty compressed stream message");
        decompressed = std::move(*inner);
        plain = decompressed;
        out.compressed = true;
    }
    auto body = decode_body_at(plain, limits);
    if (!body.message) return std::unexpected(body.message.error());
    out.message = std::move(*body.message);
    out.message_bytes = body.consumed;
    return out;
}

} // namespace

Result<std::optional<DecodedStream>> decode_stream(std::span<const std::uint8_t> received,
                                                   const Keyring* keyring,
                                                   const StreamLimits& limits, bool* open_failed) {
    if (received.empty()) return std::nullopt;
    auto type = static_cast<MessageType>(received[0]);

    if (type == MessageType::encrypt) {
        if (keyring == nullptr || !keyring->enabled()) {
            if (open_failed) *open_failed = true;
            return fail("gossip: remote state is encrypted and encryption is not configured");
        }
        if (received.size() < stream_encrypt_header) return std::nullopt;
        std::size_t sealed_size = static_cast<std::size_t>(received[1]) << 24 |
                                  static_cast<std::size_t>(received[2]) << 16 |
                                  static_cast<std::size_t>(received[3]) << 8 | received[4];
        if (sealed_size > std::min(limits.max_stream_bytes, max_push_state_bytes))
            return fail("gossip: remote node state is larger than limit ({} bytes)", sealed_size);
        if (received.size() - stream_encrypt_header < sealed_size) return std::nullopt;
        auto plain =
            decrypt_payload(keyring->keys(), received.subspan(stream_encrypt_header, sealed_size),
                            received.first(stream_encrypt_header));
        if (!plain) {
            if (open_failed) *open_failed = true;
            return std::unexpected(plain.error());
        }
        DecodedStream out{.message = ErrResp{},
                          .consumed = stream_encrypt_header + sealed_size,
                          .encrypted = true};
        auto decoded = decode_complete(*plain, limits, std::move(out));
        if (!decoded) return std::unexpected(decoded.error());
        return std::optional(std::move(*decoded));
    }

    if (received.size() > limits.max_stream_bytes)
        return fail("gossip: stream message larger than {} bytes", limits.max_stream_bytes);

    if (type == MessageType::compress) {
        // The compress{} map must be complete before anything else.
        msgpack::Reader r(received.subspan(1));
        Compress c;
        if (auto ok = read(r, c); !ok) {
            if (r.truncated()) return std::nullopt;
            return std::unexpected(ok.error());
        }
        std::size_t consumed = 1 + r.offset();
        DecodedStream out{.message = ErrResp{}, .consumed = consumed};
        auto decoded = decode_complete(received.first(consumed), limits, std::move(out));
        if (!decoded) return std::unexpected(decoded.error());
        return std::optional(std::move(*decoded));
    }

    auto body = decode_body_at(received, limits);
    if (!body.message) {
        if (body.truncated) return std::nullopt;
        return std::unexpected(body.message.error());
    }
    return std::optional(DecodedStream{.message = std::move(*body.message),
                                       .consumed = body.consumed,
                                       .message_bytes = body.consumed});
}

Bytes encode_push_pull(const PushPull& state) {
    Bytes out = {static_cast<std::uint8_t>(MessageType::push_pull)};
    msgpack::Writer w(out);
    write(w, PushPullHeader{.nodes = static_cast<std::int64_t>(state.nodes.size()),
                            .user_state_len = static_cast<std::int64_t>(state.user_state.size()),
                            .join = state.join});
    for (const auto& node : state.nodes) write(w, node);
    out.insert(out.end(), state.user_state.begin(), state.user_state.end());
    return out;
}

Bytes encode_stream_user(std::span<const std::uint8_t> payload) {
    Bytes out = {static_cast<std::uint8_t>(MessageType::user)};
    msgpack::Writer w(out);
    write(w, UserMsgHeader{.user_msg_len = static_cast<std::int64_t>(payload.size())});
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

} // namespace cairn::gossip
