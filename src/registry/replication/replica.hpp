#pragma once
// The registry side of replication, as pure logic: the agent feeds it what
// gossip delivers and sends what it produces; it never sees a socket and
// reads time only through the injected clock. Main loop only.
//
// What it keeps per owner is a watermark: the version up to which this
// agent holds every record of that owner. Updates link into a chain
// (Update::prev) that moves the watermark; push-pull compares watermarks and
// asks for what lies above; answers say up to which version they are
// complete. docs/replication.md describes the rules.

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/result.hpp"
#include "registry/registry.hpp"
#include "registry/replication/message.hpp"

namespace cairn::registry::replication {

struct ReplicaOptions {
    // An Update larger than this goes out as a Notice (the record itself
    // then travels over a stream): it must fit a gossip packet beside
    // membership traffic.
    std::size_t max_update_bytes = 1024;
    // What one answered Request may carry, all owners together, and what
    // one Reply message may carry.
    std::size_t max_answer_bytes = 512 * 1024;
    std::size_t max_chunk_bytes = 60 * 1024;
    // A tombstone is kept this long after this agent learned of it.
    std::int64_t tombstone_ttl_ms = 24LL * 3600 * 1000;
    // A Request for an owner is not repeated within this time unless the
    // watermark moved.
    std::int64_t request_retry_ms = 2000;
    // A digest asked for (Digest::answer) is not sent again to a peer that
    // was sent the same digest within this time.
    std::int64_t digest_retry_ms = 2000;
    // Updates that arrived ahead of a gap, per owner, kept to move the
    // watermark once the gap fills.
    std::size_t max_pending_links = 64;
    // A Reply with at most this many records (a gap filled, not a bulk sync)
    // has what was new in it relayed as broadcasts.
    std::size_t max_relayed_per_reply = 16;
};

// For the gossip broadcast queue: a newer broadcast with the same name
// replaces an older one still queued.
struct Broadcast {
    std::string name;
    std::vector<std::uint8_t> bytes;
    bool own = false; // a change of this agent's (not a relay)
};

// A message for one node, sent over a stream (memberlist's reliable user
// message).
struct Outgoing {
    std::string to;
    std::vector<std::uint8_t> bytes;
};

struct ReplicaStats {
    std::uint64_t decode_errors = 0;
    std::uint64_t updates_received = 0;
    std::uint64_t updates_new = 0; // merged, so relayed
    std::uint64_t notices_received = 0;
    std::uint64_t requests_sent = 0;
    std::uint64_t requests_answered = 0;
    std::uint64_t replies_received = 0;
    std::uint64_t records_merged = 0; // from replies
    std::uint64_t own_records_superseded = 0;
};

class Replica {
public:
    using Clock = std::function<std::int64_t()>; // this machine's milliseconds

    Replica(Registry& registry, Clock clock, ReplicaOptions options = {});

    // --- What the agent calls. ---

    // Construct it after the persisted records are loaded: what the registry
    // holds then counts as known to the cluster already.
    //
    // After any write to this agent's own records (register, deregister,
    // check result, maintenance, reload): queues an Update (or Notice) for
    // every own record newer than the last announced.
    void local_changed();

    // A message from gossip: a user message from a packet (NotifyMsg) or a
    // stream. An error means the message was dropped (and counted).
    Result<void> receive(std::span<const std::uint8_t> bytes);
    // Push-pull user state (LocalState / MergeRemoteState): the whole
    // digest for a join, else a Summary of it; a peer whose digest differs
    // answers a Summary with its digest, so what is missing is asked for as
    // after a digest.
    [[nodiscard]] std::vector<std::uint8_t> local_state(bool join = false) const;
    Result<void> merge_remote_state(std::span<const std::uint8_t> bytes);

    // Membership events. A failed node's instances leave the snapshot but
    // stay, and come back when it is alive again; a node that left, or was
    // reaped, is forgotten with its records, and what others still gossip
    // of it is ignored until it is alive again.
    void node_alive(Node node);
    void node_failed(std::string_view name);
    void node_left(std::string_view name);
    // Forgets every failed node for which `is_member` is false: membership
    // reaped it (memberlist drops dead members after a while, silently).
    void forget_reaped(const std::function<bool(const std::string&)>& is_member);

    // Periodically (every few seconds): collects tombstones past their time.
    void collect_garbage();

    // What to send: broadcasts for the gossip queue, messages for streams.
    [[nodiscard]] std::vector<Broadcast> take_broadcasts();
    [[nodiscard]] std::vector<Outgoing> take_outgoing();

    // --- Reads. ---
    [[nodiscard]] std::uint64_t watermark(std::string_view owner) const;
    [[nodiscard]] const ReplicaStats& stats() const { return stats_; }

private:
    struct Owner {
        std::uint64_t watermark = 0;
        std::map<std::uint64_t, std::uint64_t> links; // prev -> version, ahead of a gap
        std::uint64_t requested_after = 0;
        std::int64_t requested_at_ms = 0;
        bool requested = false;
        std::uint64_t noticed = 0; // highest Notice version seen (relayed once)
    };

    void on_update(Update update, std::span<const std::uint8_t> bytes);
    void on_notice(const Notice& notice, std::span<const std::uint8_t> bytes);
    void on_request(const Request& request);
    void on_reply(Reply reply);
    void on_digest(const Digest& digest);
    void on_summary(const Summary& summary);
    void on_audit(const Audit& audit);
    // Sends `to` an Audit of this agent's records from after its start up
    // to `upto`, the peer's watermark for it (once per peer).
    void audit(const std::string& to, std::uint64_t upto);
    [[nodiscard]] Digest digest(bool answer) const;
    [[nodiscard]] std::uint64_t fingerprint() const;
    // Queues this agent's digest for `to`, and remembers what was sent.
    void send_digest(const std::string& to, bool answer);

    // Merges a record of another owner; true if it changed the registry.
    // `held` says whether this agent now holds it or something newer.
    bool merge_record(Record record, bool& held);
    // A copy of one of this agent's own records.
    void on_own_record(const Record& record);
    void lost_writes(std::uint64_t seen_version, const std::string& from);
    void link(Owner& owner, std::uint64_t prev, std::uint64_t version) const;
    // Queues a Request to `to` for every (owner, after) not asked recently.
    void request(const std::string& to, std::vector<std::pair<std::string, std::uint64_t>> wants);
    void answer(const std::string& to, const std::string& owner, std::uint64_t after,
                std::size_t& budget);
    [[nodiscard]] bool forgotten(const std::string& name) const;

    Registry& registry_;
    Clock clock_;
    ReplicaOptions options_;
    std::string self_;
    std::uint64_t startup_version_;
    // Highest own version announced: every own record up to it was written
    // before this Replica started, or has been queued for broadcast.
    std::uint64_t announced_;
    // The version of each own record when last announced (or at start).
    std::unordered_map<std::string, std::uint64_t> known_;
    std::unordered_map<std::string, Owner> owners_;
    // Peers asked once for the own records they hold from after start-up.
    std::unordered_set<std::string> checked_peers_;
    struct SentDigest {
        std::uint64_t fingerprint = 0;
        std::int64_t at_ms = 0;
    };
    std::unordered_map<std::string, SentDigest> digests_sent_; // by peer
    std::unordered_map<std::string, std::int64_t> forgotten_;  // name -> when (local ms)
    std::unordered_set<std::string> failed_;
    std::vector<Broadcast> broadcasts_;
    std::vector<Outgoing> outgoing_;
    ReplicaStats stats_;
};

} // namespace cairn::registry::replication
