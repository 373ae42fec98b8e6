#pragma once
// The msgpack subset memberlist speaks, as hashicorp/go-msgpack's
// MsgpackHandle{} (WriteExt off) writes it: the "raw" family (fixraw, raw16,
// raw32: 0xa0-0xbf, 0xda, 0xdb) for both strings and []byte, never bin or
// str8; integers in the smallest form, non-negative ones unsigned; nil for a
// nil slice. msgpack-c cannot be told to write this old form for every length
// (it writes str8 for 32-255 bytes), hence this small codec.
//
// The Reader accepts everything go-msgpack's decoder accepts for these types
// (str8 and bin too) and nothing it would not: every read is bounds-checked,
// containers are depth- and length-limited, and running out of input is told
// apart from malformed input (truncated()), so a stream reader knows when to
// wait for more bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "gossip/messages.hpp"

namespace cairn::gossip::msgpack {

class Writer {
public:
    explicit Writer(Bytes& out)
        : out_(out) {}

    void nil();
    void boolean(bool value);
    void uint(std::uint64_t value);
    void sint(std::int64_t value); // non-negative values are written as uint
    void raw(std::span<const std::uint8_t> bytes);
    void raw(std::string_view text);
    // A Go []byte: nil when empty (cairn never tells nil from empty).
    void bytes_or_nil(std::span<const std::uint8_t> bytes);
    void map_header(std::size_t entries);
    void array_header(std::size_t entries);

private:
    void container(std::uint8_t fix_min, std::size_t fix_cutoff, std::uint8_t b16, std::uint8_t b32,
                   std::size_t n);
    void be(std::uint64_t value, int bytes);

    Bytes& out_;
};

struct Limits {
    std::size_t max_depth = 16;      // nested maps/arrays when skipping
    std::size_t max_entries = 65536; // per map or array
};

class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> in, Limits limits = {})
        : in_(in)
        , limits_(limits) {}

    // Entries of the map that starts here; nil counts as an empty map.
    Result<std::size_t> map_header();
    // Integers of any width or sign that fit in [min, max].
    Result<std::uint64_t> read_uint(std::uint64_t max);
    Result<std::int64_t> read_int(std::int64_t min, std::int64_t max);
    // go-msgpack also takes the fixnums 0 and 1 for a bool.
    Result<bool> read_bool();
    // raw/str/bin; nil reads as empty.
    Result<Bytes> read_bytes();
    Result<std::string> read_string();
    // Skips one value of any type (an unknown map key's value).
    Result<void> skip();
    // Consumes a nil if one is next (go-msgpack reads nil as the zero value
    // of any field).
    bool try_nil();

    std::size_t offset() const { return pos_; }
    std::span<const std::uint8_t> rest() const { return in_.subspan(pos_); }
    // True once a read failed only because the input ended.
    bool truncated() const { return truncated_; }

private:
    Result<std::uint8_t> byte();
    Result<std::uint64_t> be(int bytes);
    Result<std::span<const std::uint8_t>> take(std::size_t n);
    Result<std::span<const std::uint8_t>> raw_span();
    Result<void> skip_at(std::size_t depth);
    Result<std::size_t> entries(std::uint64_t n);

    std::span<const std::uint8_t> in_;
    Limits limits_;
    std::size_t pos_ = 0;
    bool truncated_ = false;
};

} // namespace cairn::gossip::msgpack
