#pragma once
// DNS over UDP: a thread per UDP socket (per worker and listen address)
// blocked in recvmmsg(MSG_WAITFORONE), which returns as soon as one datagram
// is there with as many more as are queued, up to UdpBatch::size; it answers
// them and sends the answers with one sendmmsg. No event loop in between, so
// a wakeup costs the two system calls a bare reflector makes rather than an
// epoll_wait as well (TCP stays on the worker's libuv loop).
//
// A deferred answer (Responder::deferred) is sent by whichever thread
// completes it, straight from the same socket with sendmsg and the same
// source address (IP_PKTINFO) a direct answer would have; the socket is
// shared with the pending answers (UdpOutlet), so it stays open until the last
// of them is gone. Internal to src/dns/server/.

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

// The socket and the counters of the answers sent later, shared by the
// reader and its pending answers.
struct UdpOutlet {
    explicit UdpOutlet(UniqueFd socket)
        : fd(std::move(socket)) {}
    UniqueFd fd;
    WorkerStats late; // written by the completing threads: add_shared() only
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

    // This reader's counters, and those of its deferred answers, into `total`.
    void add_stats(Server::Stats& total) const;

    WorkerStats stats;

private:
    // Hands out the PendingAnswer for the datagram being answered.
    class Deferrer final : public dns::Deferrer {
    public:
        explicit Deferrer(UdpReader& reader)
            : reader_(reader) {}
        std::unique_ptr<PendingAnswer> defer() noexcept override;
        unsigned current = 0; // index into the batch
        bool taken = false;

    private:
        UdpReader& reader_;
    };

    void run() noexcept;
    // Answers the `received` datagrams in the batch; returns how many answers
    // it put into batch_.send.
    unsigned answer(unsigned received) noexcept;
    void send(unsigned count) noexcept;

    std::shared_ptr<UdpOutlet> outlet_;
    int fd_; // outlet_'s
    bool pktinfo_;
    Deferrer deferrer_{*this};
    std::unique_ptr<Responder> responder_;
    UdpBatch batch_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

} // namespace cairn::dns
