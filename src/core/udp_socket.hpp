#pragma once
// A UDP socket on a cairn::Loop: bind, receive datagrams, send them. For
// gossip packets; the DNS workers read with recvmmsg on their own threads and
// do not use it.
//
// send() tries the socket at once (no copy, no callback); a datagram the
// kernel cannot take right now is copied into a queue bounded by
// `max_queued_bytes`, past which datagrams are dropped (UDP may lose them
// anyway; memory must not grow). Used only from the thread that runs its
// loop; the handle is freed in its close callback, so the socket may be
// destroyed at any time, even from inside its receive callback.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "core/net.hpp"
#include "core/result.hpp"

namespace cairn {

class Loop;

class UdpSocket {
public:
    // A datagram and its sender; the bytes are valid during the call only.
    using OnPacket =
        std::function<void(std::span<const std::uint8_t> data, const SocketAddress& from)>;

    explicit UdpSocket(Loop& loop, std::size_t max_queued_bytes = 1 << 20);
    ~UdpSocket();
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;

    // Port 0 picks a free port. IPv6 addresses are bound IPv6-only.
    Result<void> bind(const SocketAddress& address);
    // Datagrams up to 64 KiB; longer ones are dropped.
    Result<void> receive_start(OnPacket on_packet);
    void receive_stop();
    // Sends or queues `data` for `to`; an error when the queue is full (the
    // datagram is dropped) or the socket refuses it.
    Result<void> send(std::span<const std::uint8_t> data, const SocketAddress& to);

    [[nodiscard]] SocketAddress local_address() const;
    [[nodiscard]] std::size_t queued_bytes() const;
    // Datagrams dropped by send() because the queue was full.
    [[nodiscard]] std::uint64_t send_drops() const;

    struct Box;

private:
    Box* box_;
};

} // namespace cairn
