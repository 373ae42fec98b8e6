// libFuzzer harness: the input is what an upstream resolver sent back to the
// forwarder. It goes through check_reply (against a question the input's own
// first bytes cannot change, with the input's ID so the check gets past it)
// and, when taken, write_client_answer for clients with and without EDNS, at
// UDP and TCP limits. Besides crashes and sanitizer findings it checks what
// must hold for every answer: within the limit, the client's ID, QR set,
// QDCOUNT 1 and the client's question bytes.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dns/forward/reply.hpp"
#include "dns/wire/query.hpp"

namespace {

using namespace cairn::dns;

// A client's query bytes: www.example.test, type A (1) or AAAA (28), with or
// without EDNS and DO.
std::vector<std::uint8_t> client_query(std::uint16_t type, bool edns) {
    const std::uint8_t header[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    const std::uint8_t name[] = {3,   'W', 'w', 'W', 7,   'e', 'x', 'a', 'm',
                                 'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
    const std::uint8_t tail[] = {0, static_cast<std::uint8_t>(type), 0, 1};
    const std::uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};
    // Sized once and filled: growing a vector by insert() trips GCC 12's -O3
    // -Warray-bounds false positive.
    std::vector<std::uint8_t> q(sizeof header + sizeof name + sizeof tail +
                                (edns ? sizeof opt : 0));
    std::uint8_t* p = q.data();
    std::memcpy(p, header, sizeof header);
    p[11] = edns ? 1 : 0;
    std::memcpy(p += sizeof header, name, sizeof name);
    std::memcpy(p += sizeof name, tail, sizeof tail);
    if (edns) std::memcpy(p + sizeof tail, opt, sizeof opt);
    return q;
}

struct Client {
    std::vector<std::uint8_t> packet;
    Query query;
};

Client make_client(std::uint16_t type, bool edns) {
    Client c{client_query(type, edns), {}};
    if (!parse_query(c.packet, c.query)) std::abort();
    return c;
}

void check(bool ok) {
    if (!ok) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Client clients[] = {make_client(1, true), make_client(1, false),
                                     make_client(28, true)};
    static std::vector<std::uint8_t> out(65535);
    std::span<const std::uint8_t> reply(data, size);
    std::uint16_t id = size >= 2 ? static_cast<std::uint16_t>(data[0] << 8 | data[1]) : 0;
    for (const Client& c : clients) {
        auto checked = forward::check_reply(reply, id, c.query);
        if (!checked) continue;
        check(checked->body_size <= size);
        for (std::size_t limit : {std::size_t{512}, std::size_t{1232}, std::size_t{65535}}) {
            std::size_t n =
                forward::write_client_answer(reply, *checked, c.query, c.packet, out, limit);
            if (n == 0) continue;
            check(n <= limit);
            check(n >= header_size + c.query.question_size);
            check(out[0] == 0x12 && out[1] == 0x34);
            check((out[2] & 0x80) != 0);
            check(out[4] == 0 && out[5] == 1);
            check(std::memcmp(out.data() + header_size, c.packet.data() + header_size,
                              c.query.question_size) == 0);
        }
    }
    return 0;
}
