#pragma once
// DNS over TCP for one worker, as RFC 7766 asks: many queries per connection,
// answered as they arrive while reading on (pipelining); the length prefix
// read across partial reads (FrameBuffer); an idle timeout; a cap on
// connections that closes the least recently active idle one to admit a new
// one; and no unbounded buffer: the read buffer holds at most one maximal
// message, and a connection whose answers pile up unwritten (a client that
// does not read) is not read from until they drain.
//
// Internal to src/dns/server/. Built on the thread that starts the worker
// before the worker's loop runs; after that only on the worker's thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <sys/types.h>
#include <uv.h>

#include "core/loop.hpp"
#include "dns/responder.hpp"
#include "dns/server/socket.hpp"

namespace cairn::dns {

struct WorkerStats;
class TcpConnection;
struct WriteSlot;

struct TcpLimits {
    unsigned max_connections = 1024;
    std::chrono::milliseconds idle_timeout{10'000};
    std::chrono::milliseconds stop_grace{2'000};
    // Unwritten answer bytes per connection above which it is not read.
    std::size_t max_queued_bytes = 256 * 1024;
};

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

    static void on_connection(uv_stream_t* listener, int status) noexcept;
    void accept(uv_stream_t* listener);
    // Makes room under the cap: closes the least recently active connection
    // with nothing in flight. False if every connection is busy.
    bool evict_one();

    // The connection list, least recently active first.
    void link(TcpConnection& c);
    void unlink(TcpConnection& c);
    void touch(TcpConnection& c);
    void arm_idle_timer();
    void on_idle_timer();

    // Reads complete messages from the connection's buffer, answers them and
    // writes the answers, batched into one write per call.
    void process(TcpConnection& c);
    void on_read(TcpConnection& c, ssize_t nread);
    void on_written(TcpConnection& c, WriteSlot* slot, int status);
    void write(TcpConnection& c, const std::uint8_t* data, std::size_t length);
    void close(TcpConnection& c);
    // Closes gracefully: the queued answers are written, then a FIN; what
    // the client still sends is read and discarded until it closes too, since
    // closing a socket with unread bytes would reset the connection and lose
    // the answers still in the kernel's send buffer.
    void shutdown(TcpConnection& c);
    void on_shutdown(TcpConnection& c, int status);
    void finish_stop();

    Loop& loop_;
    Responder& responder_;
    WorkerStats& stats_;
    TcpLimits limits_;
    std::vector<uv_tcp_t*> listeners_; // each deleted in its close callback
    TcpConnection* oldest_ = nullptr;
    TcpConnection* newest_ = nullptr;
    unsigned open_ = 0;
    bool stopping_ = false;
    std::unique_ptr<Timer> idle_timer_;
    std::unique_ptr<Timer> grace_timer_;
    // Answers of one process() call, each with its length prefix.
    std::unique_ptr<std::uint8_t[]> out_;
};

} // namespace cairn::dns
