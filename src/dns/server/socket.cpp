#include "dns/server/socket.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

namespace cairn::dns {

void UniqueFd::reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool is_wildcard(const SocketAddress& address) {
    if (address.family() == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr;
        return IN6_IS_ADDR_UNSPECIFIED(&a);
    }
    return reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr.s_addr ==
           htonl(INADDR_ANY);
}

SocketAddress with_port(SocketAddress address, std::uint16_t port) {
    if (address.family() == AF_INET6)
        reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(port);
    else
        reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(port);
    return address;
}

Result<SocketAddress> local_address(int fd) {
    sockaddr_storage storage{};
    socklen_t len = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0)
        return fail("getsockname: {}", std::strerror(errno));
    return SocketAddress::from(reinterpret_cast<const sockaddr*>(&storage));
}

namespace {

const char* transport_name(int type) {
    return type == SOCK_DGRAM ? "udp" : "tcp";
}

std::unexpected<SocketError> socket_error(int type, const SocketAddress& address,
                                          const char* what) {
    int code = errno;
    return std::unexpected(
        SocketError{code, fmt::format("cannot listen on {} {}: {}: {}", transport_name(type),
                                      address.to_string(), what, std::strerror(code))});
}

// A bound, non-blocking socket; with `shared`, other workers may bind the
// same address too (SO_REUSEPORT).
std::expected<UniqueFd, SocketError> open_bound(const SocketAddress& address, int type,
                                                bool shared = true) {
    UniqueFd fd(::socket(address.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return socket_error(type, address, "socket");
    int on = 1;
    if (shared && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
        return socket_error(type, address, "SO_REUSEPORT");
    if (type == SOCK_STREAM &&
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
        return socket_error(type, address, "SO_REUSEADDR");
    // Without V6ONLY a [::] socket would also take IPv4 and collide with a
    // 0.0.0.0 listen address on the same port.
    if (address.family() == AF_INET6 &&
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
        return socket_error(type, address, "IPV6_V6ONLY");
    if (::bind(fd.get(), address.sa(), address.size()) != 0)
        return socket_error(type, address, "bind");
    return fd;
}

} // namespace

std::expected<void, SocketError> ensure_unused(const SocketAddress& address) {
    // Sockets of the same user with SO_REUSEPORT join each other's group, so
    // a second agent on the same port would silently take half the queries.
    // Binding once without it fails if anyone holds the address.
    for (int type : {SOCK_DGRAM, SOCK_STREAM})
        if (auto probe = open_bound(address, type, false); !probe)
            return std::unexpected(probe.error());
    return {};
}

std::expected<UniqueFd, SocketError> open_udp_socket(const SocketAddress& address) {
    auto fd = open_bound(address, SOCK_DGRAM);
    if (!fd) return fd;
    int on = 1;
    // On a wildcard address the reply must leave from the address the query
    // was sent to, or the client drops it; the kernel tells us which one.
    if (is_wildcard(address)) {
        int rc = address.family() == AF_INET6
                     ? ::setsockopt(fd->get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on)
                     : ::setsockopt(fd->get(), IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
        if (rc != 0) return socket_error(SOCK_DGRAM, address, "PKTINFO");
    }
    // Room for bursts; the kernel caps it at net.core.rmem_max, which is fine.
    int bytes = 4 << 20;
    ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    return fd;
}

std::expected<UniqueFd, SocketError> open_tcp_listener(const SocketAddress& address, int backlog) {
    auto fd = open_bound(address, SOCK_STREAM);
    if (!fd) return fd;
    if (::listen(fd->get(), backlog) != 0) return socket_error(SOCK_STREAM, address, "listen");
    return fd;
}

} // namespace cairn::dns
