#include "gossip/msgpack.hpp"

#include <limits>

namespace cairn::gossip::msgpack {

namespace {

// Type bytes (msgpack spec; go-msgpack's msgpack.go names them mp*).
constexpr std::uint8_t pos_fixnum_max = 0x7f;
constexpr std::uint8_t fixmap_min = 0x80;
constexpr std::uint8_t fixarray_min = 0x90;
constexpr std::uint8_t fixraw_min = 0xa0;
constexpr std::uint8_t nil_byte = 0xc0;
constexpr std::uint8_t false_byte = 0xc2;
constexpr std::uint8_t true_byte = 0xc3;
constexpr std::uint8_t bin8 = 0xc4, bin16 = 0xc5, bin32 = 0xc6;
constexpr std::uint8_t ext8 = 0xc7, ext16 = 0xc8, ext32 = 0xc9;
constexpr std::uint8_t float32 = 0xca, float64 = 0xcb;
constexpr std::uint8_t uint8 = 0xcc, uint16 = 0xcd, uint32 = 0xce, uint64 = 0xcf;
constexpr std::uint8_t int8 = 0xd0, int16 = 0xd1, int32 = 0xd2, int64 = 0xd3;
constexpr std::uint8_t fixext1 = 0xd4, fixext16 = 0xd8;
constexpr std::uint8_t str8 = 0xd9, raw16 = 0xda, raw32 = 0xdb;
constexpr std::uint8_t array16 = 0xdc, array32 = 0xdd;
constexpr std::uint8_t map16 = 0xde, map32 = 0xdf;
constexpr std::uint8_t neg_fixnum_min = 0xe0;

bool is_fixraw(std::uint8_t b) {
    return b >= fixraw_min && b <= 0xbf;
}
bool is_fixmap(std::uint8_t b) {
    return b >= fixmap_min && b <= 0x8f;
}
bool is_fixarray(std::uint8_t b) {
    return b >= fixarray_min && b <= 0x9f;
}

} // namespace

void Writer::be(std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
        out_.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

void Writer::nil() {
    out_.push_back(nil_byte);
}

void Writer::boolean(bool value) {
    out_.push_back(value ? true_byte : false_byte);
}

void Writer::uint(std::uint64_t value) {
    if (value <= pos_fixnum_max) {
        out_.push_back(static_cast<std::uint8_t>(value));
    } else if (value <= 0xff) {
        out_.push_back(uint8);
        be(value, 1);
    } else if (value <= 0xffff) {
        out_.push_back(uint16);
        be(value, 2);
    } else if (value <= 0xffffffff) {
        out_.push_back(uint32);
        be(value, 4);
    } else {
        out_.push_back(uint64);
        be(value, 8);
    }
}

void Writer::sint(std::int64_t value) {
    if (value >= 0) {
        uint(static_cast<std::uint64_t>(value));
    } else if (value >= -32) {
        out_.push_back(static_cast<std::uint8_t>(value));
    } else if (value >= std::numeric_limits<std::int8_t>::min()) {
        out_.push_back(int8);
        be(static_cast<std::uint64_t>(value), 1);
    } else if (value >= std::numeric_limits<std::int16_t>::min()) {
        out_.push_back(int16);
        be(static_cast<std::uint64_t>(value), 2);
    } else if (value >= std::numeric_limits<std::int32_t>::min()) {
        out_.push_back(int32);
        be(static_cast<std::uint64_t>(value), 4);
    } else {
        out_.push_back(int64);
        be(static_cast<std::uint64_t>(value), 8);
    }
}

// go-msgpack's writeContainerLen with WriteExt off: no 8-bit length forms.
void Writer::container(std::uint8_t fix_min, std::size_t fix_cutoff, std::uint8_t b16,
                       std::uint8_t b32, std::size_t n) {
    if (n < fix_cutoff) {
        out_.push_back(static_cast<std::uint8_t>(fix_min | n));
    } else if (n < 65536) {
        out_.push_back(b16);
        be(n, 2);
    } else {
        out_.push_back(b32);
        be(n, 4);
    }
}

void Writer::raw(std::span<const std::uint8_t> bytes) {
    container(fixraw_min, 32, raw16, raw32, bytes.size());
    out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void Writer::raw(std::string_view text) {
    container(fixraw_min, 32, raw16, raw32, text.size());
    out_.insert(out_.end(), text.begin(), text.end());
}

void Writer::bytes_or_nil(std::span<const std::uint8_t> bytes) {
    if (bytes.empty())
        nil();
    else
        raw(bytes);
}

void Writer::map_header(std::size_t entries) {
    container(fixmap_min, 16, map16, map32, entries);
}

void Writer::array_header(std::size_t entries) {
    container(fixarray_min, 16, array16, array32, entries);
}

Result<std::uint8_t> Reader::byte() {
    if (pos_ >= in_.size()) {
        truncated_ = true;
        return fail("msgpack: input ends at byte {}", pos_);
    }
    return in_[pos_++];
}

Result<std::span<const std::uint8_t>> Reader::take(std::size_t n) {
    if (n > in_.size() - pos_) {
        truncated_ = true;
        return fail("msgpack: {} bytes wanted at byte {}, {} left", n, pos_, in_.size() - pos_);
    }
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
}

Result<std::uint64_t> Reader::be(int bytes) {
    auto span = take(static_cast<std::size_t>(bytes));
    if (!span) return std::unexpected(span.error());
    std::uint64_t value = 0;
    for (auto b : *span) value = value << 8 | b;
    return value;
}

Result<std::size_t> Reader::entries(std::uint64_t n) {
    if (n > limits_.max_entries)
        return fail("msgpack: container of {} entries at byte {} (limit {})", n, pos_,
                    limits_.max_entries);
    return static_cast<std::size_t>(n);
}

Result<std::size_t> Reader::map_header() {
    auto b = byte();
    if (!b) return std::unexpected(b.error());
    if (is_fixmap(*b)) return std::size_t{*b & 0x0fu};
    if (*b == nil_byte) return std::size_t{0};
    if (*b == map16 || *b == map32) {
        auto n = be(*b == map16 ? 2 : 4);
        if (!n) return std::unexpected(n.error());
        return entries(*n);
    }
    return fail("msgpack: map expected at byte {}, found 0x{:02x}", pos_ - 1, *b);
}

Result<std::uint64_t> Reader::read_uint(std::uint64_t max) {
    std::size_t at = pos_;
    auto value = read_int(0, std::numeric_limits<std::int64_t>::max());
    if (!value) return std::unexpected(value.error());
    if (static_cast<std::uint64_t>(*value) > max)
        return fail("msgpack: integer {} at byte {} exceeds {}", *value, at, max);
    return static_cast<std::uint64_t>(*value);
}

Result<std::int64_t> Reader::read_int(std::int64_t min, std::int64_t max) {
    std::size_t at = pos_;
    auto b = byte();
    if (!b) return std::unexpected(b.error());
    std::int64_t value = 0;
    if (*b <= pos_fixnum_max) {
        value = *b;
    } else if (*b >= neg_fixnum_min) {
        value = static_cast<std::int8_t>(*b);
    } else if (*b >= uint8 && *b <= int64) {
        static constexpr int widths[] = {1, 2, 4, 8};
        bool is_signed = *b >= int8;
        int width = widths[(*b - (is_signed ? int8 : uint8))];
        auto raw_value = be(width);
        if (!raw_value) return std::unexpected(raw_value.error());
        if (is_signed) {
            int shift = 64 - 8 * width;
            value = static_cast<std::int64_t>(*raw_value << shift) >> shift;
        } else {
            if (*raw_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                return fail("msgpack: integer at byte {} out of range", at);
            value = static_cast<std::int64_t>(*raw_value);
        }
    } else {
        return fail("msgpack: integer expected at byte {}, found 0x{:02x}", at, *b);
    }
    if (value < min || value > max)
        return fail("msgpack: integer {} at byte {} outside [{}, {}]", value, at, min, max);
    return value;
}

Result<bool> Reader::read_bool() {
    auto b = byte();
    if (!b) return std::unexpected(b.error());
    if (*b == false_byte || *b == 0) return false;
    if (*b == true_byte || *b == 1) return true;
    return fail("msgpack: bool expected at byte {}, found 0x{:02x}", pos_ - 1, *b);
}

Result<std::span<const std::uint8_t>> Reader::raw_span() {
    auto b = byte();
    if (!b) return std::unexpected(b.error());
    std::uint64_t n = 0;
    if (is_fixraw(*b)) {
        n = *b & 0x1fu;
    } else if (*b == nil_byte) {
        n = 0;
    } else if (*b == str8 || *b == bin8 || *b == raw16 || *b == bin16 || *b == raw32 ||
               *b == bin32) {
        int width = (*b == str8 || *b == bin8) ? 1 : (*b == raw16 || *b == bin16) ? 2 : 4;
        auto len = be(width);
        if (!len) return std::unexpected(len.error());
        n = *len;
    } else {
        return fail("msgpack: bytes expected at byte {}, found 0x{:02x}", pos_ - 1, *b);
    }
    return take(static_cast<std::size_t>(n));
}

Result<Bytes> Reader::read_bytes() {
    auto span = raw_span();
    if (!span) return std::unexpected(span.error());
    return Bytes(span->begin(), span->end());
}

Result<std::string> Reader::read_string() {
    auto span = raw_span();
    if (!span) return std::unexpected(span.error());
    return std::string(span->begin(), span->end());
}

Result<void> Reader::skip() {
    return skip_at(0);
}

bool Reader::try_nil() {
    if (pos_ < in_.size() && in_[pos_] == nil_byte) {
        ++pos_;
        return true;
    }
    return false;
}

Result<void> Reader::skip_at(std::size_t depth) {
    if (depth > limits_.max_depth)
        return fail("msgpack: nested deeper than {} at byte {}", limits_.max_depth, pos_);
    std::size_t at = pos_;
    auto b = byte();
    if (!b) return std::unexpected(b.error());
    auto skip_n = [&](std::size_t n) -> Result<void> {
        auto span = take(n);
        if (!span) return std::unexpected(span.error());
        return {};
    };
    auto skip_items = [&](std::uint64_t items) -> Result<void> {
        auto n = entries(items);
        if (!n) return std::unexpected(n.error());
        for (std::uint64_t i = 0; i < items; ++i)
            if (auto r = skip_at(depth + 1); !r) return r;
        return {};
    };
    auto length = [&](int width) -> Result<std::uint64_t> { return be(width); };

    std::uint8_t t = *b;
    if (t <= pos_fixnum_max || t >= neg_fixnum_min || t == nil_byte || t == false_byte ||
        t == true_byte)
        return {};
    if (is_fixraw(t)) return skip_n(t & 0x1fu);
    if (is_fixmap(t)) return skip_items(2u * (t & 0x0fu));
    if (is_fixarray(t)) return skip_items(t & 0x0fu);
    switch (t) {
    case uint8:
    case int8:
        return skip_n(1);
    case uint16:
    case int16:
        return skip_n(2);
    case uint32:
    case int32:
    case float32:
        return skip_n(4);
    case uint64:
    case int64:
    case float64:
        return skip_n(8);
    case fixext1:
    case fixext1 + 1:
    case fixext1 + 2:
    case fixext1 + 3:
    case fixext16:
        return skip_n(1 + (std::size_t{1} << (t - fixext1)));
    case str8:
    case bin8:
    case raw16:
    case bin16:
    case raw32:
    case bin32:
    case ext8:
    case ext16:
    case ext32: {
        int width = (t == str8 || t == bin8 || t == ext8)      ? 1
                    : (t == raw16 || t == bin16 || t == ext16) ? 2
                                                               : 4;
        auto n = length(width);
        if (!n) return std::unexpected(n.error());
        bool ext = t == ext8 || t == ext16 || t == ext32;
        return skip_n(static_cast<std::size_t>(*n) + (ext ? 1 : 0));
    }
    case array16:
    case array32: {
        auto n = length(t == array16 ? 2 : 4);
        if (!n) return std::unexpected(n.error());
        return skip_items(*n);
    }
    case map16:
    case map32: {
        auto n = length(t == map16 ? 2 : 4);
        if (!n) return std::unexpected(n.error());
        if (*n > limits_.max_entries)
            return fail("msgpack: map of {} entries at byte {} (limit {})", *n, at,
                        limits_.max_entries);
        return skip_items(2 * *n);
    }
    default:
        return fail("msgpack: invalid type byte 0x{:02x} at byte {}", t, at);
    }
}

} // namespace cairn::gossip::msgpack
