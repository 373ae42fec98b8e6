#pragma once
// The seam between the DNS server (sockets, src/dns/server/) and the answer
// logic (pure, src/dns/answer/). The server makes one Responder per worker
// thread through a factory, so a Responder may keep per-thread scratch space
// and need not be thread-safe; everything it reads that other threads change
// (zones, the registry snapshot) it reads through atomically swapped pointers.
//
// An answer has three outcomes: bytes to send now, nothing to send, or
// "later" (Responder::deferred), for an answer that waits on something else,
// e.g. an upstream resolver. A deferred answer is completed through a
// PendingAnswer the Responder took from the query's Client, from any thread;
// the server sends it from the socket and local address the query came to,
// and over TCP keeps every connection's answers in the order of its queries.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>

#include <sys/socket.h>

namespace cairn::dns {

enum class Transport : std::uint8_t { udp = 0, tcp = 1 };

// The server's half of a deferred answer.
class PendingAnswer {
public:
    // Destroyed without complete(): nothing is sent for this query (over
    // TCP, the connection's later answers go on without it).
    virtual ~PendingAnswer() = default;
    // Any thread, at most once. `answer` is a whole DNS message (sized by the
    // caller for the client, as respond() does), copied before this returns;
    // empty sends nothing.
    virtual void complete(std::span<const std::uint8_t> answer) noexcept = 0;
};

// Given with each query by a server that can send its answer later.
class Deferrer {
public:
    // Only inside respond(), at most once per query: the handle through which
    // this query's answer will go; null when it cannot be had (no memory).
    // Allocates: it is for answers that wait anyway.
    [[nodiscard]] virtual std::unique_ptr<PendingAnswer> defer() noexcept = 0;

protected:
    ~Deferrer() = default;
};

struct Client {
    const sockaddr* address = nullptr; // the peer, AF_INET or AF_INET6
    Transport transport = Transport::udp;
    Deferrer* deferrer = nullptr; // null: the answer must be given now
};

class Responder {
public:
    // respond() took a PendingAnswer and will complete it later.
    static constexpr std::size_t deferred = std::numeric_limits<std::size_t>::max();

    virtual ~Responder() = default;
    // Writes the response to `query` into `out` and returns its length; 0
    // means send nothing (only for input that is not a DNS query at all, e.g.
    // shorter than a header or with QR set); `deferred` means the answer comes
    // later through client.deferrer. `out` is at least 65535 bytes
    // for TCP; for UDP the responder sizes the answer to what the client
    // accepts (512, or its EDNS payload size), setting TC when needed.
    virtual std::size_t respond(std::span<const std::uint8_t> query, const Client& client,
                                std::span<std::uint8_t> out) noexcept = 0;
};

using ResponderFactory = std::function<std::unique_ptr<Responder>()>;

} // namespace cairn::dns
