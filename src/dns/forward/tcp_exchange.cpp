#include "dns/forward/tcp_exchange.hpp"

#include <cstring>

namespace cairn::dns::forward {

namespace {
constexpr std::size_t max_frame = 2 + 65535;
}

TcpExchange::TcpExchange(Loop& loop, const SocketAddress& upstream,
                         std::span<const std::uint8_t> query,
                         std::chrono::milliseconds connect_timeout, Done done)
    : stream_(loop, *this)
    , query_(2 + query.size())
    , in_(4096)
    , done_(std::move(done)) {
    query_[0] = static_cast<std::uint8_t>(query.size() >> 8);
    query_[1] = static_cast<std::uint8_t>(query.size());
    std::memcpy(query_.data() + 2, query.data(), query.size());
    stream_.connect(upstream, connect_timeout, [this](int status) {
        if (status != 0) {
            finish(0);
            return;
        }
        if (stream_.write(std::span<const char>(reinterpret_cast<const char*>(query_.data()),
                                                query_.size())) != 0) {
            finish(0);
            return;
        }
        stream_.read_start();
    });
}

std::span<char> TcpExchange::read_buffer() {
    if (used_ == in_.size()) in_.resize(std::min(in_.size() * 2, max_frame));
    return {reinterpret_cast<char*>(in_.data() + used_), in_.size() - used_};
}

void TcpExchange::on_read(std::size_t n) {
    used_ += n;
    if (used_ < 2) return;
    std::size_t length = std::size_t{in_[0]} << 8 | in_[1];
    if (in_.size() < 2 + length) in_.resize(2 + length);
    if (used_ < 2 + length) return;
    finish(length);
}

void TcpExchange::finish(std::size_t length) {
    if (!done_) return;
    // Locals: the callback may destroy this.
    Done done = std::move(done_);
    done_ = nullptr;
    std::vector<std::uint8_t> in = std::move(in_);
    done(length == 0 ? std::span<const std::uint8_t>() : std::span(in).subspan(2, length));
}

} // namespace cairn::dns::forward
