#include "gossip/lzw.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

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

namespace {

// Writes codes least significant bit first, as Go's writeLSB.
class CodeWriter {
public:
    explicit CodeWriter(Bytes& out)
        : out_(out) {}

    void write(std::uint32_t code, unsigned width) {
        bits_ |= code << bits_count_;
        bits_count_ += width;
        while (bits_count_ >= 8) {
            out_.push_back(static_cast<std::uint8_t>(bits_));
            bits_ >>= 8;
            bits_count_ -= 8;
        }
    }
    void flush() {
        if (bits_count_ > 0) out_.push_back(static_cast<std::uint8_t>(bits_));
        bits_ = 0;
        bits_count_ = 0;
    }

private:
    Bytes& out_;
    std::uint32_t bits_ = 0;
    unsigned bits_count_ = 0;
};

// Go's (*lzw.Writer).Write and Close for one whole input, except perhaps for
// which phrases it cuts the input into. Go's writer takes the longest phrase
// in the table each time (greedy, `margin` 0: then these are Go's bytes).
// With a margin it looks one step ahead (flexible parsing): of the longest
// phrase and the three just shorter, it takes a shorter one only when the
// next phrase then reaches at least `margin` bytes further than after the
// longest, and of those the one reaching furthest. Every phrase is in the
// table as Go's reader builds it (each code adds the previous phrase plus
// the first byte of this one), so Go's reader decodes it as it decodes its
// own writer's. The rest is Go's: a clear code first, codes widening from 9
// bits as the table grows, a clear code and a fresh table when it is full
// (code 4095), then the end code. `table` is scratch space, emptied here.
Bytes encode(std::span<const std::uint8_t> in, std::size_t margin,
             std::vector<std::uint32_t>& table) {
    constexpr std::uint32_t max_code = (1u << max_width) - 1;
    constexpr std::size_t candidates = 4;
    // At most one entry per input byte, 4095 - 257 at most between clears:
    // a hash at most half full.
    const std::size_t hash_size =
        std::bit_ceil(2 * std::min<std::size_t>(in.size() + 1, max_code - eof_code));
    const std::uint32_t hash_mask = static_cast<std::uint32_t>(hash_size - 1);
    // key << 12 | code, 0 for an empty slot (no key is 0: a code is >= 258).
    table.assign(hash_size, 0);
    Bytes out;
    out.reserve(in.size() / 2 + 16);
    CodeWriter writer(out);
    unsigned width = lit_width + 1;
    std::uint32_t hi = eof_code;
    std::uint32_t overflow = 1u << width;

    auto slot = [&](std::uint32_t key) {
        std::uint32_t h = (key >> 12 ^ key) & hash_mask;
        while (table[h] != 0 && table[h] >> 12 != key) h = (h + 1) & hash_mask;
        return h;
    };
    // The code of phrase `code` followed by `literal`, or 0.
    auto child = [&](std::uint32_t code, std::uint8_t literal) -> std::uint32_t {
        const std::uint32_t t = table[slot(code << 8 | literal)];
        return t & max_code;
    };
    // The length of the longest phrase in the table at `pos` (0 at the end).
    auto longest = [&](std::size_t pos) {
        if (pos >= in.size()) return std::size_t{0};
        std::size_t end = pos + 1;
        for (std::uint32_t code = in[pos]; end < in.size(); ++end) {
            code = child(code, in[end]);
            if (code == 0) break;
        }
        return end - pos;
    };
    // One more code in use; at the table's end a clear code starts afresh
    // (true then: the caller inserts nothing).
    auto inc_hi = [&] {
        ++hi;
        if (hi == overflow) {
            ++width;
            overflow <<= 1;
        }
        if (hi != max_code) return false;
        writer.write(clear_code, width);
        width = lit_width + 1;
        hi = eof_code;
        overflow = 1u << width;
        std::fill(table.begin(), table.end(), 0);
        return true;
    };

    writer.write(clear_code, width);
    std::vector<std::uint32_t> prefixes; // codes of the phrases at pos, by length - 1
    for (std::size_t pos = 0; pos < in.size();) {
        prefixes.assign(1, in[pos]);
        for (std::size_t end = pos + 1; end < in.size(); ++end) {
            const std::uint32_t code = child(prefixes.back(), in[end]);
            if (code == 0) break;
            prefixes.push_back(code);
        }
        std::size_t take = prefixes.size();
        if (margin > 0) {
            std::size_t reach = take + longest(pos + take) + margin - 1;
            for (std::size_t len = take - 1; len > 0 && prefixes.size() - len < candidates; --len) {
                if (const std::size_t r = len + longest(pos + len); r > reach) {
                    take = len;
                    reach = r;
                }
            }
        }
        writer.write(prefixes[take - 1], width);
        pos += take;
        if (inc_hi() || pos == in.size()) continue;
        const std::uint32_t key = prefixes[take - 1] << 8 | in[pos];
        table[slot(key)] = key << 12 | hi;
    }
    writer.write(eof_code, width);
    writer.flush();
    return out;
}

} // namespace

// Member entries repeat their keys and values, which is where looking ahead
// pays; which margin pays most depends on the input (1 on a push-pull of 10
// members, 3 on one of 50, and any can lose to greedy elsewhere), so the
// greedy cut and margins 1 to 3 are all made and the smallest kept, the
// earliest on a tie (Go's bytes when nothing is gained).
Bytes lzw_compress(std::span<const std::uint8_t> in) {
    std::vector<std::uint32_t> table;
    Bytes best = encode(in, 0, table);
    for (std::size_t margin = 1; margin <= 3; ++margin)
        if (Bytes b = encode(in, margin, table); b.size() < best.size()) best = std::move(b);
    return best;
}

} // namespace cairn::gossip
