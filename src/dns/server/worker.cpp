#include "dns/server/worker.hpp"

#include "core/log.hpp"
#include "dns/server/tcp.hpp"
#include "dns/server/udp.hpp"

namespace cairn::dns {

namespace {

Result<std::unique_ptr<Responder>> make_responder(const ResponderFactory& factory) {
    std::unique_ptr<Responder> responder;
    try {
        responder = factory();
    } catch (const std::exception& e) {
        return fail("dns: cannot create a responder: {}", e.what());
    }
    if (!responder) return fail("dns: the responder factory returned nothing");
    return responder;
}

} // namespace

void WorkerStats::add_to(Server::Stats& total, Transport transport) const {
    auto get = [](const std::atomic<std::uint64_t>& c) {
        return c.load(std::memory_order_relaxed);
    };
    total.udp_queries += get(udp_queries);
    total.tcp_queries += get(tcp_queries);
    total.responses += get(responses);
    total.dropped += get(dropped);
    total.tcp_connections += get(tcp_connections);
    total.tcp_accepted += get(tcp_accepted);
    total.tcp_evicted += get(tcp_evicted);
    total.tcp_timeouts += get(tcp_timeouts);
    total.deferred += get(deferred);
    Server::Stats::Answers& answers = total.answers[static_cast<std::size_t>(transport)];
    for (std::size_t rcode = 0; rcode < rcodes.size(); ++rcode)
        answers.by_rcode[rcode] += get(rcodes[rcode]);
    answers.truncated += get(truncated);
    Server::Stats::Latency& l = total.latency[static_cast<std::size_t>(transport)];
    for (std::size_t b = 0; b < latency.size(); ++b) l.buckets[b] += get(latency[b]);
    l.sum_ns += get(latency_sum_ns);
}

Worker::Worker(const ServerOptions& options, std::vector<UniqueFd> udp, std::vector<UniqueFd> tcp,
               unsigned tcp_max_connections, unsigned tcp_max_per_client)
    : options_(options)
    , tcp_max_connections_(tcp_max_connections)
    , tcp_max_per_client_(tcp_max_per_client)
    , udp_fds_(std::move(udp))
    , tcp_fds_(std::move(tcp)) {}

Worker::~Worker() {
    join();
    udp_.clear();
    // If the thread never ran, the handles made by init() are still open;
    // close them and let their close callbacks run before the loop goes.
    if (tcp_) tcp_->stop();
    stop_async_.reset();
    uv_run(loop_.get(), UV_RUN_DEFAULT);
    tcp_.reset();
}

Result<void> Worker::init(const ResponderFactory& factory) {
    for (auto& fd : udp_fds_) {
        auto local = local_address(fd.get());
        bool pktinfo = local && is_wildcard(*local);
        auto responder = make_responder(factory);
        if (!responder) return std::unexpected(responder.error());
        udp_.push_back(std::make_unique<UdpReader>(std::move(fd), pktinfo, std::move(*responder)));
    }
    udp_fds_.clear();

    auto responder = make_responder(factory);
    if (!responder) return std::unexpected(responder.error());
    responder_ = std::move(*responder);
    TcpLimits limits;
    limits.max_connections = tcp_max_connections_;
    limits.max_per_client = tcp_max_per_client_;
    limits.idle_timeout = options_.tcp_idle_timeout;
    limits.query_timeout = options_.tcp_query_timeout;
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

void Worker::start_threads() {
    for (auto& reader : udp_) reader->start_thread();
    thread_ = std::thread([this] { run(); });
}

void Worker::request_stop() {
    for (auto& reader : udp_) reader->request_stop();
    if (stop_async_) stop_async_->send();
}

void Worker::join() {
    for (auto& reader : udp_) reader->join();
    if (thread_.joinable()) thread_.join();
}

void Worker::add_stats(Server::Stats& total) const {
    stats.add_to(total, Transport::tcp);
    for (const auto& reader : udp_) reader->add_stats(total);
}

void Worker::run() noexcept {
    // Ends when on_stop() has closed every handle.
    loop_.run();
}

void Worker::on_stop() noexcept {
    tcp_->stop();
    // Closing our own async from its callback is fine: the wrapper frees it
    // in the close callback.
    stop_async_.reset();
}

} // namespace cairn::dns
