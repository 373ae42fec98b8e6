#pragma once
// Listening TCP sockets with a cap on the connections they hand out. One
// listener may hold several sockets (one per listen address, or adopted
// SO_REUSEPORT descriptors); the cap counts the streams accepted from all of
// them that are still open. What to do at the cap is the owner's policy
// (evict an old connection, or refuse, or answer "busy"), so the listener
// only says at_cap() and offers accept() and refuse().
//
// Used only from the thread that runs its loop.

#include <functional>
#include <memory>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"

namespace cairn {

class Loop;
class TcpStream;

class TcpListener {
public:
    // Called once per waiting connection; it must call accept() or refuse()
    // (or the connection waits in the backlog and the call repeats).
    using OnConnection = std::function<void()>;

    TcpListener(Loop& loop, unsigned max_connections, OnConnection on_connection);
    // Closes the sockets; accepted streams stay open.
    ~TcpListener();
    TcpListener(const TcpListener&) = delete;
    TcpListener& operator=(const TcpListener&) = delete;

    // Binds and listens on `address` (port 0 picks a free port).
    Result<void> listen(const SocketAddress& address, int backlog = 511);
    // Listens on a socket made elsewhere (bound, SO_REUSEPORT ...); the
    // listener owns `fd` from here on, even when this fails.
    Result<void> adopt(int fd, int backlog);

    // Only inside on_connection: takes the waiting connection into `stream`
    // (a fresh TcpStream), counted until the stream closes.
    Result<void> accept(TcpStream& stream);
    // Only inside on_connection: accepts and closes at once, which tells the
    // client sooner than leaving it in the backlog.
    void refuse();

    [[nodiscard]] bool at_cap() const { return *open_ >= max_connections_; }
    [[nodiscard]] unsigned open_connections() const { return *open_; }
    [[nodiscard]] unsigned max_connections() const { return max_connections_; }
    // The first socket's address (with the real port after port 0).
    [[nodiscard]] SocketAddress local_address() const;
    // Stops accepting; idempotent.
    void close();

    struct Box;

private:
    Result<void> start(Box* box, int backlog);

    Loop& loop_;
    unsigned max_connections_;
    OnConnection on_connection_;
    std::vector<Box*> sockets_;
    Box* pending_ = nullptr; // the socket whose connection is being handled
    std::shared_ptr<unsigned> open_ = std::make_shared<unsigned>(0);
};

} // namespace cairn
