#pragma once
// SWIM membership with memberlist's Lifeguard refinements, as one engine that
// its owner drives (memberlist's Memberlist, state.go and net.go). It never
// reads a clock, sleeps, or touches a socket:
//
//   - every call takes `now`; the owner calls tick(now) when next_deadline()
//     is reached (a libuv timer in the agent, a manual clock in tests);
//   - arriving datagrams go to on_packet(), inbound stream bytes to
//     on_stream(), answers to our own streams to on_stream_response() /
//     on_stream_failed();
//   - everything outbound goes through the Transport.
//
// One thread: the owner's. Delegates are called from inside these calls.
//
// The file split follows memberlist: memberlist.cpp (life cycle, the public
// calls), state.cpp (probing, gossip, push-pull scheduling, alive / suspect /
// dead), net.cpp (packet and stream handlers, sending).

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip/awareness.hpp"
#include "gossip/config.hpp"
#include "gossip/delegate.hpp"
#include "gossip/messages.hpp"
#include "gossip/queue.hpp"
#include "gossip/state.hpp"
#include "gossip/suspicion.hpp"
#include "gossip/time.hpp"
#include "gossip/transport.hpp"
#include "gossip/util.hpp"

namespace cairn::gossip {

// announce() sends to at most this many members directly.
inline constexpr std::size_t announce_limit = 256;
// Messages shorter than this are sent as they are: LZW's clear and end codes
// and the compress wrapper (about 15 bytes) leave nothing to gain.
inline constexpr std::size_t min_compress_size = 64;

// What on_stream() wants done with an inbound stream.
struct StreamReply {
    enum class Status {
        incomplete, // call again with more bytes (the transport keeps reading)
        done,       // write `reply` if not empty, then close
    };
    Status status = Status::done;
    Bytes reply;
};

// Counters for metrics and tests.
// Messages and their encoded bytes, by memberlist message type.
struct MessageTally {
    static constexpr std::size_t types = 14; // ping (0) to err (13)
    std::array<std::uint64_t, types> messages{};
    std::array<std::uint64_t, types> bytes{};

    void add(MessageType type, std::size_t size) noexcept {
        auto t = static_cast<std::size_t>(type);
        if (t >= types) return;
        ++messages[t];
        bytes[t] += size;
    }
    // An encoded message: its type is its first byte.
    void add(std::span<const std::uint8_t> message) noexcept {
        if (!message.empty()) add(static_cast<MessageType>(message[0]), message.size());
    }
};

struct MemberlistStats {
    std::uint64_t packets_received = 0;
    std::uint64_t packets_dropped = 0; // undecodable, bad CRC, wrong recipient
    std::uint64_t packets_sent = 0;
    std::uint64_t streams_received = 0;
    std::uint64_t streams_opened = 0;
    std::uint64_t probes = 0;
    std::uint64_t probes_failed = 0; // ended in suspicion
    std::uint64_t refutes = 0;
    std::uint64_t push_pulls = 0;              // completed, either side
    std::uint64_t suspicions = 0;              // members this agent marked suspect
    std::uint64_t decrypt_failures = 0;        // datagrams no key opened (of packets_dropped)
    std::uint64_t stream_decrypt_failures = 0; // streams no key opened
    // Messages by type, as encoded: each part of a compound on its own,
    // without compression, CRC or sealing.
    MessageTally udp_sent, udp_received, tcp_sent, tcp_received;
};

class Memberlist {
public:
    // Starts as the only member, alive with incarnation 1 (memberlist's
    // Create). `seed` feeds every random choice; periodic work starts with a
    // random stagger after `now`.
    Memberlist(Config config, Transport& transport, Delegates delegates, std::uint64_t seed,
               TimePoint now);
    ~Memberlist();
    Memberlist(const Memberlist&) = delete;
    Memberlist& operator=(const Memberlist&) = delete;

    // --- driven by the owner -------------------------------------------------

    // The earliest time tick() has work to do.
    [[nodiscard]] TimePoint next_deadline() const;
    // Runs everything due at or before `now`: probes and their timeouts,
    // suspicion timeouts, gossip, push-pull, nacks of indirect probes.
    void tick(TimePoint now);
    // One datagram from `from` (as the socket saw it).
    void on_packet(const Address& from, std::span<const std::uint8_t> packet, TimePoint now);
    // The bytes read so far from an inbound stream, from its first byte.
    [[nodiscard]] StreamReply on_stream(const Address& from, std::span<const std::uint8_t> received,
                                        TimePoint now);
    // The bytes read so far on a stream we opened; true when the answer is
    // complete (or hopeless), and the transport closes the stream.
    bool on_stream_response(StreamId id, std::span<const std::uint8_t> received, TimePoint now);
    void on_stream_failed(StreamId id, TimePoint now);

