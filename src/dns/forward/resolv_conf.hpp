#pragma once
// Where the upstreams come from when [dns.forward].upstreams is empty: the
// `nameserver` lines of /etc/resolv.conf, port 53. Cairn's own listen
// addresses are left out of either list, so that an agent in resolv.conf
// never forwards to itself. Pure (the agent reads the file).

#include <string_view>
#include <vector>

#include "core/net.hpp"

namespace cairn::dns::forward {

// The nameservers of a resolv.conf text, in order; lines that are not
// `nameserver <IP address>` are ignored (comments start with # or ;).
[[nodiscard]] std::vector<SocketAddress> resolv_conf_nameservers(std::string_view text);

// True when a query sent to `upstream` would reach one of `listen`: the
// same port and the same address, or a wildcard listen address (0.0.0.0,
// ::) of that family and an upstream on loopback.
[[nodiscard]] bool is_own_address(const SocketAddress& upstream,
                                  const std::vector<SocketAddress>& listen);

} // namespace cairn::dns::forward
