#pragma once
// Packets (UDP) as memberlist frames them (util.go, net.go), after any
// encryption is removed (security.hpp):
//
//   [12 has-CRC][crc32 BE, 4][message]      optional, checked when present
//   [7 compound][count][len BE u16 x count][part]...   parts are messages
//   [9 compress][msgpack compress{Algo, Buf}]          Buf is LZW of a message
//   [type][msgpack struct] | [8 user][payload]         codec.hpp
//
// Compound parts and compressed payloads are messages again and may nest (a
// compound inside a compressed message, as memberlist sends it); the depth is
// capped.

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "gossip/messages.hpp"

namespace cairn::gossip {

// memberlist's compound count is a byte; cairn puts at most this many parts
// in one compound packet and splits the rest into more packets.
inline constexpr std::size_t max_compound_parts = 127;
// Bytes a compound adds: type and count, then two per part (compoundHeaderOverhead,
// compoundOverhead).
inline constexpr std::size_t compound_header_overhead = 2;
inline constexpr std::size_t compound_part_overhead = 2;
inline constexpr std::size_t crc_header_size = 5;

struct PacketLimits {
    std::size_t max_nesting = 4;              // compound/compress inside each other
    std::size_t max_decompressed = 64 * 1024; // bytes out of one compressed message
};

struct DecodedPacket {
    std::vector<PacketMessage> messages;
    // For each of messages: its type and its size as encoded (after any
    // decompression, without the compound's framing).
    std::vector<std::pair<MessageType, std::size_t>> encoded;
    // Compound parts that were malformed or of a type a packet cannot carry:
    // memberlist logs and skips each, and handles the rest.
    std::vector<Error> bad_parts;
    // Parts a compound announced but the packet was too short for (memberlist
    // keeps the parts before them).
    std::size_t truncated_parts = 0;
    bool had_crc = false;
};

// Decodes a plaintext packet. The error cases drop the whole packet, as
// memberlist does: empty input, a CRC mismatch, a malformed compound header,
// a top-level message that does not decode.
Result<DecodedPacket> decode_packet(std::span<const std::uint8_t> packet,
                                    const PacketLimits& limits = {});

// The messages a packet made by this agent holds before compression: the
// parts of a compound, else the packet itself (for counting what is sent).
[[nodiscard]] std::vector<std::span<const std::uint8_t>>
packet_parts(std::span<const std::uint8_t> packet);

// One compound message of 1..255 non-empty parts of at most 65535 bytes each
// (makeCompoundMessage).
Bytes make_compound(std::span<const Bytes> parts);

// Splits parts into compound messages of at most max_compound_parts each,
// leaving out empty parts; a part longer than 65535 bytes is an error.
Result<std::vector<Bytes>> make_compounds(std::span<const Bytes> parts);

// Prefixes the has-CRC header (sent to peers whose protocol max is >= 5).
Bytes add_crc(std::span<const std::uint8_t> message);

// [9][compress{Algo: lzw, Buf: LZW of message}], as memberlist's
// compressPayload writes it (byte for byte). memberlist compresses every
// stream, and a packet when that makes it smaller.
[[nodiscard]] Bytes compress_payload(std::span<const std::uint8_t> message);

// The decompressed message inside a compress{} body (the bytes after the
// type byte 9), at most max_output bytes.
Result<Bytes> decompress_payload(std::span<const std::uint8_t> body, std::size_t max_output);

} // namespace cairn::gossip
