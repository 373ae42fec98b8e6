#pragma once
// Tunables of the membership protocol, with memberlist's three timing profiles
// (DefaultLANConfig, DefaultWANConfig, DefaultLocalConfig in memberlist 0.2.2's
// config.go) and the identity this node advertises.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gossip/envelope.hpp"
#include "gossip/messages.hpp"
#include "gossip/time.hpp"

namespace cairn::gossip {

// The protocol version spoken by default (memberlist's
// ProtocolVersion2Compatible): peers understanding 3 get TCP fallback pings, 4
// nacks for indirect probes, 5 the CRC header, whatever version we speak.
inline constexpr std::uint8_t protocol_version_2_compatible = 2;

struct Config {
    // Unique in the cluster.
    std::string name;
    // Address and port advertised in alive messages and as the reply address
    // of pings: the bytes exactly as they go on the wire (4 bytes for IPv4,
    // 16 for IPv6), never changed between incarnations.
    std::vector<std::uint8_t> advertise_addr;
    std::uint16_t advertise_port = 7946;

    std::uint8_t protocol_version = protocol_version_2_compatible;
    // Delegate versions ride in Vsn; 0/0/0 is what a default memberlist peer
    // has, and its verifyProtocol accepts only a current version inside every
    // node's [min, max].
    std::uint8_t delegate_protocol_min = 0;
    std::uint8_t delegate_protocol_max = 0;
    std::uint8_t delegate_protocol_version = 0;

    // Stream (TCP) connect, read and write timeout.
    Duration tcp_timeout = seconds(10);
    // Peers asked to probe a node that missed a direct ping.
    int indirect_checks = 3;
    // Broadcasts are retransmitted retransmit_mult * ceil(log10(N+1)) times.
    int retransmit_mult = 4;
    // Suspicion lasts suspicion_mult * max(1, log10(N)) * probe_interval at
    // least and suspicion_max_timeout_mult times that at most.
    int suspicion_mult = 4;
    int suspicion_max_timeout_mult = 6;
    // Full state sync with one random node; 0 turns it off. Scaled up past 32
    // nodes (push_pull_scale).
    Duration push_pull_interval = seconds(30);
    Duration probe_interval = seconds(1);
    Duration probe_timeout = milliseconds(500);
    bool disable_tcp_pings = false;
    // Local health scales probe interval and timeouts up to this factor.
    int awareness_max_multiplier = 8;
    // Gossip of queued broadcasts to gossip_nodes random nodes; nodes dead for
    // less than gossip_to_the_dead_time still get gossip, so they can refute.
    Duration gossip_interval = milliseconds(200);
    int gossip_nodes = 3;
    Duration gossip_to_the_dead_time = seconds(30);
    // The largest packet the engine builds.
    std::size_t udp_buffer_size = 1400;
    // LZW-compress what is sent (memberlist's EnableCompression, on by
    // default there too): a stream, and a packet, whenever that makes it
    // smaller. Push-pull state shrinks to about a third.
    bool enable_compression = true;
    // A dead node's name may be taken by another address after this long;
    // 0 never (memberlist's default).
    Duration dead_node_reclaim_time{0};
    // Encryption: the keyring (not owned; keys may change while running)
    // and memberlist's GossipVerifyIncoming / GossipVerifyOutgoing switches.
    // The default, no keyring, is plaintext.
    Security security;

    // Not memberlist's but Serf's (Consul's layer above memberlist): every
    // reconnect_interval, try a push-pull join with one random node that
    // failed within reconnect_timeout, so that two sides of a healed partition
    // find each other again after both reaped the other. 0 turns it off.
    Duration reconnect_interval = seconds(30);
    Duration reconnect_timeout = std::chrono::hours(24);

    // memberlist's BuildVsnArray: pmin, pmax, pcur, dmin, dmax, dcur.
    [[nodiscard]] std::vector<std::uint8_t> vsn() const {
        return {protocol_version_min,  protocol_version_max,  protocol_version,
                delegate_protocol_min, delegate_protocol_max, delegate_protocol_version};
    }
};

// DefaultLANConfig: probe 1 s / 500 ms, 3 indirect checks, gossip 200 ms to 3,
// suspicion 4 (max 6x), retransmit 4, push-pull 30 s.
[[nodiscard]] Config lan_config();
// DefaultWANConfig: the LAN values with slower probes and longer suspicion.
[[nodiscard]] Config wan_config();
// DefaultLocalConfig: the LAN values tuned for loopback.
[[nodiscard]] Config local_config();
// "lan", "wan" or "local"; nothing for any other name.
[[nodiscard]] std::optional<Config> profile_config(std::string_view profile);

} // namespace cairn::gossip
