#pragma once
// One query over TCP to an upstream (a truncated UDP reply asked again):
// connect, write the framed query, read one framed reply, done. Internal to
// src/dns/forward/; used on the forwarder's thread only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/net.hpp"
#include "core/tcp_stream.hpp"

namespace cairn::dns::forward {

class TcpExchange final : public TcpStream::Handler {
public:
    // The reply's bytes, or empty on any failure (refused, reset, closed
    // early). Called once; it may destroy the exchange.
    using Done = std::function<void(std::span<const std::uint8_t> reply)>;

    TcpExchange(Loop& loop, const SocketAddress& upstream, std::span<const std::uint8_t> query,
                std::chrono::milliseconds connect_timeout, Done done);
    TcpExchange(const TcpExchange&) = delete;
    TcpExchange& operator=(const TcpExchange&) = delete;
    ~TcpExchange() = default;

    std::span<char> read_buffer() override;
    void on_read(std::size_t n) override;
    void on_end() override { finish(0); }
    void on_error(int) override { finish(0); }

private:
    // Hands the reply of `length` bytes (0: none) to the callback.
    void finish(std::size_t length);

    TcpStream stream_;
    std::vector<std::uint8_t> query_; // framed
    std::vector<std::uint8_t> in_;
    std::size_t used_ = 0;
    Done done_;
};

} // namespace cairn::dns::forward
