#include "cluster/registry_delegate.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/hex.hpp"
#include "core/log.hpp"
#include "core/metrics_text.hpp"

namespace cairn::cluster {

namespace {

// One replication broadcast in gossip's queue, named by the record it is
// about, so a newer update of a record replaces the older one still queued.
class ReplicationBroadcast final : public gossip::Broadcast {
public:
    explicit ReplicationBroadcast(registry::replication::Broadcast b)
        : b_(std::move(b)) {}
    [[nodiscard]] bool invalidates(const gossip::Broadcast&) const override { return false; }
    [[nodiscard]] std::span<const std::uint8_t> message() const override { return b_.bytes; }
    [[nodiscard]] std::string_view name() const override { return b_.name; }

private:
    registry::replication::Broadcast b_;
};

// A dropped message's first bytes, in hex, for the debug log: what a
// foreign sender (a Go memberlist peer's own user data) sent, byte for byte.
std::string head_hex(std::span<const std::uint8_t> bytes) {
    return to_hex(bytes.first(std::min<std::size_t>(bytes.size(), 64)));
}

void log_drop(std::string_view kind, std::span<const std::uint8_t> bytes,
              const std::string& reason) {
    if (!log::enabled(log::Level::debug)) return;
    log::debug(
        "replication.dropped",
        {{"kind", kind}, {"bytes", bytes.size()}, {"head", head_hex(bytes)}, {"reason", reason}});
}

} // namespace

registry::Node registry_node(const gossip::Node& node) {
    registry::Node out;
    out.name = node.name;
    if (node.addr.size() == 4 || node.addr.size() == 16) {
        out.address.family = node.addr.size() == 4 ? 4 : 6;
        std::copy(node.addr.begin(), node.addr.end(), out.address.bytes.begin());
    }
    return out;
}

RegistryDelegate::RegistryDelegate(registry::replication::Replica& replica,
                                   std::function<int()> num_nodes, Options options, Meta meta,
                                   ToNode to_node)
    : replica_(replica)
    , options_(options)
    , random_(options.seed)
    , queue_(options.retransmit_mult, std::move(num_nodes))
    , meta_(std::move(meta))
    , to_node_(to_node ? std::move(to_node) : ToNode(registry_node)) {}

void RegistryDelegate::queue(registry::replication::Broadcast b) {
    queue_.queue_broadcast(std::make_unique<ReplicationBroadcast>(std::move(b)));
}

void RegistryDelegate::flush(gossip::Memberlist& ml, gossip::TimePoint now) {
    std::vector<gossip::Node> members;
    for (registry::replication::Broadcast& b : replica_.take_broadcasts()) {
        if (b.own && options_.fanout > 0) {
            if (members.empty()) {
                members = ml.members();
                std::erase_if(
                    members, [&](const gossip::Node& m) { return m.name == ml.local_node().name; });
            }
            std::shuffle(members.begin(), members.end(), random_);
            for (std::size_t k = 0; k < std::min(options_.fanout, members.size()); ++k)
                ml.send_best_effort(members[k], b.bytes);
        }
        queue(std::move(b));
    }
    for (registry::replication::Outgoing& o : replica_.take_outgoing()) {
        const gossip::NodeRecord* to = ml.find(o.to);
        if (to == nullptr || to->dead_or_left()) {
            ++stats_.streams_dropped;
            continue;
        }
        ml.send_reliable(to->node, o.bytes, now);
        ++stats_.streams_sent;
    }
}

void RegistryDelegate::maintain(const gossip::Memberlist& ml) {
    replica_.forget_reaped([&ml](const std::string& name) { return ml.find(name) != nullptr; });
    replica_.collect_garbage();
}

gossip::Bytes RegistryDelegate::node_meta(std::size_t limit) {
    if (!meta_) return {};
    gossip::Bytes meta = meta_(limit);
    if (meta.size() > limit) meta.clear();
    return meta;
}

void RegistryDelegate::notify_msg(std::span<const std::uint8_t> msg) {
    if (auto r = replica_.receive(msg); !r) {
        ++stats_.dropped_messages;
        log_drop("message", msg, r.error().message);
    }
}

std::vector<gossip::Bytes> RegistryDelegate::get_broadcasts(std::size_t overhead,
                                                            std::size_t limit) {
    for (registry::replication::Broadcast& b : replica_.take_broadcasts()) queue(std::move(b));
    return queue_.get_broadcasts(overhead, limit);
}

gossip::Bytes RegistryDelegate::local_state(bool join) {
    return replica_.local_state(join);
}

void RegistryDelegate::merge_remote_state(std::span<const std::uint8_t> state, bool) {
    // A Go memberlist peer without a delegate sends no user state.
    if (state.empty()) return;
    if (auto r = replica_.merge_remote_state(state); !r) {
        ++stats_.dropped_states;
        log_drop("state", state, r.error().message);
    }
}

std::string RegistryDelegate::metrics() const {
    MetricsText m;
    m.family("cairn_replication_dropped_total", "counter",
             "User messages and push-pull user states from gossip that are not cairn replication "
             "messages (a foreign memberlist node's, or malformed), dropped.");
    m.sample("cairn_replication_dropped_total", stats_.dropped_messages, {{"kind", "message"}});
    m.sample("cairn_replication_dropped_total", stats_.dropped_states, {{"kind", "state"}});
    return std::move(m).text();
}

void RegistryDelegate::notify_join(const gossip::Node& node) {
    registry::Node n = to_node_(node);
    n.alive = true;
    replica_.node_alive(std::move(n));
}

void RegistryDelegate::notify_leave(const gossip::Node& node) {
    if (node.state == gossip::NodeState::left)
        replica_.node_left(node.name);
    else
        replica_.node_failed(node.name);
}

void RegistryDelegate::notify_update(const gossip::Node& node) {
    if (node.state == gossip::NodeState::alive || node.state == gossip::NodeState::suspect)
        notify_join(node);
}

} // namespace cairn::cluster
