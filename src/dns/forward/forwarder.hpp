#pragma once
// Sends the queries the DNS workers cannot answer themselves to the
// upstream resolvers, and answers them when a reply comes (docs/forwarding.md).
// One Forwarder serves every worker, on a thread and loop of its own: its
// upstream sockets, timers, queries in flight and upstream health live there,
// so identical queries from any worker go upstream once and every worker sees
// the same upstream health.
//
// Per query: a UDP socket of its own (a random source port, from the kernel)
// and a random ID (arc4random); a reply counts only from the upstream's address
// and port with that ID and the question asked (reply.hpp); a truncated reply
// is asked again over TCP. Upstreams are tried one after the other, in the
// order the policy gives (upstreams.hpp), each for its adaptive timeout, and
// all within `total_timeout`; a reply arriving after its upstream's timeout
// is still taken while the query waits. When every upstream failed, each
// client gets the cache's stale answer if there is one (RFC 8767), else
// SERVFAIL. Upstreams that are down are probed in the background.
//
// Threads: construct, start(), stop() and the destructor on one thread (the
// agent's main thread); submit(), all_down() and stats() from any thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics_text.hpp"
#include "core/net.hpp"
#include "core/result.hpp"
#include "dns/forward/upstreams.hpp"
#include "dns/responder.hpp"
#include "dns/wire/query.hpp"

namespace cairn::dns::forward {

class Cache;

struct ForwarderSettings {
    std::vector<SocketAddress> upstreams;
    Policy policy = Policy::sequential;
    HealthSettings health;
    // From a query's arrival to SERVFAIL when no upstream answers.
    std::chrono::milliseconds total_timeout{3000};
    // Distinct queries in flight at most (unbound's num-queries-per-thread
    // is the same); beyond, SERVFAIL at once. Each holds a UDP socket with a
    // 64 KiB receive buffer per upstream tried, so this bounds memory too.
    std::size_t max_in_flight = 1024;
};

// Counters, for /metrics: monotonic, except the upstreams' state.
struct ForwarderStats {
    std::uint64_t queries = 0;     // client queries (and prefetches) taken
    std::uint64_t joined = 0;      // of those, joined an identical query in flight
    std::uint64_t sent = 0;        // queries sent upstream (UDP and TCP)
    std::uint64_t tcp_retries = 0; // truncated replies asked again over TCP
    std::uint64_t answered = 0;    // clients answered from an upstream's reply
    std::uint64_t stale = 0;       // clients given a stale answer (all upstreams failed)
    std::uint64_t servfail = 0;    // clients given SERVFAIL (all upstreams failed or down)
    std::uint64_t timeouts = 0;    // upstream attempts that timed out
    std::uint64_t failures = 0;    // send errors, failed TCP, and error rcodes
    // Replies dropped: not well formed, larger than asked, or not ours (ID,
    // question, source); late ones are taken (the query still waits) and
    // counted apart.
    std::uint64_t malformed = 0, oversized = 0, mismatched = 0, late = 0;
    // Bounds of the upstream reply-time histogram, in microseconds.
    static constexpr std::array<std::uint64_t, 12> duration_bounds_us{
        250,    500,    1'000,   2'500,   5'000,   10'000,
        25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000};
    struct Upstream {
        std::string address;
        std::uint64_t sent = 0, answers = 0, timeouts = 0, errors = 0;
        std::uint64_t srtt_us = 0;    // smoothed RTT (0 before the first answer)
        std::uint64_t timeout_ms = 0; // the current adaptive timeout
        bool down = false;
        DurationHistogram durations{duration_bounds_us}; // from query (or probe) to reply
    };
    std::vector<Upstream> upstreams;
};

class Forwarder {
public:
    // One client query for the forwarder.
    struct Request {
        Query query;                            // parsed by the responder
        std::vector<std::uint8_t> packet;       // the client's header and question, as sent
        std::size_t limit = 512;                // the most the client takes
        std::unique_ptr<PendingAnswer> pending; // null: a prefetch, for the cache only
    };

    // `cache` (may be null) must outlive the Forwarder.
    Forwarder(ForwarderSettings settings, Cache* cache);
    ~Forwarder(); // stops
    Forwarder(const Forwarder&) = delete;
    Forwarder& operator=(const Forwarder&) = delete;

    Result<void> start();
    // Clients still waiting get SERVFAIL; joins the thread. Idempotent.
    void stop();

    // Any thread. Never blocks for long (a mutex around a list); a request
    // that comes after stop() is dropped (its PendingAnswer sends nothing).
    void submit(Request request) noexcept;
    // Any thread: every upstream is known down (SERVFAIL at once).
    [[nodiscard]] bool all_down() const noexcept;
    // Any thread: a client got SERVFAIL without waiting (all upstreams down).
    void count_servfail_at_once() noexcept;
    [[nodiscard]] ForwarderStats stats() const;
    [[nodiscard]] const ForwarderSettings& settings() const;

    struct Engine;

private:
    std::unique_ptr<Engine> engine_;
    std::thread thread_;
    bool running_ = false;
};

} // namespace cairn::dns::forward
