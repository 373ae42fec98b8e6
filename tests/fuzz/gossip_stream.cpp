// Fuzzes gossip stream decoding (src/gossip/stream.hpp): push-pull, user,
// ping, ack and err streams, plain, LZW-compressed and encrypted with a fixed
// keyring. The input is also fed as a growing prefix, the way a transport
// reads a connection: once a prefix decodes, every longer one must decode to
// the same message and length, and once a prefix fails every longer one
// fails too.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gossip/keyring.hpp"
#include "gossip/stream.hpp"

using namespace cairn::gossip;

namespace {

const Keyring& fuzz_keyring() {
    static const Keyring ring = [] {
        Keyring k;
        for (const char* key : {"0123456789abcdefghijklmnopqrstuv", "0123456789abcdef"}) {
            std::string_view s(key);
            if (!k.add_key(Bytes(s.begin(), s.end()))) std::abort();
        }
        return k;
    }();
    return ring;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> input(data, size);
    StreamLimits limits;
    limits.max_nodes = 256;
    limits.max_user_bytes = 1 << 16;
    limits.max_decompressed = 1 << 20;
    auto whole = decode_stream(input, &fuzz_keyring(), limits);
    if (whole && whole->has_value() && (*whole)->consumed > size) std::abort();

    // Prefixes in steps, so long inputs stay cheap.
    std::size_t step = size / 16 + 1;
    bool failed = false;
    for (std::size_t n = 0; n <= size; n += step) {
        auto d = decode_stream(input.first(n), &fuzz_keyring(), limits);
        if (!d) {
            failed = true;
            continue;
        }
        if (failed) std::abort(); // an error, then "need more" or a message: inconsistent
        if (d->has_value()) {
            if (!whole || !whole->has_value() || (*d)->consumed != (*whole)->consumed ||
                !((*d)->message == (*whole)->message))
                std::abort();
            break;
        }
    }
    return 0;
}
