#pragma once
// The HTTP/1.1 server on a cairn::Loop (libuv TCP): keep-alive, pipelining,
// and the limits that keep one client from hurting the others (header and
// body size, connection count, idle time). What to answer is the Handler's
// business; this file only moves bytes.
//
// Used only from the thread that runs the loop.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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
    std::chrono::milliseconds idle_timeout{30'000};
    ParserLimits limits;
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
// order) and nothing more is read from it.
using DeferringHandler = std::function<void(const Request&, Reply)>;

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
    Server(Loop& loop, ServerOptions options, Handler handler);
    Server(Loop& loop, ServerOptions options, DeferringHandler handler);
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

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace cairn::http
