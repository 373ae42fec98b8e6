#pragma once
// The seam between the DNS server (sockets, src/dns/server/) and the answer
// logic (pure, src/dns/answer/). The server makes one Responder per worker
// thread through a factory, so a Responder may keep per-thread scratch space
// and need not be thread-safe; everything it reads that other threads change
// (zones, the registry snapshot) it reads through atomically swapped pointers.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include <sys/socket.h>

namespace cairn::dns {

enum class Transport : std::uint8_t { udp = 0, tcp = 1 };

struct Client {
    const sockaddr* address = nullptr; // the peer, AF_INET or AF_INET6
    Transport transport = Transport::udp;
};

class Responder {
public:
    virtual ~Responder() = default;
    // Writes the response to `query` into `out` and returns its length; 0
    // means send nothing (only for input that is not a DNS query at all, e.g.
    // shorter than a header or with QR set). `out` is at least 65535 bytes
    // for TCP; for UDP the responder sizes the answer to what the client
    // accepts (512, or its EDNS payload size), setting TC when needed.
    virtual std::size_t respond(std::span<const std::uint8_t> query, const Client& client,
                                std::span<std::uint8_t> out) noexcept = 0;
};

using ResponderFactory = std::function<std::unique_ptr<Responder>()>;

} // namespace cairn::dns
