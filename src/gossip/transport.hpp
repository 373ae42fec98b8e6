#pragma once
// What the membership engine asks of the network (memberlist's
// NodeAwareTransport, turned around: the engine never blocks, it asks for
// sends and is called back with what arrives). The libuv transport and the
// simulated network of the tests both implement it.

#include <cstdint>
#include <span>
#include <string>

#include "gossip/messages.hpp"
#include "gossip/time.hpp"

namespace cairn::gossip {

// Where a node is reached: its address bytes exactly as gossiped (4 bytes for
// IPv4, 16 for IPv6), its port, and its name when known (empty for a seed
// given by address only).
struct Address {
    Bytes addr;
    std::uint16_t port = 0;
    std::string name;

    friend bool operator==(const Address& a, const Address& b) {
        return a.addr == b.addr && a.port == b.port;
    }
};

// "127.0.0.1:7946" / "[::1]:7946", for logs.
[[nodiscard]] std::string to_string(const Address& a);
// An address's IP as Go's net.IP.String() writes it ("127.0.0.1", "::1";
// an IPv4-mapped IPv6 address as IPv4); empty if it is neither 4 nor 16
// bytes.
[[nodiscard]] std::string ip_text(std::span<const std::uint8_t> addr);

// Identifies one outbound stream between open_stream() and the engine's
// on_stream_response() / on_stream_failed().
using StreamId = std::uint64_t;

class Transport {
public:
    virtual ~Transport() = default;

    // Sends one datagram, best effort. Failures are the transport's to count;
    // the engine learns of a lost packet only by a missing ack.
    virtual void send_packet(const Address& to, Bytes packet) = 0;

    // Connects to `to`, writes `request`, then feeds everything read to
    // Memberlist::on_stream_response(id, ...) until it reports the answer
    // complete. A connect or I/O error, or `deadline` passing first, is
    // reported with Memberlist::on_stream_failed(id). One request per
    // connection; the transport closes it afterwards.
    virtual void open_stream(StreamId id, const Address& to, Bytes request, TimePoint deadline) = 0;

    // Connects, writes `message`, closes: a one-way stream (user message).
    virtual void send_stream(const Address& to, Bytes message, TimePoint deadline) = 0;
};

} // namespace cairn::gossip
