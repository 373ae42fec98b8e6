// Messages in and out (memberlist's net.go): packet and stream handlers, the
// sending path with piggybacked broadcasts, and push-pull state exchange.
#include <algorithm>

#include <arpa/inet.h>

#include <fmt/format.h>

#include "core/log.hpp"
#include "gossip/codec.hpp"
#include "gossip/envelope.hpp"
#include "gossip/memberlist.hpp"
#include "gossip/packet.hpp"

namespace cairn::gossip {

std::string to_string(const Address& a) {
    if (a.addr.size() == 4)
        return fmt::format("{}.{}.{}.{}:{}", a.addr[0], a.addr[1], a.addr[2], a.addr[3], a.port);
    if (a.addr.size() == 16) {
        std::string s = "[";
        for (std::size_t i = 0; i < 16; i += 2) {
            if (i > 0) s += ':';
            s += fmt::format("{:x}", (a.addr[i] << 8) | a.addr[i + 1]);
        }
        return s + fmt::format("]:{}", a.port);
    }
    return fmt::format("?{}:{}", a.addr.size(), a.port);
}

std::string ip_text(std::span<const std::uint8_t> addr) {
    static constexpr std::uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (addr.size() == 16 && std::equal(addr.begin(), addr.begin() + 12, v4_mapped))
        addr = addr.subspan(12);
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.size() == 4) return fmt::format("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3]);
    if (addr.size() == 16 && inet_ntop(AF_INET6, addr.data(), text, sizeof text) != nullptr)
        return text;
    return {};
}

void Memberlist::on_packet(const Address& from, std::span<const std::uint8_t> packet,
                           TimePoint now) {
    if (shutdown_) return;
    ++stats_.packets_received;
    bool open_failed = false;
    auto incoming = read_packet(packet, config_.security, {}, &open_failed);
    if (!incoming) {
        ++stats_.packets_dropped;
        if (open_failed) ++stats_.decrypt_failures;
        log::debug("gossip.packet.bad", {{"node", config_.name},
                                         {"from", to_string(from)},
                                         {"error", incoming.error().message}});
        return;
    }
    for (const auto& [type, size] : incoming->packet.encoded) stats_.udp_received.add(type, size);
    for (const PacketMessage& msg : incoming->packet.messages) handle_command(from, msg, now);
}

void Memberlist::handle_command(const Address& from, const PacketMessage& msg, TimePoint now) {
    std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, Ping>)
                handle_ping(from, m);
            else if constexpr (std::is_same_v<T, IndirectPingReq>)
                handle_indirect_ping(from, m, now);
            else if constexpr (std::is_same_v<T, AckResp>)
                handle_ack(m, now);
            else if constexpr (std::is_same_v<T, NackResp>)
                handle_nack(m);
            else if constexpr (std::is_same_v<T, Suspect>)
                suspect_node(m, now);
            else if constexpr (std::is_same_v<T, Alive>) {
                Alive a = m;
                // Protocol 1 sent no port: the configured one is meant.
                if (a.port == 0) a.port = config_.advertise_port;
                alive_node(a, false, now);
            } else if constexpr (std::is_same_v<T, Dead>)
                dead_node(m, now);
            else if constexpr (std::is_same_v<T, UserMsg>) {
                if (delegates_.delegate != nullptr) delegates_.delegate->notify_msg(m.payload);
            }
        },
        msg);
}

void Memberlist::handle_ping(const Address& from, const Ping& p) {
    // A ping for another name: a restarted agent under a new name, say.
    if (!p.node.empty() && p.node != config_.name) {
        ++stats_.packets_dropped;
        log::warn("gossip.ping.wrong_node", {{"node", config_.name}, {"for", p.node}});
        return;
    }
    AckResp ack{p.seq_no, {}};
    if (delegates_.ping != nullptr) ack.payload = delegates_.ping->ack_payload();
    Address to = !p.source_addr.empty() && p.source_port > 0
                     ? Address{p.source_addr, p.source_port, p.source_node}
                     : Address{from.addr, from.port, p.source_node};
    send_msg(to, encode(ack));
}

