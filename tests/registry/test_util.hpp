#pragma once
// Small builders for registry tests.

#include <string>

#include "registry/types.hpp"

namespace cairn::registry::test {

inline Address ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    Address addr;
    addr.family = 4;
    addr.bytes[0] = a;
    addr.bytes[1] = b;
    addr.bytes[2] = c;
    addr.bytes[3] = d;
    return addr;
}

inline Instance make_instance(std::string id, std::string service = "web",
                              std::uint8_t last_octet = 1) {
    Instance i;
    i.id = std::move(id);
    i.service = std::move(service);
    i.address = ipv4(10, 0, 0, last_octet);
    i.port = 8080;
    return i;
}

inline Check ttl_check(std::string id, Health status) {
    Check c;
    c.definition.id = std::move(id);
    c.definition.kind = CheckKind::ttl;
    c.definition.ttl_ms = 10'000;
    c.state.status = status;
    return c;
}

} // namespace cairn::registry::test
