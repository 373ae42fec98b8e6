#include "dns/forward/forwarder.hpp"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include <netinet/in.h>

#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/udp_socket.hpp"
#include "dns/forward/cache.hpp"
#include "dns/forward/reply.hpp"
#include "dns/forward/tcp_exchange.hpp"

namespace cairn::dns::forward {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr std::size_t query_buffer = header_size + max_name_size + 4 + 11;

// The same address and port (not the padding of the sockaddr).
bool same_address(const SocketAddress& a, const SocketAddress& b) {
    if (a.family() != b.family() || a.port() != b.port()) return false;
    if (a.family() == AF_INET)
        return reinterpret_cast<const sockaddr_in*>(a.sa())->sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in*>(b.sa())->sin_addr.s_addr;
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a.sa())->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(b.sa())->sin6_addr, 16) == 0;
}

// The wildcard address of `upstream`'s family, port 0: the kernel picks a
// random free port.
SocketAddress any_port_for(const SocketAddress& upstream) {
    IpAddress ip;
    ip.family = upstream.family() == AF_INET6 ? 6 : 4;
    return SocketAddress::from(ip, 0);
}

// Identical queries share one upstream exchange: the lower-case name, type,
// class, and the DO and CD bits (which change what comes back).
std::string key_of(const Query& q) {
    WireName name = q.qname.name();
    std::string key(reinterpret_cast<const char*>(name.data()), name.size());
    char tail[5] = {static_cast<char>(q.qtype >> 8), static_cast<char>(q.qtype),
                    static_cast<char>(q.qclass >> 8), static_cast<char>(q.qclass),
                    static_cast<char>((q.dnssec_ok ? 1 : 0) | (q.cd ? 2 : 0))};
    key.append(tail, sizeof tail);
    return key;
}

std::uint16_t random_id() {
    return static_cast<std::uint16_t>(arc4random_uniform(65536));
}

