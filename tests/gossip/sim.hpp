#pragma once
// A simulated network for gossip tests (memberlist's mock_transport.go, plus
// what a test of failure detection needs): many Memberlist engines in one
// process, a manual clock, a seeded random source, and links with loss,
// delay and partitions. Packets and streams travel as the bytes the engines
// produce and are decoded again on arrival, so the codec runs as it would on
// a real network. No sockets, no sleeping: time jumps from one event or
// deadline to the next.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "gossip/memberlist.hpp"

namespace cairn::gossip::sim {

// What one agent's delegates saw.
struct Events : EventDelegate, ConflictDelegate {
    struct Entry {
        TimePoint at;
        std::string node;
        NodeState state; // after the event
    };
    std::vector<Entry> joins, leaves, updates;
    std::vector<std::pair<std::string, Bytes>> conflicts; // name, other's address
    std::function<TimePoint()> clock;

    void notify_join(const Node& n) override { joins.push_back({clock(), n.name, n.state}); }
    void notify_leave(const Node& n) override { leaves.push_back({clock(), n.name, n.state}); }
    void notify_update(const Node& n) override { updates.push_back({clock(), n.name, n.state}); }
    void notify_conflict(const Node& existing, const Node& other) override {
        conflicts.emplace_back(existing.name, other.addr);
    }
};

class Cluster;

class SimTransport final : public Transport {
public:
    SimTransport(Cluster& cluster, std::size_t index)
        : cluster_(cluster)
        , index_(index) {}
    void send_packet(const Address& to, Bytes packet) override;
    void open_stream(StreamId id, const Address& to, Bytes request, TimePoint deadline) override;
    void send_stream(const Address& to, Bytes message, TimePoint deadline) override;

private:
    Cluster& cluster_;
    std::size_t index_;
};

struct Agent {
    std::string name;
    Address address;
    std::unique_ptr<SimTransport> transport;
    std::unique_ptr<Events> events;
    std::unique_ptr<Memberlist> ml;
    bool running = false;
    // Link properties of this agent's outbound traffic.
    Duration out_delay{0};
    double out_loss = 0;
    bool isolated = false; // drops everything in and out
    int group = 0;         // partitions separate groups
    TimePoint deadline = TimePoint::max();
};

class Cluster {
public:
    Cluster(Config profile, std::uint64_t seed);

    // Adds and starts an agent; its address is 127.0.x.y, port 7946.
    std::size_t add(const std::string& name, std::optional<Address> addr = {});
    // Starts agent i again with a fresh engine (a restart keeps the address).
    void restart(std::size_t i);
    void kill(std::size_t i) { agents_[i].running = false; }
    void join(std::size_t i, std::size_t seed);
    Agent& agent(std::size_t i) { return agents_[i]; }
    Memberlist& ml(std::size_t i) { return *agents_[i].ml; }
    std::size_t size() const { return agents_.size(); }

    TimePoint now() const { return now_; }
    // Runs every event and deadline up to `until`.
    void run_until(TimePoint until);
    void run_for(Duration d) { run_until(now_ + d); }
    // Runs until pred() holds, checked after every step; the time it first
    // held, or nothing if `limit` passed first.
    std::optional<TimePoint> run_until(const std::function<bool()>& pred, Duration limit);

    // Network conditions.
    double loss = 0; // every packet, each way
    Duration latency = std::chrono::milliseconds(1);
    Duration jitter = std::chrono::microseconds(500);
    bool partitioned = false; // groups cannot talk
    std::uint64_t packets_delivered = 0, packets_lost = 0, streams = 0;
    // Every stream is first handed over half-read: the engines must wait for
    // the rest (counted here).
    std::uint64_t partial_reads = 0;
    // Adjusts agent i's config before it starts (keyrings, say).
    std::function<void(std::size_t, Config&)> configure;
    // Adjusts agent i's delegates before its engine starts (a registry
    // delegate, say, in place of the event recorder).
    std::function<void(std::size_t, Delegates&)> delegates;
    // Runs after every call into agent i's engine, where a delegate may send
    // what it queued during the call.
    std::function<void(std::size_t)> after_call;
    // Sees every packet as it is delivered (to, from, bytes).
    std::function<void(std::size_t, std::size_t, const Bytes&)> tap;
    // Sees every packet and every stream's bytes as an agent sends them
    // (sender, bytes, true for a stream): what the agent's socket would write.
    std::function<void(std::size_t, const Bytes&, bool)> sent;

    // How agent i sees node `name`, if it has it.
    std::optional<NodeState> view(std::size_t i, const std::string& name) const;
    // Every running agent sees every agent in `names` in `state`.
    bool all_see(const std::vector<std::size_t>& observers,
                 const std::vector<std::size_t>& subjects, NodeState state) const;

private:
    friend class SimTransport;
    struct Event {
        TimePoint at;
        std::uint64_t seq;
        std::function<void()> fn;
        bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
    };
    void schedule(Duration after, std::function<void()> fn);
    std::optional<std::size_t> lookup(const Address& a) const;
    bool link_up(std::size_t from, std::size_t to) const;
    Duration delay(std::size_t from);
    void refresh(std::size_t i);
    void step_agent(std::size_t i);

    Config profile_;
    Random rng_;
    TimePoint now_;
    std::uint64_t seq_ = 0;
    std::uint64_t next_seed_;
    std::vector<Agent> agents_;
    // Not std::less: GCC 12 at -O3 reports a -Wstringop-overread false
    // positive in the memcmp of vector's operator<=>; this compares bytewise.
    struct AddressLess {
        bool operator()(const std::pair<Bytes, std::uint16_t>& a,
                        const std::pair<Bytes, std::uint16_t>& b) const {
            if (a.first.size() != b.first.size()) return a.first.size() < b.first.size();
            for (std::size_t k = 0; k < a.first.size(); ++k)
                if (a.first[k] != b.first[k]) return a.first[k] < b.first[k];
            return a.second < b.second;
        }
    };
    std::map<std::pair<Bytes, std::uint16_t>, std::size_t, AddressLess> by_addr_;
    std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
};

} // namespace cairn::gossip::sim
