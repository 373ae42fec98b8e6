#pragma once
// The part the DNS fuzz harnesses share: answer one input as a UDP and as a
// TCP query and abort on a reply that breaks the invariants every reply keeps.

#include <cstdint>
#include <cstdlib>
#include <span>

#include <netinet/in.h>

#include "dns/responder.hpp"

inline void fuzz_check(bool ok)
{
    if (!ok)
        std::abort();
}

inline void respond_over_both_transports(cairn::dns::Responder& responder, const sockaddr_in& address,
                                         std::span<std::uint8_t> out, const std::uint8_t* data,
                                         std::size_t size)
{
    std::span<const std::uint8_t> query(data, size);
    for (auto transport : {cairn::dns::Transport::udp, cairn::dns::Transport::tcp}) {
        cairn::dns::Client client{reinterpret_cast<const sockaddr*>(&address), transport};
        std::size_t n = responder.respond(query, client, out);
        if (n == 0)
            continue;
        fuzz_check(n >= 12 && size >= 12);
        fuzz_check(n <= (transport == cairn::dns::Transport::tcp ? 65535u : 1232u));
        fuzz_check(out[0] == data[0] && out[1] == data[1]); // id echoed
        fuzz_check((out[2] & 0x80) != 0);                    // QR
    }
}
