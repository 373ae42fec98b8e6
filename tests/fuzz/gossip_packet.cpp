// Fuzzes gossip packet decoding (src/gossip/packet.hpp, codec.hpp): CRC,
// compound, LZW-compressed and plain messages, and the same after opening
// the input with a fixed keyring (security.hpp). Every message that decodes
// must encode and decode back to itself, and the input itself, LZW-compressed
// (lzw.hpp, with its lookahead), must decompress back to itself.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gossip/codec.hpp"
#include "gossip/keyring.hpp"
#include "gossip/lzw.hpp"
#include "gossip/packet.hpp"
#include "gossip/security.hpp"

using namespace cairn::gossip;

namespace {

const Keyring& fuzz_keyring() {
    // The keys of the golden files (tests/gossip/golden.hpp), so the sealed
    // seeds open.
    static const Keyring ring = [] {
        Keyring k;
        for (const char* key :
             {"0123456789abcdefghijklmnopqrstuv", "0123456789abcdef", "0123456789abcdefghijklmn"}) {
            std::string_view s(key);
            if (!k.add_key(Bytes(s.begin(), s.end()))) std::abort();
        }
        return k;
    }();
    return ring;
}

Bytes encode_any(const PacketMessage& m) {
    return std::visit(
        [](const auto& v) -> Bytes {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, UserMsg>)
                return encode_user(v.payload);
            else
                return encode(v);
        },
        m);
}

void check_packet(std::span<const std::uint8_t> packet) {
    auto decoded = decode_packet(packet);
    if (!decoded) return;
    for (const auto& m : decoded->messages) {
        auto again = decode_message(encode_any(m));
        if (!again || !(*again == m)) std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> input(data, size);
    check_packet(input);
    auto back = lzw_decompress(lzw_compress(input), input.size());
    if (!back || !std::equal(back->begin(), back->end(), input.begin(), input.end())) std::abort();
    if (auto opened = open_packet(fuzz_keyring(), input)) check_packet(*opened);
    return 0;
}
