#pragma once
// LZW as Go's compress/lzw writes and reads it with LSB order and 8-bit
// literals, the only compression memberlist has (compressMsg, util.go). A
// default memberlist compresses every stream it sends, and so does cairn.

#include <cstddef>
#include <span>

#include "core/result.hpp"
#include "gossip/messages.hpp"

namespace cairn::gossip {

// Decodes a whole LZW stream (clear 256, end 257, codes 9 to 12 bits wide).
// The output may not exceed max_output bytes: a few kilobytes of input can
// expand a thousandfold, so every caller states its cap. Like Go, a stream
// without its end code is an error.
Result<Bytes> lzw_decompress(std::span<const std::uint8_t> in, std::size_t max_output);

// Encodes `in` for Go's lzw.NewReader(r, lzw.LSB, 8): Go's writer's format
// and table, with phrases chosen one step ahead, so usually fewer bytes than
// Go's lzw.NewWriter writes (lzw.cpp).
[[nodiscard]] Bytes lzw_compress(std::span<const std::uint8_t> in);

} // namespace cairn::gossip
