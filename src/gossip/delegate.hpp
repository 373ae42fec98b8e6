#pragma once
// How the layers above plug into membership (memberlist's delegate.go,
// event_delegate.go, conflict_delegate.go, alive_delegate.go,
// merge_delegate.go, ping_delegate.go). Gossip knows nothing of what rides in
// user messages and user state: the registry is one such delegate.
//
// Every call comes from inside a Memberlist call (on_packet, on_stream*,
// tick, ...) on the owner's thread; a delegate must not call back into the
// Memberlist that is calling it, except for the read-only accessors.

#include <cstddef>
#include <span>
#include <vector>

#include "core/result.hpp"
#include "gossip/messages.hpp"
#include "gossip/time.hpp"

namespace cairn::gossip {

struct Node;

class Delegate {
public:
    virtual ~Delegate() = default;
    // This node's metadata for alive messages, at most `limit` bytes.
    [[nodiscard]] virtual Bytes node_meta(std::size_t limit) = 0;
    // A user message arrived (packet or stream). The bytes are only valid
    // during the call.
    virtual void notify_msg(std::span<const std::uint8_t> msg) = 0;
    // User broadcasts to piggyback: each costs `overhead` bytes besides its
    // own, and all of them together must fit in `limit`.
    [[nodiscard]] virtual std::vector<Bytes> get_broadcasts(std::size_t overhead,
                                                            std::size_t limit) = 0;
    // The user state sent in a push-pull (join: this push-pull is a join).
    [[nodiscard]] virtual Bytes local_state(bool join) = 0;
    // The remote side's local_state() from a push-pull.
    virtual void merge_remote_state(std::span<const std::uint8_t> state, bool join) = 0;
};

class EventDelegate {
public:
    virtual ~EventDelegate() = default;
    // A node became alive (new, or back from dead or left).
    virtual void notify_join(const Node& node) = 0;
    // A node was declared dead or left.
    virtual void notify_leave(const Node& node) = 0;
    // An alive node's metadata changed.
    virtual void notify_update(const Node& node) = 0;
};

class ConflictDelegate {
public:
    virtual ~ConflictDelegate() = default;
    // `other` claims the name of `existing` from another address.
    virtual void notify_conflict(const Node& existing, const Node& other) = 0;
};

class AliveDelegate {
public:
    virtual ~AliveDelegate() = default;
    // An error keeps `peer` out of the member table (for example a node of
    // another cluster).
    [[nodiscard]] virtual Result<void> notify_alive(const Node& peer) = 0;
};

class MergeDelegate {
public:
    virtual ~MergeDelegate() = default;
    // A join's push-pull would merge these nodes; an error cancels the merge.
    [[nodiscard]] virtual Result<void> notify_merge(std::span<const Node> peers) = 0;
};

class PingDelegate {
public:
    virtual ~PingDelegate() = default;
    // Bytes to put in the ack of a direct ping.
    [[nodiscard]] virtual Bytes ack_payload() = 0;
    // A direct probe of `other` was acked after `rtt`, with its payload.
    virtual void notify_ping_complete(const Node& other, Duration rtt,
                                      std::span<const std::uint8_t> payload) = 0;
};

// The delegates of one Memberlist; any may be null. Not owned.
struct Delegates {
    Delegate* delegate = nullptr;
    EventDelegate* events = nullptr;
    ConflictDelegate* conflict = nullptr;
    AliveDelegate* alive = nullptr;
    MergeDelegate* merge = nullptr;
    PingDelegate* ping = nullptr;
};

} // namespace cairn::gossip
