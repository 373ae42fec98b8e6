// The failure detector and membership state machine (memberlist's state.go).
#include <algorithm>

#include "core/log.hpp"
#include "gossip/codec.hpp"
#include "gossip/memberlist.hpp"
#include "gossip/packet.hpp"

namespace cairn::gossip {

// Probes the next node in the shuffled round-robin order, skipping ourselves
// and dead or left nodes; at the end of a round the order is reshuffled.
void Memberlist::probe(TimePoint now) {
    std::size_t num_check = 0;
    while (num_check < nodes_.size()) {
        if (probe_index_ >= nodes_.size()) {
            reset_nodes(now);
            probe_index_ = 0;
            ++num_check;
            continue;
        }
        const NodeRecord& node = *nodes_[probe_index_++];
        if (node.node.name == config_.name || node.dead_or_left()) {
            ++num_check;
            continue;
        }
        probe_node(node, now);
        return;
    }
}

void Memberlist::probe_node(const NodeRecord& node, TimePoint now) {
    ++stats_.probes;
    // Local health stretches the whole probe (not the direct ping's timeout:
    // waiting longer for UDP rarely helps, but it gives the indirect probes
    // and the TCP fallback more time).
    const Duration probe_interval = awareness_.scale_timeout(config_.probe_interval);

    Probe p;
    p.seq_no = next_seq_no();
    p.target = node;
    p.sent = now;
    p.indirect_at = now + config_.probe_timeout;
    p.deadline = now + probe_interval;
    AckHandler handler;
    handler.reap_at = p.deadline;
    ack_handlers_[p.seq_no] = std::move(handler);

    const Ping ping{p.seq_no, node.node.name, config_.advertise_addr, config_.advertise_port,
                    config_.name};
    if (node.state() == NodeState::alive) {
        send_msg(node.node.address(), encode(ping));
    } else {
        // Tell a suspect it is suspected, so it can refute at once.
        const Suspect s{node.incarnation, node.node.name, config_.name};
        const Bytes parts[] = {encode(ping), encode(s)};
        raw_send_packet(node.node.address(), make_compound(parts));
    }
    probe_ = std::move(p);
}

// No ack within the probe timeout: ask k peers to probe for us, and try the
// target over TCP too.
void Memberlist::probe_go_indirect(TimePoint now) {
    Probe& p = *probe_;
    p.indirect_sent = true;
    const std::string& target = p.target.node.name;

    const auto peers = rng_.k_random(config_.indirect_checks, nodes_, [&](const NodeRecord* n) {
        return n->node.name == config_.name || n->node.name == target ||
               n->state() != NodeState::alive;
    });
    IndirectPingReq ind{p.seq_no, p.target.node.addr,     p.target.node.port,     target,
                        false,    config_.advertise_addr, config_.advertise_port, config_.name};
    for (const NodeRecord* peer : peers) {
        // Only peers that understand protocol 4 send nacks.
        ind.nack = peer->node.pmax >= 4;
        if (ind.nack) ++p.expected_nacks;
        send_msg(peer->node.address(), encode(ind));
    }

    if (!config_.disable_tcp_pings && p.target.node.pmax >= 3) {
        const Ping ping{p.seq_no, target, config_.advertise_addr, config_.advertise_port,
                        config_.name};
        p.fallback = open_stream(p.target.node.address(), encode(ping), StreamKind::fallback_ping,
                                 p.seq_no, p.deadline);
    }
    (void)now;
}

void Memberlist::probe_finish(bool acked, TimePoint now) {
    const Probe p = std::move(*probe_);
    probe_.reset();
    ack_handlers_.erase(p.seq_no);
    if (p.fallback) streams_.erase(*p.fallback);

    if (acked || p.fallback_contacted) {
        if (!acked)
            log::warn("gossip.probe.tcp_only",
                      {{"node", config_.name}, {"target", p.target.node.name}});
        awareness_.apply_delta(-1);
    } else {
        // Missing nacks mean our own network is the likelier culprit; with no
        // peer to nack, any failed probe counts against our health.
        int delta = 0;
        if (p.expected_nacks > 0) {
            if (p.nacks < p.expected_nacks) delta += p.expected_nacks - p.nacks;
        } else {
            delta += 1;
        }
        awareness_.apply_delta(delta);
        ++stats_.probes_failed;
        log::info("gossip.suspect", {{"node", config_.name},
                                     {"target", p.target.node.name},
                                     {"reason", "no acks received"}});
        suspect_node(Suspect{p.target.incarnation, p.target.node.name, config_.name}, now);
    }

    if (probe_tick_missed_) {
        probe_tick_missed_ = false;
        probe(now);
    }
}

// End of a probe round: forget nodes dead for longer than
// gossip_to_the_dead_time and reshuffle the probe order.
void Memberlist::reset_nodes(TimePoint now) {
    std::vector<NodeRecord*> kept;
    kept.reserve(nodes_.size());
    for (NodeRecord* n : nodes_) {
        // memberlist 0.2.2 reaps dead nodes only; left ones are reaped too, or
        // a cluster with churn would keep every name that ever left.
        const bool reap = n->dead_or_left() && n->node.name != config_.name &&
                          now - n->state_change > config_.gossip_to_the_dead_time;
        if (!reap) {
            kept.push_back(n);
            continue;
        }
        node_timers_.erase(n->node.name);
        node_map_.erase(n->node.name);
    }
    nodes_ = std::move(kept);
    rng_.shuffle(nodes_);
}

void Memberlist::gossip(TimePoint now) {
    const auto targets = rng_.k_random(config_.gossip_nodes, nodes_, [&](const NodeRecord* n) {
        if (n->node.name == config_.name) return true;
        switch (n->state()) {
        case NodeState::alive:
        case NodeState::suspect:
            return false;
        case NodeState::dead:
            return now - n->state_change > config_.gossip_to_the_dead_time;
        default:
            return true;
        }
    });

    const std::size_t bytes_avail =
        config_.udp_buffer_size - compound_header_overhead - packet_overhead();
    for (const NodeRecord* node : targets) {
        std::vector<Bytes> msgs = get_broadcasts(compound_part_overhead, bytes_avail);
        if (msgs.empty()) return;
        send_parts(node->node.address(), msgs);
    }
}

void Memberlist::push_pull(TimePoint now) {
    const auto nodes = rng_.k_random(1, nodes_, [&](const NodeRecord* n) {
        return n->node.name == config_.name || n->state() != NodeState::alive;
    });
    if (nodes.empty()) return;
    push_pull_node(nodes[0]->node.address(), false, now);
}

void Memberlist::push_pull_node(const Address& to, bool join, TimePoint now) {
    open_stream(to, local_state(join), join ? StreamKind::join : StreamKind::push_pull, 0,
                now + config_.tcp_timeout);
}

// Serf's reconnect: the more of the cluster has failed, the likelier an
// attempt (always, once failed nodes outnumber live ones).
void Memberlist::reconnect(TimePoint now) {
    for (auto it = failed_.begin(); it != failed_.end();) {
        if (now - it->second.second > config_.reconnect_timeout)
            it = failed_.erase(it);
        else
            ++it;
    }
    if (failed_.empty()) return;
    const std::size_t alive = std::max<std::size_t>(num_members(), 2) - 1;
    const double prob = double(failed_.size()) / double(alive);
    if (double(rng_.next_u32()) / 4294967296.0 > prob) return;
    auto pick =
        std::next(failed_.begin(), static_cast<std::ptrdiff_t>(rng_.offset(failed_.size())));
    log::debug("gossip.reconnect", {{"node", config_.name}, {"target", pick->first}});
    push_pull_node(pick->second.first, true, now);
}

// We are accused (suspect or dead, or an alive about us that is not ours):
// announce ourselves alive with an incarnation above the accusation.
void Memberlist::refute(NodeRecord& me, std::uint32_t accused_inc) {
    std::uint32_t inc = next_incarnation();
    if (accused_inc >= inc) {
        incarnation_ += accused_inc - inc + 1;
        inc = incarnation_;
    }
    me.incarnation = inc;
    // Being accused is a hint that we are the slow one.
    awareness_.apply_delta(1);
    ++stats_.refutes;

    const Alive a{inc, me.node.name, me.node.addr, me.node.port, me.node.meta, me.node.vsn()};
    // memberlist names this broadcast by our address; by name, it also
    // replaces any queued suspect or dead message about us.
    Bytes msg = encode(a);
    announce(msg);
    encode_and_broadcast(me.node.name, std::move(msg));
}

void Memberlist::add_node(std::unique_ptr<NodeRecord> record) {
    // A random position keeps the failure detection bound low on average: if
    // every node appended, new nodes would all be probed last.
    const std::size_t n = nodes_.size();
    const std::size_t offset = rng_.offset(n);
    nodes_.push_back(record.get());
    std::swap(nodes_[offset], nodes_[n]);
    node_map_.emplace(record->node.name, std::move(record));
}

void Memberlist::run_suspicion_timeouts(TimePoint now) {
    std::vector<std::pair<std::string, SuspicionTimer>> due;
    for (auto it = node_timers_.begin(); it != node_timers_.end();) {
        if (it->second.suspicion.deadline() <= now) {
            due.emplace_back(it->first, std::move(it->second));
            it = node_timers_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [name, timer] : due) {
        auto it = node_map_.find(name);
        if (it == node_map_.end()) continue;
        NodeRecord& state = *it->second;
        if (state.state() != NodeState::suspect || state.state_change != timer.change_time)
            continue;
        log::info("gossip.dead", {{"node", config_.name},
                                  {"target", name},
                                  {"confirmations", timer.suspicion.confirmations()},
                                  {"reason", "suspect timeout reached"}});
        dead_node(Dead{state.incarnation, name, config_.name}, now);
    }
}

namespace {

Node node_from(const Alive& a) {
    Node n{a.node, a.addr, a.port, a.meta};
    n.set_vsn(a.vsn);
    return n;
}

} // namespace

// An alive message: a new node, a node back from suspicion or death, new
// metadata, or (about us) something to refute.
void Memberlist::alive_node(const Alive& a, bool bootstrap, TimePoint now) {
    // An alive about us still queued while we leave must not bring us back.
    if (left_ && a.node == config_.name) return;

    if (a.vsn.size() >= 3) {
        const auto pmin = a.vsn[vsn_pmin], pmax = a.vsn[vsn_pmax];
        if (pmin == 0 || pmax == 0 || pmin > pmax) {
            log::warn("gossip.alive.bad_versions", {{"node", config_.name}, {"target", a.node}});
            return;
        }
    }
    if (delegates_.alive != nullptr) {
        if (a.vsn.size() < vsn_size) return;
        Node peer = node_from(a);
        if (auto ok = delegates_.alive->notify_alive(peer); !ok) {
            log::warn("gossip.alive.refused",
                      {{"node", config_.name}, {"target", a.node}, {"error", ok.error().message}});
            return;
        }
    }

    auto found = node_map_.find(a.node);
    bool updates_node = false;
    NodeRecord* state = nullptr;
    if (found == node_map_.end()) {
        auto record = std::make_unique<NodeRecord>();
        record->node = node_from(a);
        record->node.state = NodeState::dead; // so the first alive is a join
        state = record.get();
        add_node(std::move(record));
    } else {
        state = found->second.get();
        if (state->node.addr != a.addr || state->node.port != a.port) {
            const bool can_reclaim = config_.dead_node_reclaim_time.count() > 0 &&
                                     now - state->state_change > config_.dead_node_reclaim_time;
            if (state->state() == NodeState::left ||
                (state->state() == NodeState::dead && can_reclaim)) {
                log::info("gossip.address_change",
                          {{"node", config_.name},
                           {"target", a.node},
                           {"from", to_string(state->node.address())},
                           {"to", to_string(Address{a.addr, a.port, {}})}});
                updates_node = true;
            } else {
                log::error("gossip.name_conflict",
                           {{"node", config_.name},
                            {"target", a.node},
                            {"mine", to_string(state->node.address())},
                            {"theirs", to_string(Address{a.addr, a.port, {}})},
                            {"state", to_string(state->state())}});
                if (delegates_.conflict != nullptr)
                    delegates_.conflict->notify_conflict(state->node,
                                                         Node{a.node, a.addr, a.port, a.meta});
                return;
            }
        }
    }

    const bool is_local = state->node.name == config_.name;
    if (a.incarnation <= state->incarnation && !is_local && !updates_node) return;
    if (a.incarnation < state->incarnation && is_local) return;

    node_timers_.erase(a.node);
    const NodeState old_state = state->state();
    const Bytes old_meta = state->node.meta;

    if (!bootstrap && is_local) {
        // The same incarnation may come from a previous life of this node
        // with other metadata or versions: refute unless it is exactly ours.
        if (a.incarnation == state->incarnation && a.meta == state->node.meta &&
            a.vsn == state->node.vsn())
            return;
        refute(*state, a.incarnation);
        log::warn("gossip.refute", {{"node", config_.name},
                                    {"accused_incarnation", a.incarnation},
                                    {"reason", "alive message"}});
    } else {
        encode_and_broadcast(a.node, encode(a));
        state->node.set_vsn(a.vsn);
        state->incarnation = a.incarnation;
        state->node.meta = a.meta;
        state->node.addr = a.addr;
        state->node.port = a.port;
        if (state->state() != NodeState::alive) {
            state->node.state = NodeState::alive;
            state->state_change = now;
        }
    }

    if (old_state == NodeState::dead || old_state == NodeState::left) {
        failed_.erase(a.node);
        if (!is_local)
            log::info("gossip.join", {{"node", config_.name},
                                      {"target", a.node},
                                      {"addr", to_string(state->node.address())},
                                      {"incarnation", state->incarnation}});
        if (delegates_.events != nullptr) delegates_.events->notify_join(state->node);
    } else if (old_meta != state->node.meta) {
        if (delegates_.events != nullptr) delegates_.events->notify_update(state->node);
    }
}

void Memberlist::suspect_node(const Suspect& s, TimePoint now) {
    auto found = node_map_.find(s.node);
    if (found == node_map_.end()) return;
    NodeRecord& state = *found->second;
    if (s.incarnation < state.incarnation) return;

    // Already suspected: count an independent confirmation, and re-gossip it
    // if it was news, so confirmations keep flowing.
    auto timer = node_timers_.find(s.node);
    if (timer != node_timers_.end() && s.incarnation == state.incarnation) {
        if (timer->second.suspicion.confirm(s.from)) encode_and_broadcast(s.node, encode(s));
        return;
    }
    // A suspicion of a newer incarnation than ours means the node refuted our
    // suspicion and we missed the alive: it was alive since, so the clock
    // starts again. (memberlist counts it as one more confirmation of the old
    // suspicion, which lets a slow node that keeps refuting be declared dead
    // by whoever missed one alive message.)
    const bool refuted_since = timer != node_timers_.end();
    if (refuted_since) node_timers_.erase(timer);
    if (state.state() != NodeState::alive && !refuted_since) return;

    if (state.node.name == config_.name) {
        refute(state, s.incarnation);
        log::warn("gossip.refute", {{"node", config_.name},
                                    {"accused_incarnation", s.incarnation},
                                    {"from", s.from},
                                    {"reason", "suspect message"}});
        return;
    }
    encode_and_broadcast(s.node, encode(s));

    state.incarnation = s.incarnation;
    state.node.state = NodeState::suspect;
    ++stats_.suspicions;
    state.state_change = now;

    // k confirmations bring the timeout to its minimum two probe intervals
    // before suspicion_mult would; in a cluster too small to give them, none
    // are expected (n - 2 leaves out ourselves and the suspect).
    int k = config_.suspicion_mult - 2;
    const int n = estimated_num_nodes();
    if (n - 2 < k) k = 0;
    const Duration min = suspicion_timeout(config_.suspicion_mult, n, config_.probe_interval);
    const Duration max = config_.suspicion_max_timeout_mult * min;
    node_timers_.emplace(s.node, SuspicionTimer{Suspicion(s.from, k, min, max, now), now});
}

void Memberlist::dead_node(const Dead& d, TimePoint now) {
    auto found = node_map_.find(d.node);
    if (found == node_map_.end()) return;
    NodeRecord& state = *found->second;
    if (d.incarnation < state.incarnation) return;

    node_timers_.erase(d.node);
    if (state.dead_or_left()) return;

    if (state.node.name == config_.name) {
        if (!left_) {
            refute(state, d.incarnation);
            log::warn("gossip.refute", {{"node", config_.name},
                                        {"accused_incarnation", d.incarnation},
                                        {"from", d.from},
                                        {"reason", "dead message"}});
            return;
        }
        encode_and_broadcast(d.node, encode(d), true);
    } else {
        encode_and_broadcast(d.node, encode(d));
    }

    state.incarnation = d.incarnation;
    // A node that declares itself dead has left.
    state.node.state = d.node == d.from ? NodeState::left : NodeState::dead;
    state.state_change = now;
    if (state.state() == NodeState::dead)
        failed_.insert_or_assign(d.node, std::pair{state.node.address(), now});
    else
        failed_.erase(d.node);
    log::info(state.state() == NodeState::left ? "gossip.left" : "gossip.dead_confirmed",
              {{"node", config_.name}, {"target", d.node}, {"from", d.from}});
    if (delegates_.events != nullptr) delegates_.events->notify_leave(state.node);
}

// A push-pull's member list, merged as if each entry had arrived as a
// message; a remote "dead" only makes us suspect, so we probe it ourselves.
void Memberlist::merge_state(const std::vector<PushNodeState>& remote, TimePoint now) {
    for (const PushNodeState& r : remote) {
        switch (r.state) {
        case NodeState::alive:
            alive_node(Alive{r.incarnation, r.name, r.addr, r.port, r.meta, r.vsn}, false, now);
            break;
        case NodeState::left:
            dead_node(Dead{r.incarnation, r.name, r.name}, now);
            break;
        case NodeState::dead:
        case NodeState::suspect:
            suspect_node(Suspect{r.incarnation, r.name, config_.name}, now);
            break;
        }
    }
}

// Every node, local and remote, must speak versions inside the range that
// all of them understand (memberlist's verifyProtocol).
Result<void> Memberlist::verify_protocol(const std::vector<PushNodeState>& remote) const {
    std::uint8_t max_pmin = 0, min_pmax = 255, max_dmin = 0, min_dmax = 255;
    for (const PushNodeState& rn : remote) {
        if (rn.state != NodeState::alive || rn.vsn.size() < vsn_size) continue;
        max_pmin = std::max(max_pmin, rn.vsn[vsn_pmin]);
        min_pmax = std::min(min_pmax, rn.vsn[vsn_pmax]);
        max_dmin = std::max(max_dmin, rn.vsn[vsn_dmin]);
        min_dmax = std::min(min_dmax, rn.vsn[vsn_dmax]);
    }
    for (const NodeRecord* n : nodes_) {
        if (n->state() != NodeState::alive) continue;
        max_pmin = std::max(max_pmin, n->node.pmin);
        min_pmax = std::min(min_pmax, n->node.pmax);
        max_dmin = std::max(max_dmin, n->node.dmin);
        min_dmax = std::min(min_dmax, n->node.dmax);
    }
    auto check = [&](const std::string& name, std::uint8_t pcur,
                     std::uint8_t dcur) -> Result<void> {
        if (pcur < max_pmin || pcur > min_pmax)
            return fail("node '{}' protocol version ({}) is incompatible: [{}, {}]", name, pcur,
                        max_pmin, min_pmax);
        if (dcur < max_dmin || dcur > min_dmax)
            return fail("node '{}' delegate protocol version ({}) is incompatible: [{}, {}]", name,
                        dcur, max_dmin, min_dmax);
        return {};
    };
    for (const PushNodeState& rn : remote) {
        const bool has = rn.vsn.size() >= vsn_size;
        if (auto ok = check(rn.name, has ? rn.vsn[vsn_pcur] : 0, has ? rn.vsn[vsn_dcur] : 0); !ok)
            return ok;
    }
    for (const NodeRecord* n : nodes_)
        if (auto ok = check(n->node.name, n->node.pcur, n->node.dcur); !ok) return ok;
    return {};
}

} // namespace cairn::gossip
