#pragma once
// Helpers for the server tests: a trivial Responder and blocking client
// sockets with receive timeouts, so that no test can hang.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "core/net.hpp"
#include "dns/responder.hpp"
#include "dns/server/server.hpp"

namespace cairn::dns::test {

using Bytes = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Queries whose id is at least this get an answer of big_answer_size bytes.
constexpr std::uint16_t big_id = 0xF000;
constexpr std::size_t big_answer_size = 30000;

// Echoes the query with QR set; refuses (returns 0) anything shorter than a
// DNS header.
class EchoResponder final : public Responder {
public:
    std::size_t respond(std::span<const std::uint8_t> query, const Client&,
                        std::span<std::uint8_t> out) noexcept override {
        if (query.size() < 12 || query.size() > out.size()) return 0;
        std::memcpy(out.data(), query.data(), query.size());
        out[2] |= 0x80;
        std::size_t length = query.size();
        if ((query[0] << 8 | query[1]) >= big_id && out.size() >= big_answer_size) {
            std::memset(out.data() + length, 0, big_answer_size - length);
            length = big_answer_size;
        }
        return length;
    }
};

inline ResponderFactory echo_factory() {
    return [] { return std::make_unique<EchoResponder>(); };
}

inline SocketAddress address(std::string_view text) {
    auto a = parse_socket_address(text);
    REQUIRE(a.has_value());
    return *a;
}

// A query for `name` (dotted, no trailing dot), type A, class IN.
inline Bytes make_query(std::uint16_t id, std::string_view name = "example.test") {
    Bytes q{static_cast<std::uint8_t>(id >> 8),
            static_cast<std::uint8_t>(id),
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0};
    while (!name.empty()) {
        auto dot = name.find('.');
        auto label = name.substr(0, dot);
        q.push_back(static_cast<std::uint8_t>(label.size()));
        q.insert(q.end(), label.begin(), label.end());
        name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    }
    q.insert(q.end(), {0, 0, 1, 0, 1});
    return q;
}

inline std::uint16_t id_of(const Bytes& message) {
    return static_cast<std::uint16_t>(message[0] << 8 | message[1]);
}

inline Bytes framed(const Bytes& message) {
    // Sized once: a two-byte vector grown by insert() trips GCC 12's -O3
    // -Warray-bounds false positive.
    Bytes f(2 + message.size());
    f[0] = static_cast<std::uint8_t>(message.size() >> 8);
    f[1] = static_cast<std::uint8_t>(message.size());
    std::copy(message.begin(), message.end(), f.begin() + 2);
    return f;
}

// Polls `done` until it holds or `limit` passes.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return done();
}

class Socket {
public:
    Socket(int family, int type)
        : fd_(::socket(family, type | SOCK_CLOEXEC, 0)) {
        REQUIRE(fd_ >= 0);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    Socket(Socket&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)) {}

    int fd() const { return fd_; }

    // True when data (or EOF) is readable within `limit`.
    bool readable(std::chrono::milliseconds limit) const {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, static_cast<int>(limit.count())) == 1;
    }

private:
    int fd_;
};

inline Socket udp_socket(const SocketAddress& server) {
    Socket s(server.family(), SOCK_DGRAM);
    REQUIRE(::connect(s.fd(), server.sa(), server.size()) == 0);
    return s;
}

// Receives one datagram, or nothing within `limit`.
inline std::optional<Bytes> udp_receive(const Socket& s, std::chrono::milliseconds limit = 3s) {
    if (!s.readable(limit)) return std::nullopt;
    Bytes buf(65535);
    ssize_t n = ::recv(s.fd(), buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

inline Socket tcp_connect(const SocketAddress& server, int receive_buffer = 0) {
    Socket s(server.family(), SOCK_STREAM);
    int on = 1;
    ::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (receive_buffer > 0)
        ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    REQUIRE(::connect(s.fd(), server.sa(), server.size()) == 0);
    return s;
}

inline void send_all(const Socket& s, const Bytes& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(s.fd(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        REQUIRE(n > 0);
        sent += static_cast<std::size_t>(n);
    }
}

// Exactly `n` bytes; fewer if the peer closes or the 5 s timeout passes.
inline Bytes receive_exactly(const Socket& s, std::size_t n) {
    Bytes buf(n);
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::recv(s.fd(), buf.data() + got, n - got, 0);
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    buf.resize(got);
    return buf;
}

// One length-prefixed message, or nothing on EOF, error or timeout.
inline std::optional<Bytes> tcp_receive(const Socket& s) {
    Bytes prefix = receive_exactly(s, 2);
    if (prefix.size() != 2) return std::nullopt;
    Bytes message = receive_exactly(s, static_cast<std::size_t>(prefix[0] << 8 | prefix[1]));
    if (message.size() != static_cast<std::size_t>(prefix[0] << 8 | prefix[1])) return std::nullopt;
    return message;
}

// True when the peer closed the connection (EOF or reset) within `limit`.
inline bool closed_by_peer(const Socket& s, std::chrono::milliseconds limit) {
    if (!s.readable(limit)) return false;
    std::uint8_t byte;
    return ::recv(s.fd(), &byte, 1, MSG_DONTWAIT) <= 0;
}

} // namespace cairn::dns::test
