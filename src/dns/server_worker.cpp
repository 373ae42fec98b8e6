#include "dns/server_worker.hpp"

#include "core/log.hpp"
#include "dns/server_tcp.hpp"
#include "dns/server_udp.hpp"

namespace cairn::dns {

Worker::Worker(const ServerOptions& options, std::unique_ptr<Responder> responder, std::vector<UniqueFd> udp,
               std::vector<UniqueFd> tcp, unsigned tcp_max_connections)
    : options_(options), tcp_max_connections_(tcp_max_connections), responder_(std::move(responder)),
      udp_fds_(std::move(udp)), tcp_fds_(std::move(tcp))
{
}

Worker::~Worker()
{
    join();
    // If the thread never ran, the handles made by init() are still open;
    // close them and let their close callbacks run before the loop goes.
    for (UdpEndpoint* endpoint : udp_)
        endpoint->close();
    udp_.clear();
    if (tcp_)
        tcp_->stop();
    stop_async_.reset();
    uv_run(loop_.get(), UV_RUN_DEFAULT);
    tcp_.reset();
}

Result<void> Worker::init()
{
    udp_batch_ = std::make_unique<UdpBatch>();
    for (std::size_t i = 0; i < udp_fds_.size(); ++i) {
        auto local = local_address(udp_fds_[i].get());
        bool pktinfo = local && is_wildcard(*local);
        auto* endpoint = new UdpEndpoint(loop_, std::move(udp_fds_[i]), pktinfo, *udp_batch_, *responder_, stats);
        udp_.push_back(endpoint);
        if (!endpoint->start())
            return fail("dns: cannot poll udp socket {}", local ? local->to_string() : "?");
    }
    udp_fds_.clear();

    TcpLimits limits;
    limits.max_connections = tcp_max_connections_;
    limits.idle_timeout = options_.tcp_idle_timeout;
    limits.stop_grace = options_.stop_grace;
    tcp_ = std::make_unique<TcpServer>(loop_, *responder_, stats, limits);
    for (auto& fd : tcp_fds_) {
        auto local = local_address(fd.get());
        if (!tcp_->listen(std::move(fd)))
            return fail("dns: cannot listen on tcp {}", local ? local->to_string() : "?");
    }
    tcp_fds_.clear();

    stop_async_ = std::make_unique<Async>(loop_, [this] { on_stop(); });
    return {};
}

void Worker::start_thread()
{
    thread_ = std::thread([this] { run(); });
}

void Worker::request_stop()
{
    if (stop_async_)
        stop_async_->send();
}

void Worker::join()
{
    if (thread_.joinable())
        thread_.join();
}

void Worker::run() noexcept
{
    // Ends when on_stop() has closed every handle.
    loop_.run();
}

void Worker::on_stop() noexcept
{
    for (UdpEndpoint* endpoint : udp_)
        endpoint->close();
    udp_.clear();
    tcp_->stop();
    // Closing our own async from its callback is fine: the wrapper frees it
    // in the close callback.
    stop_async_.reset();
}

} // namespace cairn::dns
