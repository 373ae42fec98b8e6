#include "dns/server/tcp_frame.hpp"

#include <algorithm>
#include <cstring>

namespace cairn::dns {

FrameBuffer::FrameBuffer(std::size_t initial_capacity)
    : data_(new std::uint8_t[std::clamp<std::size_t>(initial_capacity, 2, max_frame)])
    , capacity_(std::clamp<std::size_t>(initial_capacity, 2, max_frame)) {}

std::span<std::uint8_t> FrameBuffer::writable() {
    std::size_t pending = end_ - begin_;
    // The whole frame being received must fit: its prefix says how big it is.
    std::size_t needed = 2;
    if (pending >= 2) needed = 2 + (std::size_t{data_[begin_]} << 8 | data_[begin_ + 1]);
    if (needed > capacity_) {
        std::size_t grown = std::min(max_frame, std::max(needed, capacity_ * 2));
        std::unique_ptr<std::uint8_t[]> bigger(new std::uint8_t[grown]);
        std::memcpy(bigger.get(), data_.get() + begin_, pending);
        data_ = std::move(bigger);
        capacity_ = grown;
        begin_ = 0;
        end_ = pending;
    } else if (begin_ > 0 && (end_ == capacity_ || begin_ + needed > capacity_ || pending == 0)) {
        std::memmove(data_.get(), data_.get() + begin_, pending);
        begin_ = 0;
        end_ = pending;
    }
    return {data_.get() + end_, capacity_ - end_};
}

void FrameBuffer::commit(std::size_t n) {
    end_ = std::min(capacity_, end_ + n);
}

std::optional<std::span<const std::uint8_t>> FrameBuffer::next() {
    std::size_t pending = end_ - begin_;
    if (pending < 2) return std::nullopt;
    std::size_t length = std::size_t{data_[begin_]} << 8 | data_[begin_ + 1];
    if (pending < 2 + length) return std::nullopt;
    std::span<const std::uint8_t> message(data_.get() + begin_ + 2, length);
    begin_ += 2 + length;
    if (begin_ == end_) begin_ = end_ = 0;
    return message;
}

} // namespace cairn::dns
