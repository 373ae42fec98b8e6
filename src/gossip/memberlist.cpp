#include "gossip/memberlist.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "gossip/codec.hpp"

namespace cairn::gossip {

Memberlist::Memberlist(Config config, Transport& transport, Delegates delegates, std::uint64_t seed,
                       TimePoint now)
    : config_(std::move(config))
    , transport_(transport)
    , delegates_(delegates)
    , rng_(seed)
    , awareness_(config_.awareness_max_multiplier)
    , broadcasts_(config_.retransmit_mult, [this] { return estimated_num_nodes(); }) {
    // Sealing follows the protocol version we speak, as memberlist's does.
    config_.security.version = encryption_version(config_.protocol_version);
    set_alive(now);
    // Random phases, so that nodes started together do not probe and gossip
    // in lock-step (memberlist staggers each trigger the same way).
    next_probe_ = now + rng_.stagger(config_.probe_interval);
    next_gossip_ = now + rng_.stagger(config_.gossip_interval);
    next_push_pull_ = now + rng_.stagger(config_.push_pull_interval) +
                      push_pull_scale(config_.push_pull_interval, estimated_num_nodes());
    next_reconnect_ = now + config_.reconnect_interval;
}

Memberlist::~Memberlist() = default;

Bytes Memberlist::node_meta() {
    if (delegates_.delegate == nullptr) return {};
    Bytes meta = delegates_.delegate->node_meta(meta_max_size);
    // memberlist panics here; a delegate that overflows is cut short instead.
    if (meta.size() > meta_max_size) meta.resize(meta_max_size);
    return meta;
}

Alive Memberlist::local_alive(std::uint32_t incarnation, Bytes meta) const {
    return Alive{incarnation,     config_.name, config_.advertise_addr, config_.advertise_port,
                 std::move(meta), config_.vsn()};
}

void Memberlist::set_alive(TimePoint now) {
    const std::uint32_t inc = next_incarnation();
    alive_node(local_alive(inc, node_meta()), true, now);
}

void Memberlist::update_node(TimePoint now) {
    if (shutdown_) return;
    const std::uint32_t inc = next_incarnation();
    alive_node(local_alive(inc, node_meta()), true, now);
}

void Memberlist::join(std::span<const Address> seeds, TimePoint now) {
    if (shutdown_) return;
    for (const Address& seed : seeds) push_pull_node(seed, true, now);
}

std::size_t Memberlist::pending_joins() const {
    return static_cast<std::size_t>(
        std::count_if(streams_.begin(), streams_.end(),
                      [](const auto& s) { return s.second.kind == StreamKind::join; }));
}

void Memberlist::leave(TimePoint now) {
    if (shutdown_ || left_) return;
    left_ = true;
    NodeRecord& me = *node_map_.at(config_.name);
    // Node == From: the others know for sure that we left on purpose.
    const Dead d{me.incarnation, me.node.name, me.node.name};
    dead_node(d, now);
    announce(encode(d));

    const bool any_alive = std::any_of(nodes_.begin(), nodes_.end(), [&](const NodeRecord* n) {
        return !n->dead_or_left() && n->node.name != config_.name;
    });
    if (!any_alive) leave_done_ = true;
}

void Memberlist::send_best_effort(const Node& to, std::span<const std::uint8_t> msg) {
    if (shutdown_) return;
    raw_send_packet(to.address(), encode_user(msg));
}

const Node& Memberlist::local_node() const {
    return node_map_.at(config_.name)->node;
}

std::vector<Node> Memberlist::members() const {
    std::vector<Node> out;
    for (const NodeRecord* n : nodes_)
        if (!n->dead_or_left()) out.push_back(n->node);
    return out;
}

std::size_t Memberlist::num_members() const {
    return static_cast<std::size_t>(std::count_if(
        nodes_.begin(), nodes_.end(), [](const NodeRecord* n) { return !n->dead_or_left(); }));
}

std::vector<NodeRecord> Memberlist::all_nodes() const {
    std::vector<NodeRecord> out;
    out.reserve(nodes_.size());
    for (const NodeRecord* n : nodes_) out.push_back(*n);
    return out;
}

const NodeRecord* Memberlist::find(const std::string& name) const {
    auto it = node_map_.find(name);
    return it == node_map_.end() ? nullptr : it->second.get();
}

TimePoint Memberlist::next_deadline() const {
    if (shutdown_) return TimePoint::max();
    TimePoint t = TimePoint::max();
    auto earliest = [&t](TimePoint c) { t = std::min(t, c); };
    if (config_.probe_interval.count() > 0) earliest(next_probe_);
    if (config_.gossip_interval.count() > 0 && config_.gossip_nodes > 0) earliest(next_gossip_);
    if (config_.push_pull_interval.count() > 0) earliest(next_push_pull_);
    if (config_.reconnect_interval.count() > 0) earliest(next_reconnect_);
    if (probe_) earliest(probe_->indirect_sent ? probe_->deadline : probe_->indirect_at);
    for (const auto& [seq, h] : ack_handlers_) {
        earliest(h.reap_at);
        if (h.nack_at) earliest(*h.nack_at);
    }
    for (const auto& [name, timer] : node_timers_) earliest(timer.suspicion.deadline());
    for (const auto& [id, s] : streams_) earliest(s.deadline);
    return t;
}

void Memberlist::tick(TimePoint now) {
    if (shutdown_) return;
    run_ack_timeouts(now);
    run_suspicion_timeouts(now);
    for (auto it = streams_.begin(); it != streams_.end();) {
        // The transport reports a stream's end; this only keeps a transport
        // that forgets from leaking pending streams.
        if (it->second.deadline <= now)
            it = streams_.erase(it);
        else
            ++it;
    }
    if (probe_ && !probe_->indirect_sent && now >= probe_->indirect_at) probe_go_indirect(now);
    if (probe_ && now >= probe_->deadline) probe_finish(false, now);

    // Tickers: a missed tick is skipped, as Go's time.Ticker does.
    auto advance = [now](TimePoint& next, Duration interval) {
        while (next <= now) next += interval;
    };
    if (config_.probe_interval.count() > 0 && now >= next_probe_) {
        advance(next_probe_, config_.probe_interval);
        if (probe_)
            probe_tick_missed_ = true;
        else
            probe(now);
    }
    if (config_.gossip_interval.count() > 0 && config_.gossip_nodes > 0 && now >= next_gossip_) {
        advance(next_gossip_, config_.gossip_interval);
        gossip(now);
    }
    if (config_.push_pull_interval.count() > 0 && now >= next_push_pull_) {
        next_push_pull_ = now + push_pull_scale(config_.push_pull_interval, estimated_num_nodes());
        push_pull(now);
    }
    if (config_.reconnect_interval.count() > 0 && now >= next_reconnect_) {
        advance(next_reconnect_, config_.reconnect_interval);
        reconnect(now);
    }
}

const char* to_string(NodeState s) {
    switch (s) {
    case NodeState::alive:
        return "alive";
    case NodeState::suspect:
        return "suspect";
    case NodeState::dead:
        return "dead";
    case NodeState::left:
        return "left";
    }
    return "unknown";
}

const char* to_string(MessageType t) {
    // The metric label values: Prometheus's style, not memberlist's names.
    static constexpr const char* names[] = {
        "ping",     "indirect_ping", "ack",      "suspect", "alive", "dead",    "push_pull",
        "compound", "user",          "compress", "encrypt", "nack",  "has_crc", "err"};
    auto i = static_cast<std::size_t>(t);
    return i < std::size(names) ? names[i] : "unknown";
}

} // namespace cairn::gossip