void Memberlist::handle_indirect_ping(const Address& from, const IndirectPingReq& ind,
                                      TimePoint now) {
    const std::uint16_t port = ind.port == 0 ? config_.advertise_port : ind.port;
    const std::uint32_t local_seq = next_seq_no();
    const Address origin = !ind.source_addr.empty() && ind.source_port > 0
                               ? Address{ind.source_addr, ind.source_port, ind.source_node}
                               : Address{from.addr, from.port, ind.source_node};
    // The ack is relayed to the origin until the probe timeout. A nack, if
    // asked for, goes back after 80% of it, as Lifeguard has it: memberlist
    // waits the whole timeout, so with the lan profile its nack reaches the
    // prober just after the prober stopped counting (indirect pings leave at
    // 500 ms of a 1 s probe), and a healthy prober of a dead node raised
    // its own health score by every nack it was owed.
    AckHandler h;
    h.relay = true;
    h.reap_at = now + config_.probe_timeout;
    h.origin_seq = ind.seq_no;
    h.origin = origin;
    if (ind.nack) h.nack_at = now + config_.probe_timeout * 4 / 5;
    ack_handlers_[local_seq] = std::move(h);
    const Ping ping{local_seq, ind.node, config_.advertise_addr, config_.advertise_port,
                    config_.name};
    send_msg(Address{ind.target, port, ind.node}, encode(ping));
}

void Memberlist::handle_ack(const AckResp& ack, TimePoint now) {
    auto it = ack_handlers_.find(ack.seq_no);
    if (it == ack_handlers_.end()) return;
    const AckHandler h = std::move(it->second);
    ack_handlers_.erase(it);
    if (h.relay) {
        send_msg(h.origin, encode(AckResp{h.origin_seq, {}}));
        return;
    }
    if (!probe_ || probe_->seq_no != ack.seq_no) return;
    // RTT only for direct pings: an indirect ack says little about the link.
    if (delegates_.ping != nullptr && !probe_->indirect_sent)
        delegates_.ping->notify_ping_complete(probe_->target.node, now - probe_->sent, ack.payload);
    probe_finish(true, now);
}

void Memberlist::handle_nack(const NackResp& nack) {
    auto it = ack_handlers_.find(nack.seq_no);
    if (it == ack_handlers_.end() || it->second.relay) return;
    if (probe_ && probe_->seq_no == nack.seq_no) ++probe_->nacks;
}

void Memberlist::run_ack_timeouts(TimePoint now) {
    std::vector<std::pair<Address, std::uint32_t>> nacks;
    for (auto it = ack_handlers_.begin(); it != ack_handlers_.end();) {
        AckHandler& h = it->second;
        if (h.nack_at && *h.nack_at <= now) {
            nacks.emplace_back(h.origin, h.origin_seq);
            h.nack_at.reset();
        }
        if (h.reap_at <= now)
            it = ack_handlers_.erase(it);
        else
            ++it;
    }
    for (const auto& [origin, seq] : nacks) send_msg(origin, encode(NackResp{seq}));
}

// Sends one message, filling the rest of the packet with broadcasts.
void Memberlist::send_msg(const Address& to, Bytes msg) {
    const auto avail = static_cast<std::int64_t>(config_.udp_buffer_size) -
                       static_cast<std::int64_t>(msg.size()) -
                       static_cast<std::int64_t>(compound_header_overhead) -
                       static_cast<std::int64_t>(packet_overhead());
    std::vector<Bytes> extra;
    if (avail > 0) extra = get_broadcasts(compound_part_overhead, static_cast<std::size_t>(avail));
    if (extra.empty()) {
        raw_send_packet(to, std::move(msg), CrcPeer::by_ip);
        return;
    }
    std::vector<Bytes> parts;
    parts.reserve(extra.size() + 1);
    parts.push_back(std::move(msg));
    for (Bytes& e : extra) parts.push_back(std::move(e));
    send_parts(to, parts, CrcPeer::by_ip);
}

// One packet for one part, else compounds of at most 127 parts each (many
// tiny delegate broadcasts could make more than a compound holds).
void Memberlist::send_parts(const Address& to, std::vector<Bytes>& parts, CrcPeer crc) {
    if (parts.size() == 1) {
        raw_send_packet(to, std::move(parts[0]), crc);
        return;
    }
    auto compounds = make_compounds(parts);
    if (!compounds) {
        log::error("gossip.packet.compound_failed",
                   {{"node", config_.name}, {"error", compounds.error().message}});
        return;
    }
    for (Bytes& c : *compounds) raw_send_packet(to, std::move(c), crc);
}

// memberlist's compressPayload where it pays: the message itself when
// compressing would not make it smaller (pings and acks never shrink).
Bytes Memberlist::compressed(Bytes msg) const {
    if (!config_.enable_compression || msg.size() < min_compress_size) return msg;
    Bytes c = compress_payload(msg);
    return c.size() < msg.size() ? std::move(c) : std::move(msg);
}

