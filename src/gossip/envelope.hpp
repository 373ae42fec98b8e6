#pragma once
// What wraps every packet and stream on its way out and in, with
// memberlist's encryption switches: the whole of memberlist's
// rawSendMsgPacket/ingestPacket and rawSendMsgStream/readStream except the
// sockets. The transport calls these four and nothing below them.
//
//   out: message -> [has-CRC if the peer's protocol max >= 5] -> [sealed]
//   in:  [opened; or taken as plaintext if verify_incoming is off] -> decoded
//
// Compression comes before these (the engine compresses a message, when
// that makes it smaller, with compress_payload in packet.hpp).

#include <cstdint>
#include <optional>
#include <span>

#include "core/result.hpp"
#include "gossip/keyring.hpp"
#include "gossip/packet.hpp"
#include "gossip/security.hpp"
#include "gossip/stream.hpp"

namespace cairn::gossip {

struct Security {
    const Keyring* keyring = nullptr; // null or no keys: encryption off
    // GossipVerifyIncoming: refuse what is not sealed with one of our keys.
    // Off while keys roll out to a cluster that was plaintext.
    bool verify_incoming = true;
    // GossipVerifyOutgoing: seal what we send. Off (with incoming off too)
    // for the first step of turning encryption on.
    bool verify_outgoing = true;
    // Our protocol version picks it (encryption_version()).
    EncryptionVersion version = EncryptionVersion::plain;

    bool enabled() const { return keyring != nullptr && keyring->enabled(); }
};

struct IncomingPacket {
    DecodedPacket packet;
    bool decrypted = false; // false: plaintext (encryption off, or accepted unverified)
};

// A datagram as received. Errors: sealing refused (encryption on,
// verify_incoming, no key opens it; then *open_failed is set, if given),
// then decode_packet()'s.
Result<IncomingPacket> read_packet(std::span<const std::uint8_t> datagram, const Security& security,
                                   const PacketLimits& limits = {}, bool* open_failed = nullptr);

// A message (or compound) ready to send to a peer whose protocol max is
// peer_pmax (0 if the peer is not known yet: no CRC).
Result<Bytes> write_packet(std::span<const std::uint8_t> message, std::uint8_t peer_pmax,
                           const Security& security);

// decode_stream() with memberlist's rules: an encrypted stream needs
// encryption on; with encryption on and verify_incoming, a plaintext stream
// is an error. Either, or a sealed stream no key opens, sets *open_failed
// if given.
Result<std::optional<DecodedStream>> read_stream(std::span<const std::uint8_t> received,
                                                 const Security& security,
                                                 const StreamLimits& limits = {},
                                                 bool* open_failed = nullptr);

// A whole stream message ([type]...) ready to write, sealed when encryption
// is on and verify_outgoing.
Result<Bytes> write_stream(std::span<const std::uint8_t> message, const Security& security);

} // namespace cairn::gossip
