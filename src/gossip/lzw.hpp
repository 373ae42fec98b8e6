#pragma once
// LZW decompression as Go's compress/lzw reads it with LSB order and 8-bit
// literals, the only compression memberlist has (compressMsg, util.go). A
// default memberlist compresses every stream it sends, so cairn must read
// it; cairn itself sends uncompressed.

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

} // namespace cairn::gossip
