#include "dns/server/server.hpp"

#include <cerrno>
#include <exception>
#include <sched.h>

#include "core/log.hpp"
#include "dns/server/socket.hpp"
#include "dns/server/worker.hpp"

namespace cairn::dns {

namespace {

constexpr int tcp_backlog = 1024;
// A listen port of 0 takes the free UDP port the kernel picks; the same TCP
// port may be taken, so try a few times.
constexpr int port_zero_attempts = 16;

unsigned usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return static_cast<unsigned>(CPU_COUNT(&set));
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

struct BoundAddress {
    SocketAddress address;          // with its actual port
    std::vector<UniqueFd> udp, tcp; // one of each per worker
};

// Binds one listen address for every worker, UDP and TCP on the same port.
std::expected<BoundAddress, SocketError> bind_all(const SocketAddress& wanted, unsigned workers) {
    BoundAddress bound;
    if (wanted.port() != 0)
        if (auto unused = ensure_unused(wanted); !unused) return std::unexpected(unused.error());
    auto first = open_udp_socket(wanted);
    if (!first) return std::unexpected(first.error());
    auto local = local_address(first->get());
    if (!local) return std::unexpected(SocketError{0, local.error().message});
    bound.address = with_port(wanted, local->port());
    bound.udp.push_back(std::move(*first));
    for (unsigned i = 0; i < workers; ++i) {
        if (i > 0) {
            auto udp = open_udp_socket(bound.address);
            if (!udp) return std::unexpected(udp.error());
            bound.udp.push_back(std::move(*udp));
        }
        auto tcp = open_tcp_listener(bound.address, tcp_backlog);
        if (!tcp) return std::unexpected(tcp.error());
        bound.tcp.push_back(std::move(*tcp));
    }
    return bound;
}

} // namespace

Server::Server(ServerOptions options, ResponderFactory factory)
    : options_(std::move(options))
    , factory_(std::move(factory)) {}

Server::~Server() {
    stop();
}

Result<void> Server::start() {
    if (running_) return fail("dns: server already started");
    if (options_.listen.empty()) return fail("dns: no listen address");
    unsigned count = options_.workers != 0 ? options_.workers : usable_cpus();

    std::vector<BoundAddress> addresses;
    for (const SocketAddress& wanted : options_.listen) {
        int attempts = wanted.port() == 0 ? port_zero_attempts : 1;
        std::expected<BoundAddress, SocketError> bound;
        for (int i = 0; i < attempts; ++i) {
            bound = bind_all(wanted, count);
            if (bound || bound.error().code != EADDRINUSE) break;
        }
        if (!bound) return fail("dns: {}", bound.error().message);
        addresses.push_back(std::move(*bound));
    }

    // Each worker's share of the cap, so the server never exceeds it.
    unsigned per_worker_cap = std::max(1u, options_.tcp_max_connections / count);
    unsigned per_worker_client_cap = std::max(1u, options_.tcp_max_per_client / count);
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned w = 0; w < count; ++w) {
        std::vector<UniqueFd> udp, tcp;
        for (auto& a : addresses) {
            udp.push_back(std::move(a.udp[w]));
            tcp.push_back(std::move(a.tcp[w]));
        }
        auto worker = std::make_unique<Worker>(options_, std::move(udp), std::move(tcp),
                                               per_worker_cap, per_worker_client_cap);
        if (auto ok = worker->init(factory_); !ok) return ok;
        workers.push_back(std::move(worker));
    }

    bound_.clear();
    for (const auto& a : addresses) bound_.push_back(a.address);
    workers_ = std::move(workers);
    for (auto& worker : workers_) worker->start_threads();
    running_ = true;
    for (const auto& a : bound_)
        log::debug("dns.server.listen", {{"addr", a.to_string()}, {"workers", count}});
    return {};
}

void Server::stop() {
    if (!running_) return;
    running_ = false;
    for (auto& worker : workers_) worker->request_stop();
    for (auto& worker : workers_) worker->join();
    log::info("dns.stopped",
              {{"udp_queries", stats().udp_queries}, {"tcp_queries", stats().tcp_queries}});
}

Server::Stats Server::stats() const {
    Stats total;
    for (const auto& w : workers_) w->add_stats(total);
    return total;
}

} // namespace cairn::dns
