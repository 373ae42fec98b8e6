#pragma once
// Stream (TCP) framing as memberlist 0.2.2's net.go writes and reads it. One
// request per connection, one answer back:
//
//   push-pull: [6][pushPullHeader][pushNodeState x Nodes][UserStateLen bytes]
//   user:      [8][userMsgHeader][UserMsgLen bytes]
//   ping/ack:  [0][ping] -> [2][ackResp]      (the TCP fallback probe)
//   error:     [13][errResp]
//
// Either side may compress the whole message ([9][compress{...}], LZW of the
// above; a default memberlist does) and, with a keyring, seals it:
// [10][u32 BE length][sealed], the first five bytes being the additional
// data (security.hpp). Decryption comes first, then decompression.

#include <cstddef>
#include <optional>
#include <span>

#include "core/result.hpp"
#include "gossip/keyring.hpp"
#include "gossip/messages.hpp"

namespace cairn::gossip {

struct StreamLimits {
    std::size_t max_stream_bytes = 20 * 1024 * 1024; // memberlist's maxPushStateBytes
    std::size_t max_nodes = 65536;                   // pushNodeStates in one push-pull
    std::size_t max_user_bytes = 20 * 1024 * 1024;   // user state or user message
    std::size_t max_decompressed = 20 * 1024 * 1024; // out of one compressed stream
};

struct DecodedStream {
    StreamMessage message;
    std::size_t consumed = 0; // bytes of the input the message took
    bool encrypted = false;
    bool compressed = false;
    std::size_t message_bytes = 0; // the message as encoded, after decryption and decompression
};

// Decodes the stream message at the start of `received`, the bytes read from
// the connection so far. Returns nullopt while they are a valid beginning of
// a message (read more, then call again with everything read), the message
// once complete, or an error (answer with errResp or close). An encrypted
// stream needs a keyring with keys; whether a plaintext stream is acceptable
// when encryption is on (memberlist's GossipVerifyIncoming) is the caller's
// decision, from `encrypted`. When no key opens a sealed stream,
// *open_failed is set, if given.
Result<std::optional<DecodedStream>> decode_stream(std::span<const std::uint8_t> received,
                                                   const Keyring* keyring,
                                                   const StreamLimits& limits = {},
                                                   bool* open_failed = nullptr);

// [6][header][nodes][user state], as sendLocalState writes it.
Bytes encode_push_pull(const PushPull& state);
// [8][userMsgHeader][payload], as sendUserMsg writes it.
Bytes encode_stream_user(std::span<const std::uint8_t> payload);
// Ping, ack and err streams are encode(m) of codec.hpp; seal_stream()
// (security.hpp) encrypts any of them.

} // namespace cairn::gossip
