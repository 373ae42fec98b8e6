#include "sim.hpp"

#include <cstdlib>
#include <doctest/doctest.h>

namespace cairn::gossip::sim {

namespace {

// CAIRN_SIM_SEED shifts every simulation's seed: a loop over values of it
// looks for runs that fail (each value replays exactly).
std::uint64_t shifted(std::uint64_t seed) {
    const char* shift = std::getenv("CAIRN_SIM_SEED");
    return seed + (shift != nullptr ? std::strtoull(shift, nullptr, 10) : 0);
}

} // namespace

Cluster::Cluster(Config profile, std::uint64_t seed)
    : profile_(std::move(profile))
    , rng_(shifted(seed))
    , now_(std::chrono::seconds(1'000'000))
    , next_seed_(shifted(seed) * 7919 + 1) {}

std::size_t Cluster::add(const std::string& name, std::optional<Address> addr) {
    const std::size_t i = agents_.size();
    Agent a;
    a.name = name;
    a.address = addr ? *addr
                     : Address{Bytes{127, 0, static_cast<std::uint8_t>(i / 250),
                                     static_cast<std::uint8_t>(i % 250 + 1)},
                               7946, name};
    a.address.name = name;
    a.transport = std::make_unique<SimTransport>(*this, i);
    a.events = std::make_unique<Events>();
    a.events->clock = [this] { return now_; };
    by_addr_[{a.address.addr, a.address.port}] = i;
    agents_.push_back(std::move(a));
    restart(i);
    return i;
}

void Cluster::restart(std::size_t i) {
    Agent& a = agents_[i];
    Config c = profile_;
    c.name = a.name;
    c.advertise_addr = a.address.addr;
    c.advertise_port = a.address.port;
    if (configure) configure(i, c);
    Delegates d;
    d.events = a.events.get();
    d.conflict = a.events.get();
    if (delegates) delegates(i, d);
    a.ml.reset();
    a.ml = std::make_unique<Memberlist>(c, *a.transport, d, next_seed_++, now_);
    a.running = true;
    refresh(i);
}

void Cluster::join(std::size_t i, std::size_t seed) {
    const Address to{agents_[seed].address.addr, agents_[seed].address.port, {}};
    agents_[i].ml->join(std::span(&to, 1), now_);
    refresh(i);
}

std::optional<std::size_t> Cluster::lookup(const Address& a) const {
    auto it = by_addr_.find({a.addr, a.port});
    if (it == by_addr_.end()) return std::nullopt;
    return it->second;
}

bool Cluster::link_up(std::size_t from, std::size_t to) const {
    const Agent& a = agents_[from];
    const Agent& b = agents_[to];
    if (a.isolated || b.isolated) return false;
    if (partitioned && a.group != b.group) return false;
    return true;
}

Duration Cluster::delay(std::size_t from) {
    return latency + rng_.stagger(jitter) + agents_[from].out_delay;
}

void Cluster::schedule(Duration after, std::function<void()> fn) {
    events_.push(Event{now_ + after, seq_++, std::move(fn)});
}

void Cluster::refresh(std::size_t i) {
    Agent& a = agents_[i];
    if (after_call && a.running) after_call(i);
    a.deadline = a.running ? a.ml->next_deadline() : TimePoint::max();
}

void SimTransport::send_packet(const Address& to, Bytes packet) {
    Cluster& c = cluster_;
    auto target = c.lookup(to);
    if (!target) return;
    const std::size_t from = index_;
    if (c.sent) c.sent(from, packet, false);
    const double p = c.loss + c.agents_[from].out_loss;
    const bool lost =
        !c.link_up(from, *target) || (p > 0 && double(c.rng_.next_u32()) / 4294967296.0 < p);
    if (lost) {
        ++c.packets_lost;
        return;
    }
    const Address src{c.agents_[from].address.addr, c.agents_[from].address.port, {}};
    c.schedule(c.delay(from), [&c, from, t = *target, src, packet = std::move(packet)] {
        Agent& a = c.agents_[t];
        if (!a.running) return;
        ++c.packets_delivered;
        if (c.tap) c.tap(t, from, packet);
        a.ml->on_packet(src, packet, c.now_);
        c.refresh(t);
    });
}

void SimTransport::open_stream(StreamId id, const Address& to, Bytes request, TimePoint deadline) {
    Cluster& c = cluster_;
    const std::size_t from = index_;
    ++c.streams;
    if (c.sent) c.sent(from, request, true);
    auto fail_at = [&c, from, id](TimePoint at) {
        c.schedule(at - c.now_, [&c, from, id] {
            Agent& a = c.agents_[from];
            if (!a.running) return;
            a.ml->on_stream_failed(id, c.now_);
            c.refresh(from);
        });
    };
    auto target = c.lookup(to);
    if (!target || !c.link_up(from, *target)) {
        fail_at(deadline); // no answer to the SYN: the connect times out
        return;
    }
    const Address src{c.agents_[from].address.addr, c.agents_[from].address.port, {}};
    c.schedule(c.delay(from), [&c, from, id, t = *target, src, deadline,
                               request = std::move(request), fail_at] {
        Agent& b = c.agents_[t];
        if (!b.running || !c.link_up(from, t)) {
            fail_at(b.running ? deadline : c.now_ + c.latency); // refused at once when down
            return;
        }
        // The first half alone must not be taken for a whole request.
        if (request.size() > 1) {
            const auto half = std::span(request).first(request.size() / 2);
            CHECK(b.ml->on_stream(src, half, c.now_).status == StreamReply::Status::incomplete);
            ++c.partial_reads;
        }
        StreamReply reply = b.ml->on_stream(src, request, c.now_);
        c.refresh(t);
        if (c.sent && !reply.reply.empty()) c.sent(t, reply.reply, true);
        if (reply.status != StreamReply::Status::done || reply.reply.empty()) {
            fail_at(c.now_ + c.latency); // closed without an answer
            return;
        }
        c.schedule(c.delay(t), [&c, from, id, deadline, bytes = std::move(reply.reply)] {
            Agent& a = c.agents_[from];
            if (!a.running) return;
            if (c.now_ > deadline) {
                a.ml->on_stream_failed(id, c.now_);
            } else {
                // A stream the engine gave up on meanwhile (a fallback ping
                // past its probe) is done at once; any other waits for all.
                bool done = false;
                if (bytes.size() > 1) {
                    done = a.ml->on_stream_response(id, std::span(bytes).first(bytes.size() / 2),
                                                    c.now_);
                    if (!done) ++c.partial_reads;
                }
                if (!done) CHECK(a.ml->on_stream_response(id, bytes, c.now_));
            }
            c.refresh(from);
        });
    });
}

void SimTransport::send_stream(const Address& to, Bytes message, TimePoint deadline) {
    (void)deadline;
    Cluster& c = cluster_;
    if (c.sent) c.sent(index_, message, true);
    auto target = c.lookup(to);
    if (!target || !c.link_up(index_, *target)) return;
    const Address src{c.agents_[index_].address.addr, c.agents_[index_].address.port, {}};
    c.schedule(c.delay(index_), [&c, t = *target, src, message = std::move(message)] {
        Agent& b = c.agents_[t];
        if (!b.running) return;
        (void)b.ml->on_stream(src, message, c.now_);
        c.refresh(t);
    });
}

void Cluster::step_agent(std::size_t i) {
    agents_[i].ml->tick(now_);
    refresh(i);
}

std::optional<TimePoint> Cluster::run_until(const std::function<bool()>& pred, Duration limit) {
    const TimePoint until = now_ + limit;
    if (pred()) return now_;
    // The condition is polled every 10 ms of simulated time (asking it after
    // every event would cost more than the simulation).
    constexpr Duration poll = std::chrono::milliseconds(10);
    TimePoint next_poll = now_ + poll;
    // Bounded: every step moves time forward or consumes an event, and each
    // engine's deadlines move past `now` when it ticks.
    for (std::uint64_t steps = 0; steps < 100'000'000; ++steps) {
        TimePoint next_agent = TimePoint::max();
        std::size_t which = 0;
        for (std::size_t i = 0; i < agents_.size(); ++i) {
            if (agents_[i].running && agents_[i].deadline < next_agent) {
                next_agent = agents_[i].deadline;
                which = i;
            }
        }
        const TimePoint next_event = events_.empty() ? TimePoint::max() : events_.top().at;
        const TimePoint next = std::min(next_agent, next_event);
        if (next > until) {
            now_ = until;
            return pred() ? std::optional(now_) : std::nullopt;
        }
        now_ = std::max(now_, next);
        if (next_event <= next_agent) {
            Event e = events_.top();
            events_.pop();
            e.fn();
        } else {
            step_agent(which);
        }
        if (now_ >= next_poll) {
            next_poll = now_ + poll;
            if (pred()) return now_;
        }
    }
    FAIL("simulation did not terminate");
    return std::nullopt;
}

void Cluster::run_until(TimePoint until) {
    (void)run_until([] { return false; }, until - now_);
}

std::optional<NodeState> Cluster::view(std::size_t i, const std::string& name) const {
    const NodeRecord* r = agents_[i].ml->find(name);
    if (r == nullptr) return std::nullopt;
    return r->state();
}

bool Cluster::all_see(const std::vector<std::size_t>& observers,
                      const std::vector<std::size_t>& subjects, NodeState state) const {
    for (std::size_t o : observers) {
        if (!agents_[o].running) continue;
        for (std::size_t s : subjects) {
            if (s == o) continue;
            if (view(o, agents_[s].name) != state) return false;
        }
    }
    return true;
}

} // namespace cairn::gossip::sim
