#include "dns/server_udp.hpp"

#include <cerrno>
#include <cstring>

#include "core/log.hpp"
#include "dns/server_worker.hpp"

namespace cairn::dns {

namespace {

// Batches per readable event: enough to drain a burst, few enough that the
// TCP handles on the same loop are not starved.
constexpr int max_batches_per_event = 8;

// The destination address of a received datagram, as a control message to
// send the reply from; false when there is none.
bool copy_pktinfo(const msghdr& received, UdpBatch::Control& reply, msghdr& out)
{
    for (cmsghdr* c = CMSG_FIRSTHDR(&received); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&received), c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            in_pktinfo info;
            std::memcpy(&info, CMSG_DATA(c), sizeof info);
            in_pktinfo answer{};
            answer.ipi_spec_dst = info.ipi_addr; // leave from where the query arrived
            out.msg_control = reply.bytes;
            out.msg_controllen = CMSG_SPACE(sizeof answer);
            cmsghdr* r = CMSG_FIRSTHDR(&out);
            r->cmsg_level = IPPROTO_IP;
            r->cmsg_type = IP_PKTINFO;
            r->cmsg_len = CMSG_LEN(sizeof answer);
            std::memcpy(CMSG_DATA(r), &answer, sizeof answer);
            return true;
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            in6_pktinfo info;
            std::memcpy(&info, CMSG_DATA(c), sizeof info);
            out.msg_control = reply.bytes;
            out.msg_controllen = CMSG_SPACE(sizeof info);
            cmsghdr* r = CMSG_FIRSTHDR(&out);
            r->cmsg_level = IPPROTO_IPV6;
            r->cmsg_type = IPV6_PKTINFO;
            r->cmsg_len = CMSG_LEN(sizeof info);
            std::memcpy(CMSG_DATA(r), &info, sizeof info);
            return true;
        }
    }
    return false;
}

} // namespace

UdpBatch::UdpBatch()
    : in(new std::uint8_t[size * max_message]), out(new std::uint8_t[size * max_message])
{
    for (unsigned i = 0; i < size; ++i) {
        recv_iov[i] = {in.get() + i * max_message, max_message};
        recv[i].msg_hdr.msg_iov = &recv_iov[i];
        recv[i].msg_hdr.msg_iovlen = 1;
        send[i].msg_hdr.msg_iov = &send_iov[i];
        send[i].msg_hdr.msg_iovlen = 1;
    }
}

UdpEndpoint::UdpEndpoint(Loop& loop, UniqueFd fd, bool pktinfo, UdpBatch& batch, Responder& responder,
                         WorkerStats& stats)
    : fd_(std::move(fd)), pktinfo_(pktinfo), batch_(batch), responder_(responder), stats_(stats)
{
    uv_poll_init(loop.get(), &poll_, fd_.get());
    poll_.data = this;
}

bool UdpEndpoint::start()
{
    if (int rc = uv_poll_start(&poll_, UV_READABLE, on_readable); rc != 0) {
        log::error("dns.udp poll failed", {{"error", uv_strerror(rc)}});
        return false;
    }
    return true;
}

void UdpEndpoint::close()
{
    uv_poll_stop(&poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_),
             [](uv_handle_t* h) { delete static_cast<UdpEndpoint*>(h->data); });
}

void UdpEndpoint::on_readable(uv_poll_t* handle, int status, int) noexcept
{
    auto* self = static_cast<UdpEndpoint*>(handle->data);
    if (status < 0) {
        log::warn("dns.udp poll error", {{"error", uv_strerror(status)}});
        return;
    }
    self->drain();
}

void UdpEndpoint::drain() noexcept
{
    for (int round = 0; round < max_batches_per_event; ++round) {
        // The kernel overwrites these per datagram; reset them every call.
        for (unsigned i = 0; i < UdpBatch::size; ++i) {
            msghdr& h = batch_.recv[i].msg_hdr;
            h.msg_name = &batch_.peers[i];
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_control = pktinfo_ ? batch_.recv_control[i].bytes : nullptr;
            h.msg_controllen = pktinfo_ ? sizeof(UdpBatch::Control) : 0;
            h.msg_flags = 0;
        }
        int received = ::recvmmsg(fd_.get(), batch_.recv.data(), UdpBatch::size, MSG_DONTWAIT, nullptr);
        if (received < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log::warn("dns.udp recvmmsg failed", {{"error", std::strerror(errno)}});
            return;
        }
        if (received == 0)
            return;
        stats_.add(stats_.udp_queries, static_cast<unsigned>(received));
        send(answer(static_cast<unsigned>(received)));
        // A short batch means the socket is empty: skip the EAGAIN call.
        if (static_cast<unsigned>(received) < UdpBatch::size)
            return;
    }
}

unsigned UdpEndpoint::answer(unsigned received) noexcept
{
    unsigned count = 0;
    std::uint64_t dropped = 0;
    for (unsigned i = 0; i < received; ++i) {
        const msghdr& h = batch_.recv[i].msg_hdr;
        if ((h.msg_flags & MSG_TRUNC) != 0) {
            ++dropped; // larger than any DNS message
            continue;
        }
        Client client{reinterpret_cast<const sockaddr*>(&batch_.peers[i]), Transport::udp};
        std::span<const std::uint8_t> query(batch_.in.get() + i * UdpBatch::max_message, batch_.recv[i].msg_len);
        std::span<std::uint8_t> out(batch_.out.get() + count * UdpBatch::max_message, UdpBatch::max_message);
        std::size_t length = responder_.respond(query, client, out);
        if (length == 0 || length > UdpBatch::max_message) {
            ++dropped;
            continue;
        }
        msghdr& reply = batch_.send[count].msg_hdr;
        reply.msg_name = &batch_.peers[i];
        reply.msg_namelen = h.msg_namelen;
        reply.msg_control = nullptr;
        reply.msg_controllen = 0;
        if (pktinfo_)
            copy_pktinfo(h, batch_.send_control[count], reply);
        batch_.send_iov[count] = {out.data(), length};
        ++count;
    }
    if (dropped != 0)
        stats_.add(stats_.dropped, dropped);
    return count;
}

void UdpEndpoint::send(unsigned count) noexcept
{
    unsigned next = 0;
    std::uint64_t delivered = 0;
    while (next < count) {
        int n = ::sendmmsg(fd_.get(), batch_.send.data() + next, count - next, MSG_DONTWAIT);
        if (n > 0) {
            next += static_cast<unsigned>(n);
            delivered += static_cast<unsigned>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // The send buffer is full: dropping is what a busy server does.
            stats_.add(stats_.dropped, count - next);
            break;
        }
        // The first remaining datagram failed on its own (e.g. an
        // unreachable peer): drop it and send the rest.
        stats_.add(stats_.dropped);
        ++next;
    }
    if (delivered != 0)
        stats_.add(stats_.responses, delivered);
}

} // namespace cairn::dns
