#pragma once
// The HTTP/1.1 server on a cairn::Loop (core's TcpListener and TcpStream):
// keep-alive, pipelining, and the limits that keep one client from hurting
// the others: header and body size, connection count, idle time, and memory.
// Requests are parsed one at a time and answered in order; while a
// connection's unwritten answers are over `max_queued_bytes`, or all
// connections' buffers together are over `memory_budget_bytes`, nothing more
// is read or parsed from it. Long bodies (Response::body_stream) are made
// piece by piece as the socket drains. What to answer is the Handler's
// business; this file only moves bytes.
//
// Used only from the thread that runs the loop.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/loop.hpp"
#include "core/net.hpp"
#include "core/result.hpp"
#include "http/message.hpp"
#include "http/request_parser.hpp"

namespace cairn::http {

struct ServerOptions {
    SocketAddress listen;           // port 0 picks a free one (tests)
    unsigned max_connections = 512; // past it: 503 and close
    // A connection is closed when it completes no request for this long. The
    // clock is not reset by partial bytes, so a client that trickles its
    // headers is cut off too (with 408 when it sent anything).
    // The same clock closes a connection whose answers are not read: a
    // client that stops reading completes no request (its requests are not
    // parsed while its answers queue up) and drains nothing. An unfinished
    // request at the deadline gets 408 if nothing is queued before it.
    std::chrono::milliseconds idle_timeout{30'000};
    ParserLimits limits;
    // Unwritten answer bytes per connection above which its requests are not
    // parsed (and it is not read) until they drain to half.
    std::size_t max_queued_bytes = 256 << 10;
    // Every connection's unwritten answers and buffered input together.
    std::size_t memory_budget_bytes = 64 << 20;
};

// Called once per complete request, in order. It must not throw; if it does,
// the client gets 500 and the server keeps serving.
using Handler = std::function<Response(const Request&)>;

// Sends the response to one request. Called once, on the loop's thread; a
// call after the connection closed (or the server is gone) does nothing.
using Reply = std::function<void(Response)>;
// A handler that may answer later (after a durable write): it calls `reply`
// before returning or keeps it. While a connection's request waits for its
// reply, the connection's next requests wait too (they are answered in
// order) and nothing more is parsed from it.
using DeferringHandler = std::function<void(const Request&, Reply)>;
// Asked when a request's headers are in and it waits for 100 Continue before
// sending its body: a response refuses it (sent instead of 100 Continue, and
// the connection closes after it); nullopt lets the body come.
using ContinueCheck = std::function<std::optional<Response>(const Request& head)>;

struct ServerStats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_rejected = 0; // over max_connections
    std::uint64_t requests = 0;
    std::array<std::uint64_t, 6> responses{}; // by status class: [2] = 2xx ... [5] = 5xx
    std::uint64_t parse_errors = 0;
    std::uint64_t timeouts = 0;
};

// The stats as Prometheus text (cairn_http_* counters).
[[nodiscard]] std::string format_metrics(const ServerStats& stats, std::size_t open_connections);

class Server {
public:
    Server(Loop& loop, ServerOptions options, Handler handler, ContinueCheck continue_check = {});
    Server(Loop& loop, ServerOptions options, DeferringHandler handler,
           ContinueCheck continue_check = {});
    // Closes the listener and every connection.
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens.
    Result<void> start();
    // The bound address (with the real port when listen had port 0).
    [[nodiscard]] SocketAddress local_address() const;
    [[nodiscard]] std::size_t connection_count() const;
    [[nodiscard]] const ServerStats& stats() const;
    // Bytes of the memory budget in use now.
    [[nodiscard]] std::size_t buffered_bytes() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace cairn::http
