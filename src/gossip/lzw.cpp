#include "gossip/lzw.hpp"

#include <array>
#include <cstdint>

namespace cairn::gossip {

namespace {

constexpr unsigned lit_width = 8;
constexpr unsigned max_width = 12;
constexpr std::uint16_t clear_code = 1u << lit_width;
constexpr std::uint16_t eof_code = clear_code + 1;
constexpr std::uint16_t invalid_code = 0xffff;
constexpr std::size_t table_size = 1u << max_width;

// Reads codes least significant bit first, as Go's readLSB.
class CodeReader {
public:
    explicit CodeReader(std::span<const std::uint8_t> in)
        : in_(in) {}

    bool read(unsigned width, std::uint16_t& code) {
        while (bits_count_ < width) {
            if (pos_ >= in_.size()) return false;
            bits_ |= static_cast<std::uint32_t>(in_[pos_++]) << bits_count_;
            bits_count_ += 8;
        }
        code = static_cast<std::uint16_t>(bits_ & ((1u << width) - 1));
        bits_ >>= width;
        bits_count_ -= width;
        return true;
    }

private:
    std::span<const std::uint8_t> in_;
    std::size_t pos_ = 0;
    std::uint32_t bits_ = 0;
    unsigned bits_count_ = 0;
};

} // namespace

// Follows Go's (*lzw.Reader).decode step for step, so that what Go accepts
// and what it rejects are the same here.
Result<Bytes> lzw_decompress(std::span<const std::uint8_t> in, std::size_t max_output) {
    std::array<std::uint8_t, table_size> suffix{};
    std::array<std::uint16_t, table_size> prefix{};
    std::array<std::uint8_t, table_size> expansion{};
    CodeReader reader(in);
    unsigned width = lit_width + 1;
    std::uint16_t hi = eof_code;
    std::uint32_t overflow = 1u << width;
    std::uint16_t last = invalid_code;
    Bytes out;

    for (;;) {
        std::uint16_t code = 0;
        if (!reader.read(width, code)) return fail("lzw: input ends before the end code");
        if (code < clear_code) {
            if (out.size() >= max_output) return fail("lzw: output exceeds {} bytes", max_output);
            out.push_back(static_cast<std::uint8_t>(code));
            if (last != invalid_code) {
                suffix[hi] = static_cast<std::uint8_t>(code);
                prefix[hi] = last;
            }
        } else if (code == clear_code) {
            width = lit_width + 1;
            hi = eof_code;
            overflow = 1u << width;
            last = invalid_code;
            continue;
        } else if (code == eof_code) {
            return out;
        } else if (code <= hi) {
            // Expand back to front into `expansion`, ending at index i.
            std::size_t i = table_size;
            std::uint16_t c = code;
            if (code == hi && last != invalid_code) {
                // KwKwK: the last expansion followed by its own first byte.
                c = last;
                while (c >= clear_code) c = prefix[c];
                expansion[--i] = static_cast<std::uint8_t>(c);
                c = last;
            }
            while (c >= clear_code) {
                if (i == 0) return fail("lzw: code chain too long");
                expansion[--i] = suffix[c];
                c = prefix[c];
            }
            if (i == 0) return fail("lzw: code chain too long");
            expansion[--i] = static_cast<std::uint8_t>(c);
            std::size_t n = table_size - i;
            if (n > max_output - out.size())
                return fail("lzw: output exceeds {} bytes", max_output);
            out.insert(out.end(), expansion.begin() + static_cast<std::ptrdiff_t>(i),
                       expansion.end());
            if (last != invalid_code) {
                suffix[hi] = static_cast<std::uint8_t>(c);
                prefix[hi] = last;
            }
        } else {
            return fail("lzw: invalid code {}", code);
        }
        last = code;
        ++hi;
        if (hi >= overflow) {
            if (width == max_width) {
                last = invalid_code;
                --hi;
            } else {
                ++width;
                overflow = 1u << width;
            }
        }
    }
}

} // namespace cairn::gossip
