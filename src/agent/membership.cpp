#include "agent/membership.hpp"

#include <array>
#include <span>

#include <fmt/format.h>

#include "core/background.hpp"
#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/metrics_text.hpp"
#include "core/net.hpp"
#include "gossip/host.hpp"
#include "gossip/memberlist.hpp"

namespace cairn::agent {

namespace {

constexpr std::uint16_t default_gossip_port = 8301;

std::string address_text(const gossip::Node& n) {
    auto a = gossip::socket_address(n.address());
    return a ? a->to_string() : std::string("?");
}

std::string vsn_text(const gossip::Node& n) {
    return fmt::format("{},{},{},{},{},{}", n.pmin, n.pmax, n.pcur, n.dmin, n.dmax, n.dcur);
}

} // namespace

// This agent's metadata, and everything else passed on to the user delegate
// (the registry's replication) when there is one.
class Membership::MetaDelegate final : public gossip::Delegate {
public:
    MetaDelegate(gossip::Bytes meta, gossip::Delegate* user)
        : meta_(std::move(meta))
        , user_(user) {}
    gossip::Bytes node_meta(std::size_t limit) override {
        return meta_.size() <= limit ? meta_ : gossip::Bytes();
    }
    void notify_msg(std::span<const std::uint8_t> msg) override {
        if (user_) user_->notify_msg(msg);
    }
    std::vector<gossip::Bytes> get_broadcasts(std::size_t overhead, std::size_t limit) override {
        return user_ ? user_->get_broadcasts(overhead, limit) : std::vector<gossip::Bytes>{};
    }
    gossip::Bytes local_state(bool join) override {
        return user_ ? user_->local_state(join) : gossip::Bytes();
    }
    void merge_remote_state(std::span<const std::uint8_t> state, bool join) override {
        if (user_) user_->merge_remote_state(state, join);
    }

private:
    gossip::Bytes meta_;
    gossip::Delegate* user_;
};

Membership::Membership(Loop& loop, const config::Config& config, registry::Address address,
                       std::vector<std::string> extra_join, User user)
    : loop_(loop)
    , config_(config)
    , address_(address)
    , join_(config.gossip.join)
    , user_(std::move(user))
    , meta_(std::make_unique<MetaDelegate>(encode_agent_meta(config.datacenter, CAIRN_VERSION),
                                           user_.delegate))
    , keyring_writer_(std::make_unique<Background>(loop)) {
    join_.insert(join_.end(), extra_join.begin(), extra_join.end());
}

Membership::~Membership() = default;

Result<void> Membership::start() {
    const auto& g = config_.gossip;
    auto c = gossip::profile_config(g.profile);
    if (!c) return fail("gossip.profile: \"{}\" is not a profile", g.profile);
    c->name = config_.node_name;
    // Advertise: [gossip].advertise, else the bind address when it is a
    // specific one, else the agent's own address, on the bind port.
    SocketAddress advertise = g.bind;
    if (!g.advertise.empty()) {
        auto a = parse_socket_address(g.advertise, g.bind.port());
        if (!a) return fail("gossip.advertise: {}", a.error().message);
        advertise = *a;
    } else if (g.bind.host() == "0.0.0.0" || g.bind.host() == "::") {
        advertise = SocketAddress::from(address_, g.bind.port());
    }
    c->advertise_addr = gossip::address_bytes(advertise);
    c->advertise_port = advertise.port();
    // data_dir/keyring.json, once it exists, is the keyring; [gossip]
    // encrypt only seeds it (as Serf's keyring file and -encrypt).
    std::string path = keyring_path(config_.data_dir);
    auto start = start_keyring(path, g.encrypt);
    if (!start) return fail("gossip keyring: {}", start.error().message);
    keyring_ = std::move(start->keyring);
    if (start->source == KeyringSource::encrypt)
        log::info("gossip.keyring_written", {{"path", path}, {"from", "gossip.encrypt"}});
    if (start->source == KeyringSource::file)
        log::info("gossip.keyring_loaded", {{"path", path}, {"keys", keyring_.keys().size()}});
    if (start->encrypt_ignored)
        log::warn("gossip.encrypt_ignored",
                  {{"reason", "the keyring file exists and takes precedence"}, {"path", path}});
    if (keyring_.enabled()) {
        c->security.keyring = &keyring_;
        c->security.verify_incoming = g.verify_incoming;
        c->security.verify_outgoing = g.verify_outgoing;
    }
    gossip::Delegates delegates;
    delegates.delegate = meta_.get();
    delegates.events = this;
    delegates.conflict = this;
    host_ = std::make_unique<gossip::Host>(loop_, std::move(*c), g.bind, delegates);
    if (user_.after_call) host_->set_after_call(user_.after_call);
    if (auto r = host_->start(); !r) return r;
    log::info("gossip.listen", {{"bind", host_->local_address().to_string()},
                                {"profile", g.profile},
                                {"encrypted", keyring_.enabled() ? "yes" : "no"}});
    std::vector<SocketAddress> seeds;
    for (const auto& j : join_) {
        auto a = parse_socket_address(j, default_gossip_port);
        if (!a) return fail("gossip.join: {}", a.error().message);
        seeds.push_back(*a);
    }
    host_->join(std::move(seeds));
    return {};
}

void Membership::leave(std::function<void()> done) {
    if (!host_) return done();
    log::info("gossip.leave", {{"node", config_.node_name}});
    host_->leave(std::move(done));
}

nlohmann::json Membership::members_json() const {
    auto out = nlohmann::json::array();
    if (!host_) return out;
    for (const auto& r : host_->memberlist().all_nodes()) {
        const auto& n = r.node;
        nlohmann::json meta = nlohmann::json::object();
        std::string datacenter;
        for (const auto& [k, v] : member_meta(n.meta)) {
            meta[k] = v;
            if (k == "dc") datacenter = v;
        }
        auto a = gossip::socket_address(n.address());
        out.push_back({{"name", n.name},
                       {"address", a ? a->host() : std::string()},
                       {"port", n.port},
                       {"state", gossip::to_string(n.state)},
                       {"datacenter", datacenter},
                       {"incarnation", r.incarnation},
                       {"protocol", {{"min", n.pmin}, {"max", n.pmax}, {"current", n.pcur}}},
                       {"delegate", {{"min", n.dmin}, {"max", n.dmax}, {"current", n.dcur}}},
                       {"meta", meta}});
    }
    return out;
}

nlohmann::json Membership::keyring_json() const {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& k : keyring_.keys()) keys.push_back(gossip::format_key(k));
    return {{"primary", keyring_.enabled() ? gossip::format_key(keyring_.primary()) : ""},
            {"keys", keys}};
}

