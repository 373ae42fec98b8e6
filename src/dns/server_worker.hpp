#pragma once
// One DNS worker: a thread running its own loop over its own sockets (one UDP
// and one TCP listener per listen address) and its own Responder. Internal to
// src/dns/server*. Built and joined by Server on the main thread; everything
// else here runs on the worker's thread, except request_stop() and the stats.

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "core/loop.hpp"
#include "dns/responder.hpp"
#include "dns/server.hpp"
#include "dns/server_socket.hpp"

namespace cairn::dns {

// Written by one worker, read by any thread; on its own cache lines so that
// workers do not share one.
struct alignas(64) WorkerStats {
    std::atomic<std::uint64_t> udp_queries{0};
    std::atomic<std::uint64_t> tcp_queries{0};
    std::atomic<std::uint64_t> responses{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> tcp_connections{0};
    std::atomic<std::uint64_t> tcp_accepted{0};
    std::atomic<std::uint64_t> tcp_evicted{0};
    std::atomic<std::uint64_t> tcp_timeouts{0};

    void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1)
    {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void sub(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1)
    {
        counter.store(counter.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
};

class UdpBatch;
class UdpEndpoint;
class TcpServer;

class Worker {
public:
    // `udp` and `tcp` are this worker's bound sockets, one per listen address.
    // `tcp_max_connections` is this worker's share of the server's cap.
    Worker(const ServerOptions& options, std::unique_ptr<Responder> responder, std::vector<UniqueFd> udp,
           std::vector<UniqueFd> tcp, unsigned tcp_max_connections);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Sets up the handles on the calling thread, before the worker's thread
    // exists; fails if libuv refuses a socket.
    Result<void> init();
    void start_thread();
    // Any thread. The worker stops reading and accepting, finishes queued TCP
    // answers, closes its sockets and its thread returns.
    void request_stop();
    void join();

    WorkerStats stats;

private:
    void run() noexcept;
    void on_stop() noexcept;

    ServerOptions options_;
    unsigned tcp_max_connections_;
    Loop loop_;
    std::unique_ptr<Async> stop_async_;
    std::unique_ptr<Responder> responder_;
    std::vector<UniqueFd> udp_fds_;
    std::vector<UniqueFd> tcp_fds_;
    std::unique_ptr<UdpBatch> udp_batch_;
    std::vector<UdpEndpoint*> udp_; // each deletes itself when closed
    std::unique_ptr<TcpServer> tcp_;
    std::thread thread_;
};

} // namespace cairn::dns
