#pragma once
// DNS over UDP for one worker: each readable event reads up to
// UdpBatch::size datagrams with one recvmmsg, answers them, and sends the
// answers with one sendmmsg. libuv's own UDP handle reads one datagram per
// callback, so the socket is driven by a uv_poll_t instead. Internal to
// src/dns/server*; everything here runs on the worker's thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/loop.hpp"
#include "dns/responder.hpp"
#include "dns/server_socket.hpp"

namespace cairn::dns {

struct WorkerStats;

// Buffers for one batch, allocated once per worker and shared by its UDP
// endpoints (their callbacks never overlap): nothing is allocated per packet.
class UdpBatch {
public:
    static constexpr unsigned size = 32;
    static constexpr std::size_t max_message = 65535;

    UdpBatch();

    // Room for IP_PKTINFO or IPV6_PKTINFO, aligned as a cmsghdr.
    union Control {
        cmsghdr align;
        std::uint8_t bytes[CMSG_SPACE(sizeof(in6_pktinfo))];
    };

    std::unique_ptr<std::uint8_t[]> in;  // size * max_message, touched only as used
    std::unique_ptr<std::uint8_t[]> out; // size * max_message
    std::array<mmsghdr, size> recv{};
    std::array<mmsghdr, size> send{};
    std::array<iovec, size> recv_iov{};
    std::array<iovec, size> send_iov{};
    std::array<sockaddr_storage, size> peers{};
    std::array<Control, size> recv_control{};
    std::array<Control, size> send_control{};
};

class UdpEndpoint {
public:
    // Takes the bound socket. `pktinfo`: the socket is on a wildcard address
    // and replies must name their source address.
    UdpEndpoint(Loop& loop, UniqueFd fd, bool pktinfo, UdpBatch& batch, Responder& responder,
                WorkerStats& stats);
    UdpEndpoint(const UdpEndpoint&) = delete;
    UdpEndpoint& operator=(const UdpEndpoint&) = delete;

    [[nodiscard]] bool start();
    // Stops reading and closes; the endpoint deletes itself once libuv has
    // closed the handle, so the caller drops its pointer.
    void close();

private:
    ~UdpEndpoint() = default;
    static void on_readable(uv_poll_t* handle, int status, int events) noexcept;
    // Reads, answers and sends batches until the socket is empty or a few
    // batches were done (so TCP on the same loop gets its turn).
    void drain() noexcept;
    // Answers the `received` datagrams in the batch; returns how many answers
    // it put into batch_.send.
    unsigned answer(unsigned received) noexcept;
    void send(unsigned count) noexcept;

    uv_poll_t poll_{};
    UniqueFd fd_;
    bool pktinfo_;
    UdpBatch& batch_;
    Responder& responder_;
    WorkerStats& stats_;
};

} // namespace cairn::dns
