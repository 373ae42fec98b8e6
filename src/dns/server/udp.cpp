#include "dns/server/udp.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

#include <fcntl.h>

#include "core/log.hpp"
#include "dns/server/query_log.hpp"

namespace cairn::dns {

namespace {

// `out`'s one control message: `value` at (level, type), in `reply`'s bytes.
template <class T>
void set_control(UdpBatch::Control& reply, msghdr& out, int level, int type, const T& value) {
    out.msg_control = reply.bytes;
    out.msg_controllen = CMSG_SPACE(sizeof value);
    cmsghdr* r = CMSG_FIRSTHDR(&out);
    r->cmsg_level = level;
    r->cmsg_type = type;
    r->cmsg_len = CMSG_LEN(sizeof value);
    std::memcpy(CMSG_DATA(r), &value, sizeof value);
}

// The destination address of a received datagram, as a control message to
// send the reply from; false when there is none.
bool copy_pktinfo(const msghdr& received, UdpBatch::Control& reply, msghdr& out) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&received); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&received), c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            in_pktinfo info;
            std::memcpy(&info, CMSG_DATA(c), sizeof info);
            in_pktinfo answer{};
            answer.ipi_spec_dst = info.ipi_addr; // leave from where the query arrived
            set_control(reply, out, IPPROTO_IP, IP_PKTINFO, answer);
            return true;
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            in6_pktinfo info;
            std::memcpy(&info, CMSG_DATA(c), sizeof info);
            set_control(reply, out, IPPROTO_IPV6, IPV6_PKTINFO, info);
            return true;
        }
    }
    return false;
}

// An answer sent later from the reader's socket: the peer and the source
// address, copied from the datagram when the query was deferred.
class UdpPending final : public PendingAnswer {
public:
    UdpPending(std::shared_ptr<UdpOutlet> outlet, const msghdr& received, bool pktinfo)
        : outlet_(std::move(outlet)) {
        std::memcpy(&peer_, received.msg_name, received.msg_namelen);
        namelen_ = received.msg_namelen;
        if (pktinfo) {
            msghdr scratch{};
            control_ = std::make_unique<UdpBatch::Control>();
            has_control_ = copy_pktinfo(received, *control_, scratch);
            controllen_ = scratch.msg_controllen;
        }
    }
    ~UdpPending() override {
        if (!done_) WorkerStats::add_shared(outlet_->late.dropped);
    }

