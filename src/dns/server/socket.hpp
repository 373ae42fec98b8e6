#pragma once
// Socket creation for the DNS server: one non-blocking SO_REUSEPORT socket
// per worker and listen address, IPv6 sockets IPv6-only. Internal to
// src/dns/server/; called from the thread that runs Server::start().

#include <cstdint>
#include <utility>

#include "core/net.hpp"
#include "core/result.hpp"

namespace cairn::dns {

// Owns a file descriptor; closes it unless released.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd)
        : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    [[nodiscard]] int get() const { return fd_; }
    [[nodiscard]] int release() { return std::exchange(fd_, -1); }
    void reset();

private:
    int fd_ = -1;
};

// 0.0.0.0 or ::, where replies must leave from the address the query came to.
[[nodiscard]] bool is_wildcard(const SocketAddress& address);
[[nodiscard]] SocketAddress with_port(SocketAddress address, std::uint16_t port);
// The address a socket is bound to (its port, once port 0 was chosen).
[[nodiscard]] Result<SocketAddress> local_address(int fd);

// Errors carry the errno in `code` so that start() can retry EADDRINUSE for
// port 0; the message names the transport and the address.
struct SocketError {
    int code = 0;
    std::string message;
};

// Fails if any socket (ours or another process's) holds the address now.
[[nodiscard]] std::expected<void, SocketError> ensure_unused(const SocketAddress& address);
[[nodiscard]] std::expected<UniqueFd, SocketError> open_udp_socket(const SocketAddress& address);
[[nodiscard]] std::expected<UniqueFd, SocketError> open_tcp_listener(const SocketAddress& address,
                                                                     int backlog);

} // namespace cairn::dns