    // --- asked by the layers above ------------------------------------------

    // Push-pull joins with each seed; the results show in join_successes()
    // and pending_joins() once the streams complete.
    void join(std::span<const Address> seeds, TimePoint now);
    // Broadcasts our leave (a dead message about ourselves): the others mark
    // us left. Keep ticking until leave_broadcast_done(), then shut down.
    void leave(TimePoint now);
    [[nodiscard]] bool leave_broadcast_done() const { return leave_done_; }
    // Stops all activity; every later call is ignored.
    void shutdown() { shutdown_ = true; }
    // Re-reads the delegate's metadata and announces it with a new
    // incarnation (memberlist's UpdateNode).
    void update_node(TimePoint now);
    // A user message as a datagram, or over a stream.
    void send_best_effort(const Node& to, std::span<const std::uint8_t> msg);
    void send_reliable(const Node& to, std::span<const std::uint8_t> msg, TimePoint now);

    // --- read-only ---------------------------------------------------------

    [[nodiscard]] const Config& config() const { return config_; }
    [[nodiscard]] const Node& local_node() const;
    // Members neither dead nor left, this node included.
    [[nodiscard]] std::vector<Node> members() const;
    [[nodiscard]] std::size_t num_members() const;
    // Every entry of the member table, with incarnations (dead and left too,
    // until reaped).
    [[nodiscard]] std::vector<NodeRecord> all_nodes() const;
    [[nodiscard]] const NodeRecord* find(const std::string& name) const;
    [[nodiscard]] int health_score() const { return awareness_.health_score(); }
    [[nodiscard]] std::uint32_t incarnation() const { return incarnation_; }
    [[nodiscard]] int estimated_num_nodes() const { return static_cast<int>(nodes_.size()); }
    [[nodiscard]] std::size_t join_successes() const { return join_successes_; }
    [[nodiscard]] std::size_t pending_joins() const;
    [[nodiscard]] std::size_t queued_broadcasts() const { return broadcasts_.num_queued(); }
    [[nodiscard]] const MemberlistStats& stats() const { return stats_; }
    [[nodiscard]] bool has_left() const { return left_; }

private:
    // A direct probe in flight (memberlist's probeNode, unrolled into states
    // so that nothing waits).
    struct Probe {
        std::uint32_t seq_no = 0;
        NodeRecord target; // a copy, as probeNode takes one
        TimePoint sent{};
        TimePoint indirect_at{}; // sent + probe_timeout: go indirect
        TimePoint deadline{};    // sent + scaled probe interval
        bool indirect_sent = false;
        int expected_nacks = 0;
        int nacks = 0;
        std::optional<StreamId> fallback;
        bool fallback_contacted = false;
    };
    // An ack we wait for: our probe's, or one to relay for an indirect ping.
    struct AckHandler {
        bool relay = false;
        TimePoint reap_at{};
        // relay only:
        std::uint32_t origin_seq = 0;
        Address origin;
        std::optional<TimePoint> nack_at; // a nack goes back then, unless acked
    };
    struct SuspicionTimer {
        Suspicion suspicion;
        TimePoint change_time;
    };
    enum class StreamKind { push_pull, join, fallback_ping };
    struct PendingStream {
        StreamKind kind;
        std::uint32_t seq_no = 0; // fallback_ping
        TimePoint deadline{};
    };

    // memberlist.cpp
    void set_alive(TimePoint now);
    [[nodiscard]] Alive local_alive(std::uint32_t incarnation, Bytes meta) const;
    [[nodiscard]] Bytes node_meta();

    // state.cpp: the failure detector and dissemination
    void probe(TimePoint now);
    void probe_node(const NodeRecord& node, TimePoint now);
    void probe_go_indirect(TimePoint now);
    void probe_finish(bool acked, TimePoint now);
    void reset_nodes(TimePoint now);
    void gossip(TimePoint now);
    void push_pull(TimePoint now);
    void push_pull_node(const Address& to, bool join, TimePoint now);
    void reconnect(TimePoint now);
    void refute(NodeRecord& me, std::uint32_t accused_inc);
    void alive_node(const Alive& a, bool bootstrap, TimePoint now);
    void suspect_node(const Suspect& s, TimePoint now);
    void dead_node(const Dead& d, TimePoint now);
    void merge_state(const std::vector<PushNodeState>& remote, TimePoint now);
    [[nodiscard]] Result<void> verify_protocol(const std::vector<PushNodeState>& remote) const;
    void run_suspicion_timeouts(TimePoint now);
    void add_node(std::unique_ptr<NodeRecord> record);

