#pragma once
// RFC 1035 4.2.2 / RFC 7766 framing of DNS over TCP: each message is preceded
// by its length as two bytes, big-endian. FrameBuffer collects the bytes of
// one connection across partial reads and hands out complete messages. Pure:
// no sockets, so it is unit-tested on its own.
//
// Bounded: the buffer starts small and grows only to hold one whole message
// whose length prefix says it is larger (at most 2 + 65535 bytes).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

namespace cairn::dns {

class FrameBuffer {
public:
    static constexpr std::size_t max_frame = 2 + 65535;

    explicit FrameBuffer(std::size_t initial_capacity = 1024);

    // Space to read into, never empty: moves leftover bytes to the front and
    // grows when the message being received does not fit. Invalidates the
    // spans next() returned.
    std::span<std::uint8_t> writable();
    // `n` bytes were written at the start of writable().
    void commit(std::size_t n);
    // The next complete message without its length prefix, or nothing until
    // more bytes arrive. Valid until writable() is called.
    std::optional<std::span<const std::uint8_t>> next();

    // Forgets everything received (a connection that is closing).
    void clear() { begin_ = end_ = 0; }

    // Bytes received and not yet handed out (a partial message, or complete
    // ones the caller has not taken yet).
    [[nodiscard]] std::size_t buffered() const { return end_ - begin_; }
    // A complete message is ready for next().
    [[nodiscard]] bool has_message() const {
        std::size_t pending = end_ - begin_;
        return pending >= 2 && pending >= 2 + (std::size_t{data_[begin_]} << 8 | data_[begin_ + 1]);
    }
    // Part of a message is here and the rest is still to come.
    [[nodiscard]] bool partial() const { return buffered() > 0 && !has_message(); }
    [[nodiscard]] std::size_t capacity() const { return capacity_; }

private:
    std::unique_ptr<std::uint8_t[]> data_;
    std::size_t capacity_;
    std::size_t begin_ = 0; // first byte not handed out
    std::size_t end_ = 0;   // one past the last byte received
};

} // namespace cairn::dns
