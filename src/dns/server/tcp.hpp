#pragma once
// DNS over TCP for one worker, as RFC 7766 asks, on core's TcpListener and
// TcpStream: many queries per connection, answered as they arrive while
// reading on (pipelining), the length prefix read across partial reads
// (FrameBuffer), and limits so that slow or greedy clients cannot lock the
// others out:
//
// - a query must be complete within `query_timeout` of its first byte (the
//   clock is not reset by later bytes), and a connection that completes no
//   query for `idle_timeout` is closed;
// - at the connection cap, the connection whose last complete query is the
//   oldest (the one that has waited longest for one) is closed to admit the
//   new one; a client address gets at most `max_per_client` connections;
// - a connection is answered at most `queries_per_turn` queries at a time,
//   then waits its turn behind the others that have queries ready, so one
//   client's pipelined queries do not delay another's;
// - no unbounded buffer: the read buffer holds at most one maximal message,
//   and a connection whose answers pile up unwritten (a client that does not
//   read) is neither read nor answered until they drain.
//
// Deferred answers (Responder::deferred) keep their place: once a query's
// answer is deferred, the answers to the connection's later queries wait
// behind it (held, at most `max_held` per connection, beyond which the
// connection is not read) and go out when it comes. A PendingAnswer may be
// completed on any thread; it posts the answer to the server's inbox, which
// wakes the worker's loop.
//
// Internal to src/dns/server/. Built on the thread that starts the worker
// before the worker's loop runs; after that only on the worker's thread.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "core/loop.hpp"
#include "core/tcp_listener.hpp"
#include "core/timeouts.hpp"
#include "dns/responder.hpp"
#include "dns/server/socket.hpp"

namespace cairn::dns {

struct WorkerStats;
class TcpConnection;

struct TcpLimits {
    unsigned max_connections = 1024;
    unsigned max_per_client = 64;
    std::chrono::milliseconds idle_timeout{10'000};
    std::chrono::milliseconds query_timeout{2'000};
    std::chrono::milliseconds stop_grace{2'000};
    // Unwritten answer bytes per connection above which it is not read.
    std::size_t max_queued_bytes = 256 * 1024;
    unsigned queries_per_turn = 16;
    // Answers waiting behind a deferred one, per connection, at most.
    std::size_t max_held = 64;
};

struct TcpInbox;

class TcpServer {
public:
    TcpServer(Loop& loop, Responder& responder, WorkerStats& stats, TcpLimits limits);
    ~TcpServer();
    TcpServer(const TcpServer&) = delete;
    TcpServer& operator=(const TcpServer&) = delete;

    // Accepts on a listening socket; false (and logged) if libuv refuses it.
    [[nodiscard]] bool listen(UniqueFd fd);
    // Stops accepting and reading; connections close once their queued
    // answers are written, or after limits.stop_grace. Then the timers close,
    // so the loop can end.
    void stop();

private:
    friend class TcpConnection;

    // Hands out the PendingAnswer for the query being answered.
    class Deferrer final : public dns::Deferrer {
    public:
        explicit Deferrer(TcpServer& server)
            : server_(server) {}
        std::unique_ptr<PendingAnswer> defer() noexcept override;
        TcpConnection* current = nullptr;
        bool taken = false;

    private:
        TcpServer& server_;
    };

    // A client's address, without the port, for the per-client count.
    struct ClientKey {
        std::array<std::uint8_t, 16> bytes{};
        bool operator==(const ClientKey&) const = default;
    };
    struct ClientKeyHash {
        std::size_t operator()(const ClientKey& k) const noexcept;
    };
    static ClientKey key_of(const SocketAddress& peer);

    void on_connection();
    void admit(std::unique_ptr<TcpConnection> owned);
    // Reads complete messages from the connection's buffer, answers them and
    // writes the answers, batched into one write per call; at most
    // queries_per_turn, then the connection waits for its next turn.
    void process(TcpConnection& c);
    void flush(TcpConnection& c, std::size_t used);
    void on_read(TcpConnection& c, std::size_t n);
    void on_end(TcpConnection& c);
    void on_written(TcpConnection& c);
    void on_turns();
    // Deferred answers that arrived in the inbox, each to its connection.
    void on_completions();
    // Writes the connection's held answers that are ready, in order.
    void deliver(TcpConnection& c);
    // Graceful close: the queued answers are written, then a FIN.
    void finish(TcpConnection& c);
    // Frees a connection marked dead (its callbacks only mark it).
    void settle(TcpConnection& c);
    void remove(TcpConnection& c);
    void finish_stop();

    Loop& loop_;
    Responder& responder_;
    WorkerStats& stats_;
    TcpLimits limits_;
    // Since each connection's last complete query (or its accept): the
    // idle timeout, and the eviction order at the cap.
    TimeoutQueue idle_;
    // Since the first byte of a query not complete yet.
    TimeoutQueue query_;
    // Connections with complete queries waiting for their turn (a FIFO; its
    // timeout is not used).
    TimeoutQueue ready_;
    std::unique_ptr<TimeoutSet> timeouts_;
    std::unique_ptr<Timer> turn_timer_;
    std::unique_ptr<Timer> grace_timer_;
    std::unique_ptr<TcpListener> listener_;
    std::unordered_map<TcpConnection*, std::unique_ptr<TcpConnection>> connections_;
    std::unordered_map<ClientKey, unsigned, ClientKeyHash> per_client_;
    std::unordered_map<std::uint64_t, TcpConnection*> by_id_; // for deferred answers
    std::uint64_t next_id_ = 1;
    std::shared_ptr<TcpInbox> inbox_;
    std::unique_ptr<Async> wake_;
    Deferrer deferrer_{*this};
    bool stopping_ = false;
    // Answers of one process() call, each with its length prefix.
    std::unique_ptr<std::uint8_t[]> out_;
};

} // namespace cairn::dns