void Membership::change_keyring(KeyringOp op, std::string key, KeyringDone done) {
    keyring_changes_.push_back({op, std::move(key), std::move(done)});
    next_keyring_change();
}

void Membership::next_keyring_change() {
    while (!keyring_changes_.empty() && !keyring_writer_->running()) {
        KeyringChange change = std::move(keyring_changes_.front());
        keyring_changes_.pop_front();
        // Planned against the keyring as the last change left it.
        auto next = plan_keyring_change(keyring_, change.op, change.key);
        if (!next) {
            change.done(std::unexpected(next.error()));
            continue;
        }
        // Durable before it takes effect (and before the API's 200); the
        // fsyncs run on the writer's thread, so gossip and HTTP go on.
        auto done = std::make_shared<KeyringDone>(std::move(change.done));
        std::string path = keyring_path(config_.data_dir);
        auto started = keyring_writer_->start([this, path, ring = std::move(*next), op = change.op,
                                               done]() -> Background::Continuation {
            auto saved = save_keyring_file(path, ring); // copies only on this thread
            return [this, path, ring, op, done, saved] {
                if (!saved) {
                    (*done)(std::unexpected(
                        KeyringRefusal{KeyringRefusal::Kind::not_stored,
                                       "not stored, so not applied: " + saved.error().message}));
                } else {
                    // In place: the engine holds a pointer to keyring_ and
                    // seals with its primary from the next message on.
                    keyring_ = ring;
                    log::info(
                        "gossip.keyring",
                        {{"op", to_string(op)}, {"keys", keyring_.keys().size()}, {"path", path}});
                    (*done)(keyring_json());
                }
                next_keyring_change();
            };
        });
        if (!started)
            (*done)(std::unexpected(
                KeyringRefusal{KeyringRefusal::Kind::not_stored,
                               "not stored, so not applied: " + started.error().message}));
    }
}

