#pragma once
// DNS over UDP: a thread per UDP socket (per worker and listen address)
// blocked in recvmmsg(MSG_WAITFORONE), which returns as soon as one datagram
// is there with as many more as are queued, up to UdpBatch::size; it answers
// them and sends the answers with one sendmmsg. No event loop in between, so
// a wakeup costs the two system calls a bare reflector makes rather than an
// epoll_wait as well (TCP stays on the worker's libuv loop). Internal to
// src/dns/server/.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>

#include "dns/responder.hpp"
#include "dns/server/socket.hpp"
#include "dns/server/stats.hpp"

namespace cairn::dns {

// Buffers for one batch, allocated once per reader: nothing is allocated per
// packet.
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

class UdpReader {
public:
    // Takes the bound socket (and makes it blocking) and a Responder of its
    // own. `pktinfo`: the socket is on a wildcard address and replies must
    // name their source address.
    UdpReader(UniqueFd fd, bool pktinfo, std::unique_ptr<Responder> responder);
    ~UdpReader(); // joins
    UdpReader(const UdpReader&) = delete;
    UdpReader& operator=(const UdpReader&) = delete;

    void start_thread();
    // Any thread. The reader answers the batch it holds, if any, and its
    // thread returns: shutdown(SHUT_RD) wakes a recvmmsg blocked on the
    // socket (it then returns at once, every time), and the flag says that
    // this is the end rather than an empty datagram.
    void request_stop();
    void join();

    WorkerStats stats;

private:
    void run() noexcept;
    // Answers the `received` datagrams in the batch; returns how many answers
    // it put into batch_.send.
    unsigned answer(unsigned received) noexcept;
    void send(unsigned count) noexcept;

    UniqueFd fd_;
    bool pktinfo_;
    std::unique_ptr<Responder> responder_;
    UdpBatch batch_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

} // namespace cairn::dns