    void complete(std::span<const std::uint8_t> answer) noexcept override {
        if (done_) return;
        done_ = true;
        WorkerStats& late = outlet_->late;
        if (answer.empty() || answer.size() > UdpBatch::max_message) {
            WorkerStats::add_shared(late.dropped);
            return;
        }
        late.count_answer(answer.data(), answer.size(), true);
        iovec iov{const_cast<std::uint8_t*>(answer.data()), answer.size()};
        msghdr h{};
        h.msg_name = &peer_;
        h.msg_namelen = namelen_;
        h.msg_iov = &iov;
        h.msg_iovlen = 1;
        if (has_control_) {
            h.msg_control = control_->bytes;
            h.msg_controllen = controllen_;
        }
        ssize_t n;
        do {
            n = ::sendmsg(outlet_->fd.get(), &h, MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        WorkerStats::add_shared(n < 0 ? late.dropped : late.responses);
    }

private:
    std::shared_ptr<UdpOutlet> outlet_;
    sockaddr_storage peer_{};
    socklen_t namelen_ = 0;
    std::size_t controllen_ = 0;
    bool has_control_ = false;
    bool done_ = false;
    // On the heap: a cmsghdr (flexible array) cannot be a member here.
    std::unique_ptr<UdpBatch::Control> control_;
};

} // namespace

UdpBatch::UdpBatch()
    : in(new std::uint8_t[size * max_message])
    , out(new std::uint8_t[size * max_message]) {
    for (unsigned i = 0; i < size; ++i) {
        recv_iov[i] = {in.get() + i * max_message, max_message};
        recv[i].msg_hdr.msg_iov = &recv_iov[i];
        recv[i].msg_hdr.msg_iovlen = 1;
        send[i].msg_hdr.msg_iov = &send_iov[i];
        send[i].msg_hdr.msg_iovlen = 1;
    }
}

UdpReader::UdpReader(UniqueFd fd, bool pktinfo, std::unique_ptr<Responder> responder)
    : outlet_(std::make_shared<UdpOutlet>(std::move(fd)))
    , fd_(outlet_->fd.get())
    , pktinfo_(pktinfo)
    , responder_(std::move(responder)) {
    // Blocking for recvmmsg; deferred answers are sent with MSG_DONTWAIT.
    int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
}

std::unique_ptr<PendingAnswer> UdpReader::Deferrer::defer() noexcept {
    if (taken) return nullptr;
    try {
        auto pending = std::make_unique<UdpPending>(
            reader_.outlet_, reader_.batch_.recv[current].msg_hdr, reader_.pktinfo_);
        taken = true;
        return pending;
    } catch (const std::exception&) {
        return nullptr;
    }
}

void UdpReader::add_stats(Server::Stats& total) const {
    stats.add_to(total, Transport::udp);
    outlet_->late.add_to(total, Transport::udp);
}

UdpReader::~UdpReader() {
    request_stop();
    join();
}

void UdpReader::start_thread() {
    thread_ = std::thread([this] { run(); });
}

void UdpReader::request_stop() {
    stopping_.store(true, std::memory_order_relaxed);
    // ENOTCONN on an unconnected UDP socket, but the read side is shut and
    // every waiter woken all the same (Linux's inet_shutdown).
    ::shutdown(fd_, SHUT_RD);
}

void UdpReader::join() {
    if (thread_.joinable()) thread_.join();
}

void UdpReader::run() noexcept {
    while (!stopping_.load(std::memory_order_relaxed)) {
        // The kernel overwrites these per datagram; reset them every call.
        for (unsigned i = 0; i < UdpBatch::size; ++i) {
            msghdr& h = batch_.recv[i].msg_hdr;
            h.msg_name = &batch_.peers[i];
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_control = pktinfo_ ? batch_.recv_control[i].bytes : nullptr;
            h.msg_controllen = pktinfo_ ? sizeof(UdpBatch::Control) : 0;
            h.msg_flags = 0;
        }
        int received = ::recvmmsg(fd_, batch_.recv.data(), UdpBatch::size, MSG_WAITFORONE, nullptr);
        if (received < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            log::warn("dns.udp recvmmsg failed", {{"error", std::strerror(errno)}});
            // Not a busy loop on an error that stays (ENOMEM, say).
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        // After request_stop() the batch holds what was still queued, then
        // an empty entry for every call made after the queue ran dry (the
        // shut read side): those are not datagrams, so they are not counted.
        if (stopping_.load(std::memory_order_relaxed))
            while (received > 0 && batch_.recv[static_cast<unsigned>(received) - 1].msg_len == 0)
                --received;
        stats.add(stats.udp_queries, static_cast<unsigned>(received));
        send(answer(static_cast<unsigned>(received)));
    }
}

unsigned UdpReader::answer(unsigned received) noexcept {
    unsigned count = 0;
    std::uint64_t dropped = 0;
    std::uint64_t deferred = 0;
    std::uint64_t start = latency_clock_ns();
    for (unsigned i = 0; i < received; ++i) {
        const msghdr& h = batch_.recv[i].msg_hdr;
        if ((h.msg_flags & MSG_TRUNC) != 0) {
            ++dropped; // larger than any DNS message
            continue;
        }
        Client client{reinterpret_cast<const sockaddr*>(&batch_.peers[i]), Transport::udp,
                      &deferrer_};
        deferrer_.current = i;
        deferrer_.taken = false;
        std::span<const std::uint8_t> query(batch_.in.get() + i * UdpBatch::max_message,
                                            batch_.recv[i].msg_len);
        std::span<std::uint8_t> out(batch_.out.get() + count * UdpBatch::max_message,
                                    UdpBatch::max_message);
        std::size_t length = responder_->respond(query, client, out);
        if (length == Responder::deferred && deferrer_.taken) {
            ++deferred; // its PendingAnswer sends it
            continue;
        }
        if (length == 0 || length > UdpBatch::max_message) {
            ++dropped;
            continue;
        }
        stats.count_answer(out.data(), length);
        stats.count_latency(latency_clock_ns() - start);
        if (query_log_on()) log_query(client.address, Transport::udp, query, out.first(length));
        msghdr& reply = batch_.send[count].msg_hdr;
        reply.msg_name = &batch_.peers[i];
        reply.msg_namelen = h.msg_namelen;
        reply.msg_control = nullptr;
        reply.msg_controllen = 0;
        if (pktinfo_) copy_pktinfo(h, batch_.send_control[count], reply);
        batch_.send_iov[count] = {out.data(), length};
        ++count;
    }
    if (dropped != 0) stats.add(stats.dropped, dropped);
    if (deferred != 0) stats.add(stats.deferred, deferred);
    return count;
}

void UdpReader::send(unsigned count) noexcept {
    unsigned next = 0;
    std::uint64_t delivered = 0;
    while (next < count) {
        int n = ::sendmmsg(fd_, batch_.send.data() + next, count - next, MSG_DONTWAIT);
        if (n > 0) {
            next += static_cast<unsigned>(n);
            delivered += static_cast<unsigned>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // The send buffer is full: dropping is what a busy server does.
            stats.add(stats.dropped, count - next);
            break;
        }
        // The first remaining datagram failed on its own (e.g. an
        // unreachable peer): drop it and send the rest.
        stats.add(stats.dropped);
        ++next;
    }
    if (delivered != 0) stats.add(stats.responses, delivered);
}

} // namespace cairn::dns