// The protocol max of the packet's recipient for its CRC header; 0 (no
// CRC) when it is not known. memberlist's sendMsg passes no node, and
// rawSendMsgPacket then looks the destination's bare IP up among the
// member names.
std::uint8_t Memberlist::peer_pmax(const Address& to, CrcPeer crc) const {
    std::string name = to.name;
    if (crc == CrcPeer::by_ip) name = ip_text(to.addr);
    if (name.empty()) return 0;
    auto it = node_map_.find(name);
    return it == node_map_.end() ? 0 : it->second->node.pmax;
}

void Memberlist::raw_send_packet(const Address& to, Bytes msg, CrcPeer crc) {
    for (std::span<const std::uint8_t> part : packet_parts(msg)) stats_.udp_sent.add(part);
    msg = compressed(std::move(msg));
    // Peers that understand protocol 5 get the CRC header; unknown ones not.
    auto out = write_packet(msg, peer_pmax(to, crc), config_.security);
    if (!out) {
        log::error("gossip.packet.seal_failed",
                   {{"node", config_.name}, {"error", out.error().message}});
        return;
    }
    ++stats_.packets_sent;
    transport_.send_packet(to, std::move(*out));
}

// Bytes a packet loses to sealing (memberlist's encryptOverhead).
std::size_t Memberlist::packet_overhead() const {
    const Security& sec = config_.security;
    return sec.enabled() && sec.verify_outgoing ? encrypt_overhead(sec.version) : 0;
}

StreamId Memberlist::open_stream(const Address& to, Bytes request, StreamKind kind,
                                 std::uint32_t seq_no, TimePoint deadline) {
    const StreamId id = next_stream_id_++;
    Bytes out = seal(request);
    if (out.empty()) return id; // never pending: the caller sees it fail like an unanswered stream
    streams_.emplace(id, PendingStream{kind, seq_no, deadline});
    ++stats_.streams_opened;
    transport_.open_stream(id, to, std::move(out), deadline);
    return id;
}

void Memberlist::send_reliable(const Node& to, std::span<const std::uint8_t> msg, TimePoint now) {
    if (shutdown_) return;
    Bytes out = seal(encode_stream_user(msg));
    if (out.empty()) return;
    transport_.send_stream(to.address(), std::move(out), now + config_.tcp_timeout);
}

Bytes Memberlist::local_state(bool join) {
    PushPull state;
    state.join = join;
    state.nodes.reserve(nodes_.size());
    for (const NodeRecord* n : nodes_)
        state.nodes.push_back(PushNodeState{n->node.name, n->node.addr, n->node.port, n->node.meta,
                                            n->incarnation, n->state(), n->node.vsn()});
    if (delegates_.delegate != nullptr) state.user_state = delegates_.delegate->local_state(join);
    return encode_push_pull(state);
}

Result<void> Memberlist::merge_remote_state(bool join, const PushPull& remote, TimePoint now) {
    if (auto ok = verify_protocol(remote.nodes); !ok) return ok;
    if (join && delegates_.merge != nullptr) {
        std::vector<Node> peers;
        for (const PushNodeState& n : remote.nodes) {
            Node peer = Node{n.name, n.addr, n.port, n.meta, n.state};
            peer.set_vsn(n.vsn);
            peers.push_back(std::move(peer));
        }
        if (auto ok = delegates_.merge->notify_merge(peers); !ok) return ok;
    }
    std::vector<PushNodeState> nodes = remote.nodes;
    for (PushNodeState& n : nodes)
        if (n.port == 0) n.port = config_.advertise_port;
    merge_state(nodes, now);
    if (!remote.user_state.empty() && delegates_.delegate != nullptr)
        delegates_.delegate->merge_remote_state(remote.user_state, join);
    ++stats_.push_pulls;
    return {};
}

Bytes Memberlist::seal(const Bytes& message) {
    stats_.tcp_sent.add(message);
    auto out = write_stream(compressed(message), config_.security);
    if (!out) {
        log::error("gossip.stream.seal_failed",
                   {{"node", config_.name}, {"error", out.error().message}});
        return {};
    }
    return std::move(*out);
}

Result<std::optional<DecodedStream>>
Memberlist::read_counted(std::span<const std::uint8_t> received) {
    bool open_failed = false;
    auto decoded = read_stream(received, config_.security, {}, &open_failed);
    if (open_failed) ++stats_.stream_decrypt_failures;
    if (decoded && *decoded)
        stats_.tcp_received.add(message_type((*decoded)->message), (*decoded)->message_bytes);
    return decoded;
}

