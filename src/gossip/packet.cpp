#include "gossip/packet.hpp"

#include <algorithm>
#include <cassert>

#include <zlib.h>

#include "gossip/codec.hpp"
#include "gossip/lzw.hpp"

namespace cairn::gossip {

namespace {

std::uint32_t crc32_ieee(std::span<const std::uint8_t> bytes) {
    // zlib's crc32 is Go's crc32.ChecksumIEEE; zlib takes a uInt length.
    uLong crc = crc32(0L, Z_NULL, 0);
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        std::size_t n = std::min<std::size_t>(bytes.size() - pos, 1u << 30);
        crc = crc32(crc, bytes.data() + pos, static_cast<uInt>(n));
        pos += n;
    }
    return static_cast<std::uint32_t>(crc);
}

class PacketDecoder {
public:
    PacketDecoder(const PacketLimits& limits, DecodedPacket& out)
        : limits_(limits)
        , out_(out) {}

    // One message of a packet (memberlist's handleCommand).
    Result<void> command(std::span<const std::uint8_t> msg, std::size_t depth) {
        if (msg.empty()) return fail("gossip: empty message");
        auto type = static_cast<MessageType>(msg[0]);
        if (type == MessageType::compound || type == MessageType::compress) {
            if (depth >= limits_.max_nesting)
                return fail("gossip: messages nested deeper than {}", limits_.max_nesting);
            if (type == MessageType::compound) return compound(msg.subspan(1), depth + 1);
            auto inner = decompress_payload(msg.subspan(1), limits_.max_decompressed);
            if (!inner) return std::unexpected(inner.error());
            return command(*inner, depth + 1);
        }
        auto m = decode_message(msg);
        if (!m) return std::unexpected(m.error());
        out_.messages.push_back(std::move(*m));
        out_.encoded.emplace_back(type, msg.size());
        return {};
    }

private:
    // memberlist's decodeCompoundMessage and handleCompound.
    Result<void> compound(std::span<const std::uint8_t> buf, std::size_t depth) {
        if (buf.empty()) return fail("gossip: compound without its count byte");
        std::size_t parts = buf[0];
        buf = buf.subspan(1);
        if (buf.size() < 2 * parts)
            return fail("gossip: compound of {} parts truncated in its lengths", parts);
        auto lengths = buf.first(2 * parts);
        buf = buf.subspan(2 * parts);
        for (std::size_t i = 0; i < parts; ++i) {
            std::size_t len = static_cast<std::size_t>(lengths[2 * i]) << 8 | lengths[2 * i + 1];
            if (buf.size() < len) {
                out_.truncated_parts += parts - i;
                break;
            }
            auto part = buf.first(len);
            buf = buf.subspan(len);
            if (auto ok = command(part, depth); !ok) out_.bad_parts.push_back(ok.error());
        }
        return {};
    }

    const PacketLimits& limits_;
    DecodedPacket& out_;
};

} // namespace

Result<DecodedPacket> decode_packet(std::span<const std::uint8_t> packet,
                                    const PacketLimits& limits) {
    DecodedPacket out;
    if (packet.size() >= crc_header_size &&
        packet[0] == static_cast<std::uint8_t>(MessageType::has_crc)) {
        std::uint32_t expected = static_cast<std::uint32_t>(packet[1]) << 24 |
                                 static_cast<std::uint32_t>(packet[2]) << 16 |
                                 static_cast<std::uint32_t>(packet[3]) << 8 | packet[4];
        packet = packet.subspan(crc_header_size);
        std::uint32_t actual = crc32_ieee(packet);
        if (actual != expected)
            return fail("gossip: packet checksum {:08x}, header says {:08x}", actual, expected);
        out.had_crc = true;
    }
    PacketDecoder decoder(limits, out);
    if (auto ok = decoder.command(packet, 0); !ok) return std::unexpected(ok.error());
    return out;
}

std::vector<std::span<const std::uint8_t>> packet_parts(std::span<const std::uint8_t> packet) {
    if (packet.size() < 2 || packet[0] != static_cast<std::uint8_t>(MessageType::compound))
        return {packet};
    std::size_t count = packet[1];
    std::span<const std::uint8_t> lengths = packet.subspan(2);
    std::span<const std::uint8_t> rest = lengths.subspan(std::min(lengths.size(), 2 * count));
    std::vector<std::span<const std::uint8_t>> parts;
    for (std::size_t i = 0; i < count && 2 * i + 1 < lengths.size(); ++i) {
        std::size_t len = static_cast<std::size_t>(lengths[2 * i]) << 8 | lengths[2 * i + 1];
        if (len > rest.size()) break;
        parts.push_back(rest.first(len));
        rest = rest.subspan(len);
    }
    return parts;
}

Bytes make_compound(std::span<const Bytes> parts) {
    Bytes out;
    std::size_t total = compound_header_overhead;
    for (const auto& p : parts) total += compound_part_overhead + p.size();
    out.reserve(total);
    out.push_back(static_cast<std::uint8_t>(MessageType::compound));
    out.push_back(static_cast<std::uint8_t>(parts.size()));
    for (const auto& p : parts) {
        out.push_back(static_cast<std::uint8_t>(p.size() >> 8));
        out.push_back(static_cast<std::uint8_t>(p.size()));
    }
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

Result<std::vector<Bytes>> make_compounds(std::span<const Bytes> parts) {
    std::vector<Bytes> out;
    std::vector<Bytes> batch;
    for (const auto& p : parts) {
        if (p.empty()) continue;
        if (p.size() > 0xffff)
            return fail("gossip: compound part of {} bytes (limit 65535)", p.size());
        batch.push_back(p);
        if (batch.size() == max_compound_parts) {
            out.push_back(make_compound(batch));
            batch.clear();
        }
    }
    if (!batch.empty()) out.push_back(make_compound(batch));
    return out;
}

Bytes add_crc(std::span<const std::uint8_t> message) {
    std::uint32_t crc = crc32_ieee(message);
    Bytes out;
    out.reserve(crc_header_size + message.size());
    out.push_back(static_cast<std::uint8_t>(MessageType::has_crc));
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(crc >> shift));
    out.insert(out.end(), message.begin(), message.end());
    return out;
}

Bytes compress_payload(std::span<const std::uint8_t> message) {
    return encode(Compress{CompressionType::lzw, lzw_compress(message)});
}

Result<Bytes> decompress_payload(std::span<const std::uint8_t> body, std::size_t max_output) {
    auto c = decode_body<Compress>(body);
    if (!c) return std::unexpected(c.error());
    if (c->algo != CompressionType::lzw)
        return fail("gossip: unknown compression algorithm {}", static_cast<int>(c->algo));
    return lzw_decompress(c->buf, max_output);
}

} // namespace cairn::gossip
