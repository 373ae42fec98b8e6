#pragma once
// The registry on gossip: memberlist's Delegate and EventDelegate on top of
// registry::replication::Replica. The one place that knows both sides:
// gossip knows nothing of services, the registry nothing of sockets.
//
// Main loop only. Memberlist calls the delegate methods from inside its own
// calls and must not be called back from there, so what the Replica wants
// sent over streams waits until the owner calls flush() after each
// Memberlist call (on_packet, on_stream, tick, join).

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "gossip/delegate.hpp"
#include "gossip/memberlist.hpp"
#include "gossip/queue.hpp"
#include "registry/replication/replica.hpp"

namespace cairn::cluster {

struct RegistryDelegateStats {
    std::uint64_t dropped_messages = 0; // undecodable user messages (packet or stream)
    std::uint64_t dropped_states = 0;   // undecodable push-pull user state
    std::uint64_t streams_sent = 0;
    std::uint64_t streams_dropped = 0; // to nodes not (or no longer) alive
};

class RegistryDelegate final : public gossip::Delegate, public gossip::EventDelegate {
public:
    // `meta` gives this node's metadata for alive messages (at most `limit`
    // bytes); `to_node` turns a member into the registry's Node (address,
    // datacenter and metadata from its gossip metadata). `num_nodes` is the
    // cluster size for the broadcast queue's retransmit limit.
    using Meta = std::function<gossip::Bytes(std::size_t limit)>;
    using ToNode = std::function<registry::Node(const gossip::Node&)>;

    struct Options {
        // Of the replication broadcasts, as memberlist's RetransmitMult: each
        // goes out retransmit_mult * ceil(log10(N+1)) times. Above
        // memberlist's 4 so that, relayed by every agent, a change reaches
        // all of 50 agents under 20% loss without waiting for push-pull.
        int retransmit_mult = 8;
        // An own change is also sent at once, as a packet, to this many
        // random members, instead of waiting for the next gossip round.
        std::size_t fanout = 4;
        std::uint64_t seed = 1;
    };

    RegistryDelegate(registry::replication::Replica& replica, std::function<int()> num_nodes,
                     Options options, Meta meta = {}, ToNode to_node = {});

    // Sends what the Replica asked to send over streams, and own changes to
    // `fanout` members. Call after each Memberlist call (never from inside
    // one) and after each replica.local_changed().
    void flush(gossip::Memberlist& ml, gossip::TimePoint now);
    // Every few seconds: a dead member that the engine reaped is forgotten
    // with its records; tombstones past their time are collected.
    void maintain(const gossip::Memberlist& ml);

    // gossip::Delegate
    [[nodiscard]] gossip::Bytes node_meta(std::size_t limit) override;
    void notify_msg(std::span<const std::uint8_t> msg) override;
    [[nodiscard]] std::vector<gossip::Bytes> get_broadcasts(std::size_t overhead,
                                                            std::size_t limit) override;
    [[nodiscard]] gossip::Bytes local_state(bool join) override;
    void merge_remote_state(std::span<const std::uint8_t> state, bool join) override;

    // gossip::EventDelegate
    void notify_join(const gossip::Node& node) override;
    void notify_leave(const gossip::Node& node) override;
    void notify_update(const gossip::Node& node) override;

    [[nodiscard]] const RegistryDelegateStats& stats() const { return stats_; }
    // Prometheus lines: cairn_replication_dropped_total{kind="message"|"state"}.
    [[nodiscard]] std::string metrics() const;
    [[nodiscard]] std::size_t queued_broadcasts() const { return queue_.num_queued(); }

private:
    void queue(registry::replication::Broadcast b);

    registry::replication::Replica& replica_;
    Options options_;
    std::mt19937_64 random_;
    gossip::TransmitLimitedQueue queue_;
    Meta meta_;
    ToNode to_node_;
    RegistryDelegateStats stats_;
};

// The registry's view of a member: its name and address (4 or 16 bytes).
[[nodiscard]] registry::Node registry_node(const gossip::Node& node);

} // namespace cairn::cluster