StreamReply Memberlist::on_stream(const Address& from, std::span<const std::uint8_t> received,
                                  TimePoint now) {
    if (shutdown_) return {};
    auto decoded = read_counted(received);
    if (!decoded) {
        log::warn("gossip.stream.bad", {{"node", config_.name},
                                        {"from", to_string(from)},
                                        {"error", decoded.error().message}});
        return StreamReply{StreamReply::Status::done,
                           seal(encode(ErrResp{decoded.error().message}))};
    }
    if (!*decoded) return StreamReply{StreamReply::Status::incomplete, {}};
    ++stats_.streams_received;

    StreamReply reply;
    std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, PushPull>) {
                // Our state goes back before theirs is merged, as memberlist does.
                reply.reply = local_state(m.join);
                if (auto ok = merge_remote_state(m.join, m, now); !ok)
                    log::warn("gossip.push_pull.refused", {{"node", config_.name},
                                                           {"from", to_string(from)},
                                                           {"error", ok.error().message}});
            } else if constexpr (std::is_same_v<T, Ping>) {
                if (m.node.empty() || m.node == config_.name)
                    reply.reply = encode(AckResp{m.seq_no, {}});
            } else if constexpr (std::is_same_v<T, UserMsg>) {
                if (delegates_.delegate != nullptr) delegates_.delegate->notify_msg(m.payload);
            } else {
                log::warn("gossip.stream.unexpected",
                          {{"node", config_.name}, {"from", to_string(from)}});
            }
        },
        (*decoded)->message);
    if (!reply.reply.empty()) reply.reply = seal(reply.reply);
    return reply;
}

bool Memberlist::on_stream_response(StreamId id, std::span<const std::uint8_t> received,
                                    TimePoint now) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return true;
    auto decoded = read_counted(received);
    if (decoded && !*decoded) return false; // wait for more
    const PendingStream pending = it->second;
    streams_.erase(it);
    if (shutdown_) return true;
    if (!decoded) {
        log::warn("gossip.stream.bad_answer",
                  {{"node", config_.name}, {"error", decoded.error().message}});
        return true;
    }

    const StreamMessage& msg = (*decoded)->message;
    if (pending.kind == StreamKind::fallback_ping) {
        const auto* ack = std::get_if<AckResp>(&msg);
        if (ack != nullptr && ack->seq_no == pending.seq_no && probe_ && probe_->fallback == id)
            probe_->fallback_contacted = true;
        return true;
    }
    if (const auto* err = std::get_if<ErrResp>(&msg)) {
        log::warn("gossip.push_pull.remote_error", {{"node", config_.name}, {"error", err->error}});
        return true;
    }
    const auto* remote = std::get_if<PushPull>(&msg);
    if (remote == nullptr) return true;
    const bool join = pending.kind == StreamKind::join;
    if (auto ok = merge_remote_state(join, *remote, now); !ok) {
        log::warn("gossip.push_pull.refused",
                  {{"node", config_.name}, {"error", ok.error().message}});
        return true;
    }
    if (join) {
        ++join_successes_;
        const NodeRecord& me = *node_map_.at(config_.name);
        announce(encode(Alive{me.incarnation, me.node.name, me.node.addr, me.node.port,
                              me.node.meta, me.node.vsn()}));
    }
    return true;
}

// Sends `msg` straight to every live member (up to announce_limit of them,
// at random), besides whatever broadcast carries it. memberlist relies on the
// broadcast alone; at 50 nodes a broadcast misses some member about once in
// a few thousand, which leaves a newly joined node unknown to it until the
// next push-pull, or a refuted suspicion running out into a false death.
// Used for the three messages whose loss costs most: our alive after a join
// and after a refutation, and our leave.
void Memberlist::announce(const Bytes& msg) {
    std::vector<const NodeRecord*> targets;
    for (const NodeRecord* n : nodes_)
        if (n->node.name != config_.name && n->state() == NodeState::alive) targets.push_back(n);
    if (targets.size() > announce_limit) {
        rng_.shuffle(targets);
        targets.resize(announce_limit);
    }
    for (const NodeRecord* n : targets) raw_send_packet(n->node.address(), msg);
}

void Memberlist::on_stream_failed(StreamId id, TimePoint now) {
    (void)now;
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    if (it->second.kind != StreamKind::fallback_ping)
        log::debug("gossip.stream.failed", {{"node", config_.name}});
    streams_.erase(it);
}

} // namespace cairn::gossip