    // net.cpp: messages in and out
    void handle_command(const Address& from, const PacketMessage& msg, TimePoint now);
    void handle_ping(const Address& from, const Ping& p);
    void handle_indirect_ping(const Address& from, const IndirectPingReq& ind, TimePoint now);
    void handle_ack(const AckResp& ack, TimePoint now);
    void handle_nack(const NackResp& nack);
    void run_ack_timeouts(TimePoint now);
    // How a packet's CRC header is decided, as memberlist decides it: the
    // recipient's protocol max, from the member it is sent to (`member`:
    // gossip, the probe of a suspect, best-effort user messages), or from
    // the member named by the destination's IP address (`by_ip`: what
    // memberlist's sendMsg does for pings, indirect pings, acks and nacks;
    // no member is named so unless names are addresses, so no CRC).
    enum class CrcPeer : std::uint8_t { member, by_ip };
    void send_msg(const Address& to, Bytes msg);
    // Counts msg's messages, compresses it (if that makes it smaller), adds
    // the CRC header the peer wants, seals and sends it.
    void raw_send_packet(const Address& to, Bytes msg, CrcPeer crc = CrcPeer::member);
    [[nodiscard]] Bytes compressed(Bytes msg) const;
    void send_parts(const Address& to, std::vector<Bytes>& parts, CrcPeer crc = CrcPeer::member);
    [[nodiscard]] std::uint8_t peer_pmax(const Address& to, CrcPeer crc) const;
    [[nodiscard]] std::size_t packet_overhead() const;
    // A stream message as it goes on the wire (counted, compressed, sealed);
    // empty if it cannot be sealed.
    [[nodiscard]] Bytes seal(const Bytes& message);
    // read_stream() with the received message counted, or the failure to
    // open it.
    [[nodiscard]] Result<std::optional<DecodedStream>>
    read_counted(std::span<const std::uint8_t> received);
    [[nodiscard]] std::vector<Bytes> get_broadcasts(std::size_t overhead, std::size_t limit);
    void encode_and_broadcast(const std::string& node, Bytes msg, bool leave_notify = false);
    [[nodiscard]] Bytes local_state(bool join);
    Result<void> merge_remote_state(bool join, const PushPull& remote, TimePoint now);
    void announce(const Bytes& msg);
    StreamId open_stream(const Address& to, Bytes request, StreamKind kind, std::uint32_t seq_no,
                         TimePoint deadline);
    [[nodiscard]] std::uint32_t next_seq_no() { return ++seq_no_; }
    [[nodiscard]] std::uint32_t next_incarnation() { return ++incarnation_; }
    [[nodiscard]] const NodeRecord* by_address(const Address& a) const;

    Config config_;
    Transport& transport_;
    Delegates delegates_;
    Random rng_;
    Awareness awareness_;
    TransmitLimitedQueue broadcasts_;

    // The member table: nodes_ in probe order, node_map_ by name (owner).
    std::vector<NodeRecord*> nodes_;
    std::unordered_map<std::string, std::unique_ptr<NodeRecord>> node_map_;
    std::unordered_map<std::string, SuspicionTimer> node_timers_;
    std::size_t probe_index_ = 0;

    std::uint32_t seq_no_ = 0;
    std::uint32_t incarnation_ = 0;
    std::optional<Probe> probe_;
    std::unordered_map<std::uint32_t, AckHandler> ack_handlers_;
    std::map<StreamId, PendingStream> streams_;
    StreamId next_stream_id_ = 1;

    // Periodic work: the next tick of each ticker.
    TimePoint next_probe_{};
    bool probe_tick_missed_ = false; // a tick came during a probe (Go's ticker buffers one)
    TimePoint next_gossip_{};
    TimePoint next_push_pull_{};
    TimePoint next_reconnect_{};
    // Nodes declared dead (not left), kept past reaping for reconnect().
    std::map<std::string, std::pair<Address, TimePoint>> failed_;

    bool left_ = false;
    bool leave_done_ = false;
    bool shutdown_ = false;
    std::size_t join_successes_ = 0;
    MemberlistStats stats_;
};

} // namespace cairn::gossip
