#include "core/tcp_listener.hpp"

#include <unistd.h>

#include <utility>

#include <uv.h>

#include "core/loop.hpp"
#include "core/tcp_stream.hpp"

namespace cairn {

struct TcpListener::Box {
    uv_tcp_t tcp{};
    TcpListener* owner = nullptr; // null once closed

    static void on_close(uv_handle_t* h) noexcept { delete static_cast<Box*>(h->data); }

    static void on_connection(uv_stream_t* s, int status) noexcept {
        auto* box = static_cast<Box*>(s->data);
        if (box->owner == nullptr || status < 0)
            return; // accept errors (EMFILE ...) leave the connection in the backlog
        TcpListener* owner = box->owner;
        owner->pending_ = box;
        owner->on_connection_();
        // The callback may have closed the listener (and freed `owner`): touch nothing.
    }
};

TcpListener::TcpListener(Loop& loop, unsigned max_connections, OnConnection on_connection)
    : loop_(loop)
    , max_connections_(max_connections == 0 ? 1 : max_connections)
    , on_connection_(std::move(on_connection)) {}

TcpListener::~TcpListener() {
    close();
}

void TcpListener::close() {
    for (Box* box : sockets_) {
        box->owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&box->tcp), Box::on_close);
    }
    sockets_.clear();
    pending_ = nullptr;
}

Result<void> TcpListener::start(Box* box, int backlog) {
    if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&box->tcp), backlog, Box::on_connection);
        rc != 0) {
        box->owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&box->tcp), Box::on_close);
        return fail("cannot listen: {}", uv_strerror(rc));
    }
    sockets_.push_back(box);
    return {};
}

Result<void> TcpListener::listen(const SocketAddress& address, int backlog) {
    auto* box = new Box;
    uv_tcp_init(loop_.get(), &box->tcp);
    box->tcp.data = box;
    box->owner = this;
    if (int rc = uv_tcp_bind(&box->tcp, address.sa(), 0); rc != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&box->tcp), Box::on_close);
        return fail("cannot bind {}: {}", address.to_string(), uv_strerror(rc));
    }
    if (auto r = start(box, backlog); !r)
        return fail("{}: {}", address.to_string(), r.error().message);
    return {};
}

Result<void> TcpListener::adopt(int fd, int backlog) {
    auto* box = new Box;
    uv_tcp_init(loop_.get(), &box->tcp);
    box->tcp.data = box;
    box->owner = this;
    if (int rc = uv_tcp_open(&box->tcp, fd); rc != 0) {
        ::close(fd);
        uv_close(reinterpret_cast<uv_handle_t*>(&box->tcp), Box::on_close);
        return fail("cannot use socket {}: {}", fd, uv_strerror(rc));
    }
    return start(box, backlog);
}

Result<void> TcpListener::accept(TcpStream& stream) {
    if (pending_ == nullptr || stream.handle() == nullptr) return fail("no connection is waiting");
    Box* from = std::exchange(pending_, nullptr);
    if (int rc = uv_accept(reinterpret_cast<uv_stream_t*>(&from->tcp),
                           static_cast<uv_stream_t*>(stream.handle()));
        rc != 0) {
        stream.close();
        return fail("accept failed: {}", uv_strerror(rc));
    }
    stream.accepted(open_);
    return {};
}

void TcpListener::refuse() {
    if (pending_ == nullptr) return;
    Box* from = std::exchange(pending_, nullptr);
    auto* dead = new uv_tcp_t;
    uv_tcp_init(loop_.get(), dead);
    uv_accept(reinterpret_cast<uv_stream_t*>(&from->tcp), reinterpret_cast<uv_stream_t*>(dead));
    close_and_delete(dead);
}

SocketAddress TcpListener::local_address() const {
    SocketAddress a;
    if (sockets_.empty()) return a;
    int len = sizeof a.storage;
    uv_tcp_getsockname(&sockets_.front()->tcp, reinterpret_cast<sockaddr*>(&a.storage), &len);
    return a;
}

} // namespace cairn
