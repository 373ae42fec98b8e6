#pragma once
// The part the DNS fuzz harnesses share: a Catalog's Responder as a DNS
// worker has it, answering one input as a UDP and as a TCP query from
// 127.0.0.1, aborting on a reply that breaks the invariants every reply keeps.

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include <netinet/in.h>

#include "dns/answer/catalog.hpp"
#include "dns/responder.hpp"

inline void fuzz_check(bool ok) {
    if (!ok) std::abort();
}

inline void respond_over_both_transports(cairn::dns::Responder& responder,
                                         const sockaddr_in& address, std::span<std::uint8_t> out,
                                         const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> query(data, size);
    for (auto transport : {cairn::dns::Transport::udp, cairn::dns::Transport::tcp}) {
        cairn::dns::Client client{reinterpret_cast<const sockaddr*>(&address), transport};
        std::size_t n = responder.respond(query, client, out);
        if (n == 0) continue;
        fuzz_check(n >= 12 && size >= 12);
        fuzz_check(n <= (transport == cairn::dns::Transport::tcp ? 65535u : 1232u));
        fuzz_check(out[0] == data[0] && out[1] == data[1]); // id echoed
        fuzz_check((out[2] & 0x80) != 0);                   // QR
    }
}

class FuzzResponder {
public:
    // Serves `slot` (and `zones`, if any) with `settings`, this node at 127.0.0.1.
    FuzzResponder(cairn::registry::SnapshotSlot& slot, cairn::dns::Settings settings,
                  std::shared_ptr<const cairn::dns::ZoneSet> zones = nullptr)
        : catalog_(slot) {
        if (zones) catalog_.set_zones(std::move(zones));
        settings.node_address.family = 4;
        settings.node_address.bytes = {127, 0, 0, 1};
        catalog_.set_settings(settings);
        responder_ = catalog_.responder_factory()();
        client_.sin_family = AF_INET;
        client_.sin_addr.s_addr = htonl(0x7f000001);
    }

    void respond(const std::uint8_t* data, std::size_t size) {
        respond_over_both_transports(*responder_, client_, out_, data, size);
    }

private:
    cairn::dns::Catalog catalog_;
    std::unique_ptr<cairn::dns::Responder> responder_;
    std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(65535);
    sockaddr_in client_{};
};
