#include "gossip/envelope.hpp"

namespace cairn::gossip {

Result<IncomingPacket> read_packet(std::span<const std::uint8_t> datagram, const Security& security,
                                   const PacketLimits& limits, bool* open_failed) {
    IncomingPacket in;
    Bytes opened;
    std::span<const std::uint8_t> plain = datagram;
    if (security.enabled()) {
        auto o = open_packet(*security.keyring, datagram);
        if (o) {
            opened = std::move(*o);
            plain = opened;
            in.decrypted = true;
        } else if (security.verify_incoming) {
            if (open_failed) *open_failed = true;
            return std::unexpected(o.error());
        }
        // else: as memberlist, take the datagram as plaintext.
    }
    auto decoded = decode_packet(plain, limits);
    if (!decoded) return std::unexpected(decoded.error());
    in.packet = std::move(*decoded);
    return in;
}

Result<Bytes> write_packet(std::span<const std::uint8_t> message, std::uint8_t peer_pmax,
                           const Security& security) {
    Bytes out = peer_pmax >= 5 ? add_crc(message) : Bytes(message.begin(), message.end());
    if (security.enabled() && security.verify_outgoing)
        return seal_packet(*security.keyring, security.version, out);
    return out;
}

Result<std::optional<DecodedStream>> read_stream(std::span<const std::uint8_t> received,
                                                 const Security& security,
                                                 const StreamLimits& limits, bool* open_failed) {
    if (received.empty()) return std::nullopt;
    bool sealed = received[0] == static_cast<std::uint8_t>(MessageType::encrypt);
    if (!sealed && security.enabled() && security.verify_incoming) {
        if (open_failed) *open_failed = true;
        return fail("gossip: encryption is configured but remote state is not encrypted");
    }
    return decode_stream(received, security.keyring, limits, open_failed);
}

Result<Bytes> write_stream(std::span<const std::uint8_t> message, const Security& security) {
    if (security.enabled() && security.verify_outgoing)
        return seal_stream(*security.keyring, security.version, message);
    return Bytes(message.begin(), message.end());
}

} // namespace cairn::gossip
