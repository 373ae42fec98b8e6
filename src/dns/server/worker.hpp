#pragma once
// One DNS worker: per listen address a UDP socket with its own reader thread
// (udp.hpp), and a thread running its own loop over the TCP
// listeners; each thread has its own Responder. Internal to src/dns/server/.
// Built and joined by Server on the main thread; everything else here runs
// on the worker's threads, except request_stop() and the stats.

#include <memory>
#include <thread>
#include <vector>

#include "core/loop.hpp"
#include "dns/responder.hpp"
#include "dns/server/server.hpp"
#include "dns/server/socket.hpp"
#include "dns/server/stats.hpp"

namespace cairn::dns {

class UdpReader;
class TcpServer;

class Worker {
public:
    // `udp` and `tcp` are this worker's bound sockets, one per listen address.
    // `tcp_max_connections` and `tcp_max_per_client` are this worker's
    // shares of the server's limits.
    Worker(const ServerOptions& options, std::vector<UniqueFd> udp, std::vector<UniqueFd> tcp,
           unsigned tcp_max_connections, unsigned tcp_max_per_client);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Makes the Responders and sets up the handles on the calling thread,
    // before the worker's threads exist; fails if the factory or libuv does.
    Result<void> init(const ResponderFactory& factory);
    void start_threads();
    // Any thread. The worker stops reading and accepting, finishes queued TCP
    // answers, closes its sockets and its threads return.
    void request_stop();
    void join();

    // Adds this worker's counters (its UDP readers' too) to `total`.
    void add_stats(Server::Stats& total) const;

    WorkerStats stats; // the TCP loop's

private:
    void run() noexcept;
    void on_stop() noexcept;

    ServerOptions options_;
    unsigned tcp_max_connections_;
    unsigned tcp_max_per_client_;
    Loop loop_;
    std::unique_ptr<Async> stop_async_;
    std::unique_ptr<Responder> responder_; // the TCP loop's
    std::vector<UniqueFd> udp_fds_;
    std::vector<UniqueFd> tcp_fds_;
    std::vector<std::unique_ptr<UdpReader>> udp_;
    std::unique_ptr<TcpServer> tcp_;
    std::thread thread_;
};

} // namespace cairn::dns
