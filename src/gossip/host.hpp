#pragma once
// The membership engine on a real network (memberlist's NetTransport and the
// goroutines of memberlist.go that feed it): a UDP socket for packets, a TCP
// listener for inbound streams, outbound streams for push-pull and fallback
// pings, and one timer armed at the engine's next deadline. The engine
// (Memberlist) stays pure; this is the only gossip code that touches a socket,
// and it does so through src/core's wrappers.
//
// Joining retries the seeds with back-off until one answers; leaving
// broadcasts the leave and waits, boundedly, for it to go out.
//
// Main thread only (the loop's).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"
#include "gossip/config.hpp"
#include "gossip/delegate.hpp"
#include "gossip/memberlist.hpp"

namespace cairn {
class Loop;
class Timer;
class UdpSocket;
class TcpListener;
class TimeoutQueue;
class TimeoutSet;
} // namespace cairn

namespace cairn::gossip {

// Counters of the socket side, beside the engine's MemberlistStats.
struct HostStats {
    std::uint64_t packets_in = 0;
    std::uint64_t packets_out = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t send_errors = 0;
    std::uint64_t streams_refused = 0; // at the inbound cap
};

struct HostLimits {
    // Inbound streams open at once, and the bytes one may send (a push-pull
    // with its user state).
    unsigned max_inbound_streams = 128;
    std::size_t max_stream_bytes = 8 << 20;
    // Join retries start at this delay and double up to the maximum.
    std::chrono::milliseconds join_retry_min{1'000};
    std::chrono::milliseconds join_retry_max{30'000};
    // How long leave() waits for the leave broadcast to go out.
    std::chrono::milliseconds leave_timeout{3'000};
};

class Host {
public:
    // `config.advertise_addr/port` must be set; `bind` is where the UDP and
    // TCP sockets listen (the same port for both, as memberlist does).
    Host(Loop& loop, Config config, SocketAddress bind, Delegates delegates,
         HostLimits limits = {});
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    // Binds the sockets and starts the engine's timers.
    Result<void> start();
    // Push-pull joins with `seeds`, again and again with back-off until one
    // of them answers (then never again: the cluster takes it from there).
    void join(std::vector<SocketAddress> seeds);
    // Broadcasts the leave, then calls `done` when it went out or the leave
    // timeout passed; the engine is shut down after that.
    void leave(std::function<void()> done);

    [[nodiscard]] const Memberlist& memberlist() const { return *memberlist_; }
    // Re-announces this node's metadata (memberlist's UpdateNode).
    void update_node();
    // User messages, for the delegates above.
    void send_best_effort(const Node& to, std::span<const std::uint8_t> msg);
    void send_reliable(const Node& to, std::span<const std::uint8_t> msg);

    // Runs after every call into the engine (a packet, a stream, a tick, a
    // join), outside it: a delegate that must call the engine back (send a
    // stream, say) does it here.
    void set_after_call(std::function<void(Memberlist&, TimePoint)> after_call) {
        after_call_ = std::move(after_call);
    }

    // Runs after_call now and re-arms the timer: for a change made outside
    // the engine (a local registration to announce).
    void kick() { rearm(); }

    [[nodiscard]] const HostStats& stats() const { return stats_; }
    [[nodiscard]] SocketAddress local_address() const;

    class Net;
    struct Inbound;
    struct Outbound;

private:
    void rearm();
    void on_tick();
    void try_join();
    [[nodiscard]] static TimePoint now() { return Clock::now(); }

    Loop& loop_;
    SocketAddress bind_;
    HostLimits limits_;
    HostStats stats_;
    std::unique_ptr<Net> net_;
    std::unique_ptr<Memberlist> memberlist_;
    std::unique_ptr<Timer> tick_timer_;
    std::unique_ptr<Timer> join_timer_;
    std::vector<SocketAddress> seeds_;
    std::chrono::milliseconds join_delay_{0};
    std::size_t join_successes_before_ = 0;
    std::unique_ptr<Timer> leave_timer_;
    std::function<void()> leave_done_;
    std::function<void(Memberlist&, TimePoint)> after_call_;
};

// The bytes a node's address goes out as (4 for IPv4, 16 for IPv6) and back.
[[nodiscard]] Bytes address_bytes(const SocketAddress& address);
[[nodiscard]] Result<SocketAddress> socket_address(const Address& address);

} // namespace cairn::gossip