// Counters written by the forwarder's thread only, read by any.
struct Counter {
    std::atomic<std::uint64_t> value{0};
    void add(std::uint64_t n = 1) {
        value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(std::uint64_t n) { value.store(n, std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

struct UpstreamCounters {
    Counter sent, answers, timeouts, errors, srtt_us, timeout_ms, down;
    std::array<Counter, ForwarderStats::duration_bounds_us.size() + 1> duration_buckets;
    Counter duration_sum_us;
};

} // namespace

struct Forwarder::Engine {
    // One client waiting for a query in flight.
    struct Waiter {
        Query query;
        std::vector<std::uint8_t> packet;
        std::size_t limit = 512;
        std::unique_ptr<PendingAnswer> pending;
    };
    // One query sent to one upstream.
    struct Attempt {
        unsigned upstream = 0;
        std::uint16_t id = 0;
        Clock::time_point sent;
        std::unique_ptr<UdpSocket> udp;
        std::unique_ptr<TcpExchange> tcp;
        bool timed_out = false;
    };
    struct Flight {
        std::string key;
        Query query; // the question asked upstream
        std::vector<Waiter> waiters;
        std::vector<unsigned> order; // the upstreams to try
        std::size_t next = 0;        // in `order`
        Clock::time_point deadline;
        std::vector<std::unique_ptr<Attempt>> attempts;
        std::unique_ptr<Timer> timer; // the current attempt's timeout
    };
    struct Probe {
        unsigned upstream = 0;
        std::uint16_t id = 0;
        Clock::time_point sent;
        std::unique_ptr<UdpSocket> udp;
        std::unique_ptr<Timer> timer;
    };

    Engine(ForwarderSettings s, Cache* c)
        : settings(std::move(s))
        , cache(c)
        , upstreams(settings.upstreams.size(), settings.policy, settings.health, arc4random())
        , counters(new UpstreamCounters[settings.upstreams.size()]) {
        for (unsigned i = 0; i < upstreams.size(); ++i)
            counters[i].timeout_ms.set(static_cast<std::uint64_t>(upstreams.timeout(i).count()));
        all_down.store(settings.upstreams.empty(), std::memory_order_relaxed);
    }

    ForwarderSettings settings;
    Cache* cache;
    Loop loop;
    UpstreamSet upstreams;
    std::unique_ptr<UpstreamCounters[]> counters;
    std::atomic<bool> all_down{false};
    std::atomic<std::uint64_t> servfail_at_once{0}; // by the Gateway, on any DNS thread
    Counter queries, joined, sent, tcp_retries, answered, stale, servfail, timeouts, failures,
        malformed, oversized, mismatched, late;

    // Requests from the DNS threads.
    std::mutex inbox_mutex;
    std::vector<Request> inbox;
    bool inbox_open = true;
    std::unique_ptr<Async> wake;
    std::unique_ptr<Async> stop_async;
    std::unique_ptr<Timer> probe_timer;

    std::unordered_map<std::string, std::unique_ptr<Flight>> flights;
    std::vector<std::unique_ptr<Probe>> probes;
    std::vector<std::uint8_t> out = std::vector<std::uint8_t>(max_message);

    void init() {
        wake = std::make_unique<Async>(loop, [this] { on_wake(); });
        stop_async = std::make_unique<Async>(loop, [this] { on_stop(); });
        probe_timer = std::make_unique<Timer>(loop);
    }

    [[nodiscard]] Clock::time_point now() const { return Clock::now(); }

    void on_wake() noexcept {
        std::vector<Request> taken;
        {
            std::lock_guard lock(inbox_mutex);
            taken.swap(inbox);
        }
        for (Request& r : taken) take(std::move(r));
    }

    void take(Request r) noexcept {
        queries.add();
        try {
            Waiter w{r.query, std::move(r.packet), r.limit, std::move(r.pending)};
            std::string key = key_of(r.query);
            if (auto it = flights.find(key); it != flights.end()) {
                joined.add();
                if (w.pending) it->second->waiters.push_back(std::move(w));
                return;
            }
            if (upstreams.all_down() || flights.size() >= settings.max_in_flight) {
                fail_waiter(w);
                return;
            }
            auto f = std::make_unique<Flight>();
            f->key = key;
            f->query = r.query;
            if (w.pending) f->waiters.push_back(std::move(w));
            upstreams.choose(f->order);
            f->deadline = now() + settings.total_timeout;
            f->timer = std::make_unique<Timer>(loop);
            Flight& flight = *f;
            flights.emplace(std::move(key), std::move(f));
            try_next(flight);
        } catch (const std::exception& e) {
            log::warn("dns.forward cannot take a query", {{"error", e.what()}});
        }
    }

    // Sends to the next upstream in the flight's order, or fails the flight
    // when none is left or its time is up.
    void try_next(Flight& f) {
        while (f.next < f.order.size()) {
            unsigned i = f.order[f.next++];
            auto left = duration_cast<milliseconds>(f.deadline - now());
            if (left <= milliseconds(0)) break;
            if (!send_udp(f, i)) {
                count_failure(i);
                continue;
            }
            f.timer->start(std::min(upstreams.timeout(i), left), milliseconds(0),
                           [this, &f, i] { on_attempt_timeout(f, i); });
            return;
        }
        fail_flight(f);
    }

    bool send_udp(Flight& f, unsigned i) {
        const SocketAddress& to = settings.upstreams[i];
        auto a = std::make_unique<Attempt>();
        a->upstream = i;
        a->id = random_id();
        a->udp = std::make_unique<UdpSocket>(loop, 64 << 10);
        if (!a->udp->bind(any_port_for(to))) return false;
        Attempt* attempt = a.get();
        auto started = a->udp->receive_start(
            [this, &f, attempt](std::span<const std::uint8_t> data, const SocketAddress& from) {
                on_udp_reply(f, *attempt, data, from);
            });
        if (!started) return false;
        std::uint8_t query[query_buffer];
        std::size_t n = write_upstream_query(query, a->id, f.query);
        if (n == 0 || !a->udp->send({query, n}, to)) return false;
        a->sent = now();
        sent.add();
        counters[i].sent.add();
        f.attempts.push_back(std::move(a));
        return true;
    }

    void on_attempt_timeout(Flight& f, unsigned i) noexcept {
        timeouts.add();
        counters[i].timeouts.add();
        for (auto& a : f.attempts)
            if (a->upstream == i) a->timed_out = true;
        upstreams.timed_out(i, now());
        health_changed(i);
        try_next(f);
    }

    void count_failure(unsigned i) {
        failures.add();
        counters[i].errors.add();
        upstreams.failed(i, now());
        health_changed(i);
    }

    void on_udp_reply(Flight& f, Attempt& a, std::span<const std::uint8_t> data,
                      const SocketAddress& from) noexcept {
        if (!same_address(from, settings.upstreams[a.upstream])) {
            mismatched.add();
            return;
        }
        if (data.size() > edns_payload) {
            oversized.add(); // more than the upstream was told we take
            return;
        }
        auto reply = check_reply(data, a.id, f.query);
        if (!reply) {
            bool ours = reply.error().error == ReplyError::malformed ||
                        reply.error().error == ReplyError::opt_not_last;
            (ours ? malformed : mismatched).add();
            return;
        }
        heard_from(a);
        if (reply->truncated) {
            retry_over_tcp(f, a);
            return;
        }
        use_reply(f, a.upstream, data, *reply);
    }

    // A well-formed reply from upstream `i` to what was sent at `sent`.
    void replied(unsigned i, Clock::time_point sent_at) {
        auto rtt = duration_cast<microseconds>(now() - sent_at);
        UpstreamCounters& c = counters[i];
        c.answers.add();
        auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(rtt.count(), 0));
        c.duration_buckets[histogram_bucket(ForwarderStats::duration_bounds_us, us)].add();
        c.duration_sum_us.add(us);
        upstreams.answered(i, rtt, now());
        health_changed(i);
    }

    // A well-formed reply from the upstream of `a`: it is alive.
    void heard_from(Attempt& a) {
        if (a.timed_out) late.add();
        replied(a.upstream, a.sent);
    }

    void retry_over_tcp(Flight& f, Attempt& a) {
        tcp_retries.add();
        sent.add();
        counters[a.upstream].sent.add();
        a.udp.reset();
        a.id = random_id();
        a.sent = now();
        std::uint8_t query[query_buffer];
        std::size_t n = write_upstream_query(query, a.id, f.query);
        unsigned i = a.upstream;
        auto left = std::max(duration_cast<milliseconds>(f.deadline - now()), milliseconds(1));
        Attempt* attempt = &a;
        a.tcp = std::make_unique<TcpExchange>(
            loop, settings.upstreams[i], std::span<const std::uint8_t>(query, n), left,
            [this, &f, attempt](std::span<const std::uint8_t> data) {
                on_tcp_reply(f, *attempt, data);
            });
        // The exchange's time is the flight's: the next upstream is tried
        // only if this one fails.
        f.timer->start(left, milliseconds(0), [this, &f, i] { on_attempt_timeout(f, i); });
    }

    void on_tcp_reply(Flight& f, Attempt& a, std::span<const std::uint8_t> data) noexcept {
        unsigned i = a.upstream;
        if (data.empty()) {
            count_failure(i);
            f.timer->stop();
            try_next(f);
            return;
        }
        auto reply = check_reply(data, a.id, f.query);
        if (!reply || reply->truncated) {
            (reply && reply->truncated ? failures : malformed).add();
            f.timer->stop();
            try_next(f);
            return;
        }
        counters[i].answers.add();
        use_reply(f, i, data, *reply);
    }

    void use_reply(Flight& f, unsigned i, std::span<const std::uint8_t> data, const Reply& reply) {
        std::uint16_t rc = reply.rcode;
        if (rc == rcode::servfail || rc == rcode::refused || rc == rcode::notimp ||
            rc == rcode::formerr) {
            // This upstream cannot answer it: the next one may.
            failures.add();
            counters[i].errors.add();
            f.timer->stop();
            try_next(f);
            return;
        }
        if (cache != nullptr) cache->store(f.query, data, now());
        for (Waiter& w : f.waiters) {
            std::size_t n = write_client_answer(data, reply, w.query, w.packet, out, w.limit);
            if (n == 0) continue;
            w.pending->complete({out.data(), n});
            answered.add();
        }
        std::string key = f.key;
        flights.erase(key); // destroys f
    }

    void fail_waiter(Waiter& w) {
        if (!w.pending) return;
        if (cache != nullptr) {
            CacheAnswer a = cache->lookup_stale(w.query, w.packet, now(), out, w.limit);
            if (a.size > 0) {
                w.pending->complete({out.data(), a.size});
                stale.add();
                return;
            }
        }
        std::size_t n = write_client_error(rcode::servfail, w.query, w.packet, out);
        if (n != 0) w.pending->complete({out.data(), n});
        servfail.add();
    }

    void fail_flight(Flight& f) {
        for (Waiter& w : f.waiters) fail_waiter(w);
        std::string key = f.key;
        flights.erase(key);
    }

    void health_changed(unsigned i) {
        const UpstreamHealth& h = upstreams.health(i);
        counters[i].srtt_us.set(h.rtt.measured() ? static_cast<std::uint64_t>(
                                                       h.rtt.smoothed(upstreams.settings()).count())
                                                 : 0);
        counters[i].timeout_ms.set(static_cast<std::uint64_t>(upstreams.timeout(i).count()));
        counters[i].down.set(h.down ? 1 : 0);
        all_down.store(upstreams.all_down(), std::memory_order_relaxed);
        schedule_probes();
    }

    // --- probes of the upstreams that are down

    void schedule_probes() {
        auto next = upstreams.next_probe_at();
        if (!next) return;
        auto after = std::max(duration_cast<milliseconds>(*next - now()), milliseconds(0));
        if (probe_timer->active() && probe_timer->due_in() <= after) return;
        probe_timer->start(after + milliseconds(1), milliseconds(0), [this] { run_probes(); });
    }

    void run_probes() noexcept {
        try {
            while (auto i = upstreams.take_probe(now())) send_probe(*i);
        } catch (const std::exception& e) {
            log::warn("dns.forward probe failed", {{"error", e.what()}});
        }
        schedule_probes();
    }

    // A query for the root's NS: any well-formed reply (REFUSED too) says the
    // upstream is there again.
    void send_probe(unsigned i) {
        auto p = std::make_unique<Probe>();
        p->upstream = i;
        p->id = random_id();
        p->udp = std::make_unique<UdpSocket>(loop, 4096);
        p->timer = std::make_unique<Timer>(loop);
        Probe* probe = p.get();
        Query root;
        root.qname.bytes[0] = 0;
        root.qname.size = 1;
        root.qtype = rrtype::ns;
        root.qclass = rrclass::in;
        const SocketAddress& to = settings.upstreams[i];
        std::uint8_t query[query_buffer];
        std::size_t n = write_upstream_query(query, p->id, root);
        bool ok = p->udp->bind(any_port_for(to)).has_value() &&
                  p->udp
                      ->receive_start([this, probe, root](std::span<const std::uint8_t> data,
                                                          const SocketAddress& from) {
                          on_probe_reply(*probe, root, data, from);
                      })
                      .has_value() &&
                  p->udp->send({query, n}, to).has_value();
        if (!ok) {
            upstreams.probe_failed(i, now());
            return;
        }
        p->sent = now();
        counters[i].sent.add();
        p->timer->start(upstreams.settings().max_rto, milliseconds(0), [this, probe] {
            upstreams.probe_failed(probe->upstream, now());
            end_probe(*probe);
        });
        probes.push_back(std::move(p));
    }

    void on_probe_reply(Probe& p, const Query& root, std::span<const std::uint8_t> data,
                        const SocketAddress& from) noexcept {
        if (!same_address(from, settings.upstreams[p.upstream])) {
            mismatched.add();
            return;
        }
        if (!check_reply(data, p.id, root)) {
            malformed.add();
            return;
        }
        unsigned i = p.upstream;
        replied(i, p.sent);
        log::info("dns.forward.upstream_up", {{"upstream", settings.upstreams[i].to_string()}});
        end_probe(p);
    }

    void end_probe(Probe& p) {
        for (auto it = probes.begin(); it != probes.end(); ++it)
            if (it->get() == &p) {
                probes.erase(it);
                break;
            }
        schedule_probes();
    }

    // --- shutdown

    void on_stop() noexcept {
        {
            std::lock_guard lock(inbox_mutex);
            inbox_open = false;
            inbox.clear();
        }
        while (!flights.empty()) {
            Flight& f = *flights.begin()->second;
            for (Waiter& w : f.waiters) {
                std::size_t n = write_client_error(rcode::servfail, w.query, w.packet, out);
                if (n != 0) w.pending->complete({out.data(), n});
            }
            flights.erase(flights.begin());
        }
        probes.clear();
        probe_timer.reset();
        wake.reset();
        stop_async.reset();
    }
};

Forwarder::Forwarder(ForwarderSettings settings, Cache* cache)
    : engine_(std::make_unique<Engine>(std::move(settings), cache)) {
    engine_->init();
}

Forwarder::~Forwarder() {
    stop();
    if (engine_->stop_async) {
        // Never started: close the handles on this thread.
        engine_->on_stop();
        uv_run(engine_->loop.get(), UV_RUN_DEFAULT);
    }
}

Result<void> Forwarder::start() {
    if (running_) return fail("dns.forward: already started");
    if (engine_->settings.upstreams.empty()) log::warn("dns.forward.no_upstreams", {});
    thread_ = std::thread([e = engine_.get()] { e->loop.run(); });
    running_ = true;
    for (const auto& u : engine_->settings.upstreams)
        log::info("dns.forward.upstream",
                  {{"address", u.to_string()}, {"policy", to_string(engine_->settings.policy)}});
    return {};
}

void Forwarder::stop() {
    if (!running_) return;
    running_ = false;
    engine_->stop_async->send();
    thread_.join();
}

void Forwarder::submit(Request request) noexcept {
    Engine& e = *engine_;
    std::lock_guard lock(e.inbox_mutex);
    if (!e.inbox_open) return;
    try {
        e.inbox.push_back(std::move(request));
    } catch (const std::exception&) {
        return;
    }
    e.wake->send();
}

void Forwarder::count_servfail_at_once() noexcept {
    engine_->servfail_at_once.fetch_add(1, std::memory_order_relaxed);
}

bool Forwarder::all_down() const noexcept {
    return engine_->all_down.load(std::memory_order_relaxed);
}

const ForwarderSettings& Forwarder::settings() const {
    return engine_->settings;
}

ForwarderStats Forwarder::stats() const {
    const Engine& e = *engine_;
    ForwarderStats s;
    s.queries = e.queries.get();
    s.joined = e.joined.get();
    s.sent = e.sent.get();
    s.tcp_retries = e.tcp_retries.get();
    s.answered = e.answered.get();
    s.stale = e.stale.get();
    s.servfail = e.servfail.get() + e.servfail_at_once.load(std::memory_order_relaxed);
    s.timeouts = e.timeouts.get();
    s.failures = e.failures.get();
    s.malformed = e.malformed.get();
    s.oversized = e.oversized.get();
    s.mismatched = e.mismatched.get();
    s.late = e.late.get();
    for (unsigned i = 0; i < e.settings.upstreams.size(); ++i) {
        const UpstreamCounters& c = e.counters[i];
        s.upstreams.push_back({e.settings.upstreams[i].to_string(), c.sent.get(), c.answers.get(),
                               c.timeouts.get(), c.errors.get(), c.srtt_us.get(),
                               c.timeout_ms.get(), c.down.get() != 0});
        DurationHistogram& d = s.upstreams.back().durations;
        for (std::size_t b = 0; b < d.buckets.size(); ++b)
            d.buckets[b] = c.duration_buckets[b].get();
        d.sum_us = c.duration_sum_us.get();
    }
    return s;
}

} // namespace cairn::dns::forward