std::string Membership::metrics() const {
    if (!host_) return {};
    const auto& ml = host_->memberlist();
    std::size_t by_state[4] = {};
    for (const auto& r : ml.all_nodes()) by_state[static_cast<std::size_t>(r.node.state) & 3]++;
    const auto& s = ml.stats();
    const auto& h = host_->stats();
    MetricsText m;
    m.family("cairn_gossip_members", "gauge", "Members in this agent's view, by state.");
    for (auto st : {gossip::NodeState::alive, gossip::NodeState::suspect, gossip::NodeState::dead,
                    gossip::NodeState::left})
        m.sample("cairn_gossip_members", by_state[static_cast<std::size_t>(st)],
                 {{"state", gossip::to_string(st)}});
    m.counter("cairn_gossip_packets_received_total", "Gossip datagrams received.", h.packets_in);
    m.counter("cairn_gossip_packets_sent_total", "Gossip datagrams sent.", h.packets_out);
    m.counter("cairn_gossip_received_bytes_total", "Gossip bytes received (UDP and TCP).",
              h.bytes_in);
    m.counter("cairn_gossip_sent_bytes_total", "Gossip bytes sent (UDP and TCP).", h.bytes_out);
    m.counter("cairn_gossip_packets_dropped_total",
              "Gossip datagrams dropped: undecodable, wrongly sealed, bad CRC.", s.packets_dropped);
    m.counter("cairn_gossip_probes_total", "Probes of other members.", s.probes);
    m.counter("cairn_gossip_probe_failures_total", "Probes that ended in suspicion.",
              s.probes_failed);
    m.counter("cairn_gossip_refutations_total", "Suspicions of this agent it refuted.", s.refutes);
    m.counter("cairn_gossip_suspicions_total",
              "Members this agent marked suspect (its own failed probes, or suspect messages).",
              s.suspicions);
    m.family("cairn_gossip_decrypt_failures_total", "counter",
             "Gossip traffic dropped unopened: sealed with no key in the keyring, or "
             "plaintext where encryption is verified; datagrams (also in packets_dropped) "
             "and streams.");
    m.sample("cairn_gossip_decrypt_failures_total", s.decrypt_failures, {{"transport", "udp"}});
    m.sample("cairn_gossip_decrypt_failures_total", s.stream_decrypt_failures,
             {{"transport", "tcp"}});
    using gossip::MessageType;
    struct Tally {
        const gossip::MessageTally& tally;
        const char* direction;
        const char* transport;
        std::span<const MessageType> types; // those this transport carries
    };
    static constexpr std::array packet_types = {MessageType::ping,     MessageType::indirect_ping,
                                                MessageType::ack_resp, MessageType::nack_resp,
                                                MessageType::suspect,  MessageType::alive,
                                                MessageType::dead,     MessageType::user};
    static constexpr std::array stream_types = {MessageType::push_pull, MessageType::ping,
                                                MessageType::ack_resp, MessageType::err,
                                                MessageType::user};
    const Tally tallies[] = {{s.udp_sent, "sent", "udp", packet_types},
                             {s.udp_received, "received", "udp", packet_types},
                             {s.tcp_sent, "sent", "tcp", stream_types},
                             {s.tcp_received, "received", "tcp", stream_types}};
    for (bool bytes : {false, true}) {
        const char* name =
            bytes ? "cairn_gossip_message_bytes_total" : "cairn_gossip_messages_total";
        m.family(name, "counter",
                 bytes ? "Bytes of gossip messages as encoded (before compression, CRC and "
                         "sealing; each compound part on its own), by direction, transport "
                         "and type."
                       : "Gossip messages (each compound part counted), by direction, "
                         "transport and type.");
        for (const Tally& t : tallies)
            for (MessageType type : t.types) {
                auto i = static_cast<std::size_t>(type);
                m.sample(name, bytes ? t.tally.bytes[i] : t.tally.messages[i],
                         {{"direction", t.direction},
                          {"transport", t.transport},
                          {"type", gossip::to_string(type)}});
            }
    }
    m.counter("cairn_gossip_push_pulls_total", "Completed push-pull state exchanges.",
              s.push_pulls);
    m.gauge("cairn_gossip_health_score", "Lifeguard awareness score (0 = healthy).",
            ml.health_score());
    return std::move(m).text();
}

void Membership::notify_join(const gossip::Node& node) {
    log::info("gossip.member_join",
              {{"member", node.name}, {"address", address_text(node)}, {"vsn", vsn_text(node)}});
    if (user_.events) user_.events->notify_join(node);
}

void Membership::notify_leave(const gossip::Node& node) {
    log::info(node.state == gossip::NodeState::left ? "gossip.member_left" : "gossip.member_dead",
              {{"member", node.name}, {"address", address_text(node)}});
    if (user_.events) user_.events->notify_leave(node);
}

void Membership::notify_update(const gossip::Node& node) {
    log::info("gossip.member_update", {{"member", node.name}, {"address", address_text(node)}});
    if (user_.events) user_.events->notify_update(node);
}

void Membership::notify_conflict(const gossip::Node& existing, const gossip::Node& other) {
    log::warn("gossip.name_conflict", {{"member", existing.name},
                                       {"address", address_text(existing)},
                                       {"other_address", address_text(other)}});
}

} // namespace cairn::agent
