// Fuzzes the DNS-over-TCP framing (src/dns/server/tcp_frame.hpp): the input
// is a byte stream from a client, fed in read sizes taken from the input
// itself. Every message handed out must lie within what was fed, and the
// buffer must never grow past one maximal frame.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dns/server/tcp_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // The first byte picks the read size (1..256 bytes per read).
    std::size_t chunk = std::size_t{data[0]} + 1;
    data += 1;
    size -= 1;

    cairn::dns::FrameBuffer frames(64);
    std::size_t fed = 0;
    std::size_t taken = 0; // bytes of messages handed out, prefixes included
    while (fed < size) {
        auto space = frames.writable();
        if (space.empty()) std::abort(); // all complete messages were taken: there must be room
        std::size_t n = std::min({space.size(), chunk, size - fed});
        std::memcpy(space.data(), data + fed, n);
        frames.commit(n);
        fed += n;
        while (auto message = frames.next()) taken += 2 + message->size();
        if (frames.capacity() > cairn::dns::FrameBuffer::max_frame ||
            taken + frames.buffered() != fed)
            std::abort();
    }
    return 0;
}
