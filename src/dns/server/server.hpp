#pragma once
// The DNS server's sockets: UDP and TCP on every listen address, served by
// `workers` workers. Each worker has its own SO_REUSEPORT sockets (the
// kernel spreads clients over them): a thread per UDP socket blocked in
// recvmmsg, and a thread running a cairn::Loop over the TCP listeners. Every
// thread has its own Responder, so nothing on the query path is shared or
// locked.
//
//   dns::Server server({.listen = {addr}, .workers = 1}, [] { return make_responder(); });
//   if (auto ok = server.start(); !ok) { log::error(ok.error().message); ... }
//   ...
//   server.stop();
//
// UDP is read and written in batches (recvmmsg/sendmmsg);
// TCP follows RFC 7766 (pipelining, idle timeout, connection cap). See
// udp.cpp and tcp.cpp; this file and server.cpp only own the
// threads and the sockets' creation.
//
// Threads: construct, start(), stop(), bound_addresses() and the destructor on
// one thread (the agent's main thread); stats() from any thread once start()
// has returned.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"
#include "dns/responder.hpp"

namespace cairn::dns {

struct ServerOptions {
    std::vector<SocketAddress> listen;   // UDP and TCP on each, IPv4 and IPv6
    unsigned workers = 0;                // 0 = one per core
    unsigned tcp_max_connections = 1024; // per server (split evenly over workers);
                                         // oldest idle closed first
    std::chrono::milliseconds tcp_idle_timeout{10'000};
    // A TCP query must be complete this long after its first byte.
    std::chrono::milliseconds tcp_query_timeout{2'000};
    // TCP connections from one client address at most (split over workers
    // like the cap).
    unsigned tcp_max_per_client = 64;
    // How long stop() waits for queued TCP answers to be written before it
    // closes the connections anyway (a client that never reads).
    std::chrono::milliseconds stop_grace{2'000};
};

class Worker;

class Server {
public:
    Server(ServerOptions options, ResponderFactory factory);
    ~Server(); // stops if still running
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds every address (UDP and TCP, one SO_REUSEPORT socket per worker)
    // or fails naming the address; then starts the worker threads. A listen
    // port of 0 picks a free port, the same one for UDP and TCP and for every
    // worker; bound_addresses() tells which.
    Result<void> start();
    // Graceful: stops accepting and reading, lets queued TCP answers be
    // written (up to stop_grace), closes the sockets, joins the workers.
    // Idempotent.
    void stop();

    // The listen addresses with their actual ports, in options order. Empty
    // before start().
    [[nodiscard]] const std::vector<SocketAddress>& bound_addresses() const { return bound_; }
    [[nodiscard]] unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

    // Counters for /metrics, read from any thread (relaxed atomics summed over
    // workers). All are monotonic counters except tcp_connections, which is
    // the number open now.
    struct Stats {
        std::uint64_t udp_queries = 0;     // datagrams received
        std::uint64_t tcp_queries = 0;     // messages read from TCP streams
        std::uint64_t responses = 0;       // answers sent (UDP) or queued (TCP), deferred
                                           // ones included
        std::uint64_t deferred = 0;        // queries whose answer came later (forwarded)
        std::uint64_t dropped = 0;         // not answered: not DNS, truncated, send failed,
                                           // a deferred answer given up; also TCP
                                           // connections refused (per-address limit)
        std::uint64_t tcp_connections = 0; // open now
        std::uint64_t tcp_accepted = 0;    // accepted since start
        std::uint64_t tcp_evicted = 0;     // closed to make room (connection cap)
        std::uint64_t tcp_timeouts = 0;    // closed for being idle
        // Answers made, by transport (Transport as index): by the RCODE in
        // their header (the four bits; BADVERS, an extended rcode, shows as
        // 0) and how many had TC set. Counted when made, so a UDP answer
        // whose send failed is here and in `dropped`.
        struct Answers {
            std::array<std::uint64_t, 16> by_rcode{};
            std::uint64_t truncated = 0;
        };
        std::array<Answers, 2> answers{};
        // How long answers took to make, by transport: from when the thread
        // had the query (for UDP, its recvmmsg batch: a later query of a
        // batch waits for the earlier ones) until its answer was written.
        // Per bucket, not cumulative: buckets[i] counts answers of at most
        // latency_bounds_ns[i] and above the bound before; the last, the rest.
        static constexpr std::array<std::uint64_t, 10> latency_bounds_ns{
            2'000, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 10'000'000};
        struct Latency {
            std::array<std::uint64_t, latency_bounds_ns.size() + 1> buckets{};
            std::uint64_t sum_ns = 0;
        };
        std::array<Latency, 2> latency{};
    };
    [[nodiscard]] Stats stats() const;

private:
    ServerOptions options_;
    ResponderFactory factory_;
    std::vector<SocketAddress> bound_;
    std::vector<std::unique_ptr<Worker>> workers_;
    bool running_ = false;
};

} // namespace cairn::dns
