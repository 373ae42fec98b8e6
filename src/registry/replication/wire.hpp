#pragma once
// The primitives of the replication format: unsigned LEB128 varints and
// length-prefixed byte strings. The Reader never reads past its input, never
// throws, and refuses lengths above the caller's bound, so a hostile message
// costs at most its own size in memory.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace cairn::registry::replication {

class Writer {
public:
    void u8(std::uint8_t v) { out_.push_back(v); }
    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            out_.push_back(static_cast<std::uint8_t>(v | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    // Signed values (wall-clock milliseconds) zig-zag encoded.
    void svarint(std::int64_t v) {
        varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
    }
    // Eight bytes, little-endian (a fingerprint: varints would not shorten it).
    void fixed64(std::uint64_t v) {
        for (int shift = 0; shift < 64; shift += 8)
            out_.push_back(static_cast<std::uint8_t>(v >> shift));
    }
    void bytes(std::string_view s) {
        varint(s.size());
        out_.insert(out_.end(), s.begin(), s.end());
    }
    [[nodiscard]] std::size_t size() const { return out_.size(); }
    [[nodiscard]] std::vector<std::uint8_t> take() { return std::move(out_); }

private:
    std::vector<std::uint8_t> out_;
};

// Reads with a sticky error: after the first failure every read returns
// zero or empty and the error stays the first one, so a decoder reads its
// fields straight through and checks ok() once (no early return per field).
// Lengths and counts are bounded before anything is allocated.
class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> in)
        : in_(in) {}

    [[nodiscard]] bool ok() const { return error_.empty(); }
    [[nodiscard]] const std::string& error() const { return error_; }
    [[nodiscard]] std::size_t remaining() const { return ok() ? in_.size() - pos_ : 0; }
    [[nodiscard]] std::size_t offset() const { return pos_; }

    // Records a failure (the first one wins).
    template <class... Args>
    void fail(fmt::format_string<Args...> format, Args&&... args) {
        if (ok()) error_ = fmt::format(format, std::forward<Args>(args)...);
    }

    std::uint8_t u8(std::string_view what) {
        if (!ok()) return 0;
        if (pos_ >= in_.size()) {
            fail("{}: truncated at byte {}", what, pos_);
            return 0;
        }
        return in_[pos_++];
    }

    std::uint64_t varint(std::string_view what) {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64 && ok(); shift += 7) {
            if (pos_ >= in_.size()) {
                fail("{}: truncated at byte {}", what, pos_);
                return 0;
            }
            std::uint8_t b = in_[pos_++];
            if (shift == 63 && b > 1) {
                fail("{}: varint overflows 64 bits at byte {}", what, pos_ - 1);
                return 0;
            }
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        return 0; // unreachable for well-formed input: ten bytes end the loop above
    }

    std::uint64_t fixed64(std::string_view what) {
        if (!ok()) return 0;
        if (in_.size() - pos_ < 8) {
            fail("{}: truncated at byte {}", what, pos_);
            return 0;
        }
        std::uint64_t v = 0;
        for (int k = 0; k < 8; ++k) v |= static_cast<std::uint64_t>(in_[pos_ + k]) << (8 * k);
        pos_ += 8;
        return v;
    }

    std::int64_t svarint(std::string_view what) {
        std::uint64_t v = varint(what);
        return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
    }

    // A varint that must not exceed `max`.
    std::uint64_t bounded(std::string_view what, std::uint64_t max) {
        std::uint64_t v = varint(what);
        if (v > max) {
            fail("{}: {} is above the limit of {}", what, v, max);
            return 0;
        }
        return v;
    }

    // 0 or 1.
    bool flag(std::string_view what) {
        std::uint8_t b = u8(what);
        if (b > 1) fail("{}: {} is not 0 or 1", what, b);
        return b == 1;
    }

    std::string bytes(std::string_view what, std::size_t max_length) {
        std::size_t n = bounded(what, max_length);
        if (n > remaining()) {
            fail("{}: length {} runs past the end of the message", what, n);
            return {};
        }
        std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
        pos_ += n;
        return s;
    }

    // A list's element count: each element takes at least one byte, so a
    // count above what is left is a lie told to make the reader allocate.
    std::size_t count(std::string_view what, std::size_t max) {
        std::size_t n = bounded(what, max);
        if (n > remaining()) {
            fail("{}: {} elements cannot fit in {} bytes", what, n, remaining());
            return 0;
        }
        return n;
    }

private:
    std::span<const std::uint8_t> in_;
    std::size_t pos_ = 0;
    std::string error_;
};

} // namespace cairn::registry::replication
