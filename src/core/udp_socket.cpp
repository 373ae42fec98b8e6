#include "core/udp_socket.hpp"

#include <memory>
#include <vector>

#include <uv.h>

#include "core/loop.hpp"

namespace cairn {

namespace {

constexpr std::size_t max_datagram = 65536;

struct SendSlot {
    uv_udp_send_t req{};
    std::vector<std::uint8_t> data;
};

} // namespace

// The handle comes first, so the handle pointer is the Box pointer.
struct UdpSocket::Box {
    uv_udp_t udp{};
    bool open = true; // false once the owner is gone
    OnPacket on_packet;
    std::size_t max_queued_bytes = 0;
    std::size_t queued_bytes = 0;
    std::uint64_t send_drops = 0;
    unsigned sends_in_flight = 0;
    std::unique_ptr<std::uint8_t[]> buffer{new std::uint8_t[max_datagram]};

    static Box* of(uv_handle_t* h) { return static_cast<Box*>(h->data); }

    // Send callbacks run before the close callback (cancelled), so the box
    // can go when the handle is closed.
    static void on_close(uv_handle_t* h) noexcept { delete of(h); }

    static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
        Box* box = of(h);
        *buf = uv_buf_init(reinterpret_cast<char*>(box->buffer.get()), max_datagram);
    }

    static void on_recv(uv_udp_t* u, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                        unsigned flags) noexcept {
        Box* box = of(reinterpret_cast<uv_handle_t*>(u));
        if (!box->open || nread <= 0 || from == nullptr || (flags & UV_UDP_PARTIAL) != 0) return;
        // Copy: the callback may destroy the socket and with it the box's callback.
        OnPacket cb = box->on_packet;
        cb({reinterpret_cast<const std::uint8_t*>(buf->base), static_cast<std::size_t>(nread)},
           SocketAddress::from(from));
    }

    static void on_sent(uv_udp_send_t* req, int) noexcept {
        auto* slot = static_cast<SendSlot*>(req->data);
        Box* box = of(reinterpret_cast<uv_handle_t*>(req->handle));
        box->queued_bytes -= slot->data.size();
        --box->sends_in_flight;
        delete slot;
    }
};

UdpSocket::UdpSocket(Loop& loop, std::size_t max_queued_bytes)
    : box_(new Box) {
    uv_udp_init(loop.get(), &box_->udp);
    box_->udp.data = box_;
    box_->max_queued_bytes = max_queued_bytes;
}

UdpSocket::~UdpSocket() {
    box_->open = false;
    box_->on_packet = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&box_->udp), Box::on_close);
}

Result<void> UdpSocket::bind(const SocketAddress& address) {
    unsigned flags = address.family() == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
    if (int rc = uv_udp_bind(&box_->udp, address.sa(), flags); rc != 0)
        return fail("udp: cannot bind {}: {}", address.to_string(), uv_strerror(rc));
    return {};
}

Result<void> UdpSocket::receive_start(OnPacket on_packet) {
    box_->on_packet = std::move(on_packet);
    if (int rc = uv_udp_recv_start(&box_->udp, Box::on_alloc, Box::on_recv); rc != 0)
        return fail("udp: cannot receive: {}", uv_strerror(rc));
    return {};
}

void UdpSocket::receive_stop() {
    uv_udp_recv_stop(&box_->udp);
}

Result<void> UdpSocket::send(std::span<const std::uint8_t> data, const SocketAddress& to) {
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                               static_cast<unsigned>(data.size()));
    if (box_->sends_in_flight == 0) {
        int n = uv_udp_try_send(&box_->udp, &buf, 1, to.sa());
        if (n >= 0) return {};
        if (n != UV_EAGAIN)
            return fail("udp: send to {} failed: {}", to.to_string(), uv_strerror(n));
    }
    if (box_->queued_bytes + data.size() > box_->max_queued_bytes) {
        ++box_->send_drops;
        return fail("udp: send queue full ({} bytes)", box_->queued_bytes);
    }
    auto* slot = new SendSlot;
    slot->req.data = slot;
    slot->data.assign(data.begin(), data.end());
    buf = uv_buf_init(reinterpret_cast<char*>(slot->data.data()),
                      static_cast<unsigned>(slot->data.size()));
    if (int rc = uv_udp_send(&slot->req, &box_->udp, &buf, 1, to.sa(), Box::on_sent); rc != 0) {
        delete slot;
        return fail("udp: send to {} failed: {}", to.to_string(), uv_strerror(rc));
    }
    ++box_->sends_in_flight;
    box_->queued_bytes += data.size();
    return {};
}

SocketAddress UdpSocket::local_address() const {
    SocketAddress a;
    int len = sizeof a.storage;
    uv_udp_getsockname(&box_->udp, reinterpret_cast<sockaddr*>(&a.storage), &len);
    return a;
}

std::size_t UdpSocket::queued_bytes() const {
    return box_->queued_bytes;
}

std::uint64_t UdpSocket::send_drops() const {
    return box_->send_drops;
}

} // namespace cairn
