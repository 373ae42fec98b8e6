#pragma once
// Answers queries through a Catalog Responder like one DNS worker, with no
// sockets, for the zone and answer tests.

#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>

#include "dns/answer/catalog.hpp"
#include "dns_test_util.hpp"

namespace cairn::dns::test {

// Answers queries through a Catalog's Responder, like one DNS worker.
class Asker {
public:
    explicit Asker(std::shared_ptr<const ZoneSet> zones, Settings settings = {})
        : catalog_(slot_) {
        catalog_.set_zones(std::move(zones));
        catalog_.set_settings(std::move(settings));
        responder_ = catalog_.responder_factory()();
        address_.sin_family = AF_INET;
        address_.sin_addr.s_addr = htonl(0x7f000001);
    }

    Reply ask_bytes(const std::vector<std::uint8_t>& query, Transport transport = Transport::udp) {
        std::vector<std::uint8_t> out(65535);
        Client client{reinterpret_cast<const sockaddr*>(&address_), transport};
        std::size_t n = responder_->respond(query, client, out);
        return read_reply(out.data(), n);
    }

    Reply ask(const std::string& name, std::uint16_t type, const QueryOptions& o = {},
              Transport transport = Transport::udp) {
        return ask_bytes(make_query(name, type, o), transport);
    }

    Catalog& catalog() { return catalog_; }
    registry::SnapshotSlot& slot() { return slot_; }

private:
    registry::SnapshotSlot slot_;
    Catalog catalog_;
    std::unique_ptr<Responder> responder_;
    sockaddr_in address_{};
};

} // namespace cairn::dns::test
