#pragma once
// A cairn agent's gossip metadata (at most 512 bytes; it rides in every
// alive message and in every member entry of every push-pull): short on the
// wire, whole when shown. It comes from any member of the cluster, so
// reading it never fails: what is not an agent's is shown as it is.

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "gossip/messages.hpp"

namespace cairn::agent {

// As short as it can be: three bytes for a version X.Y.Z (1 + X, below 32,
// then Y and Z, each below 256), then the datacenter unless it is the
// default "dc1". A version that does not fit is sent as text, "v=VERSION"
// with "dc=DATACENTER" on a line before it, as cairn 0.1.0 sent every
// version.
[[nodiscard]] gossip::Bytes encode_agent_meta(const std::string& datacenter,
                                              const std::string& version);

// A member's metadata as pairs to show: a cairn agent's (binary, or text
// with "v") as "dc" (the default when absent) and "version", then any other
// pairs; anything else (a memberlist node's) as the "key=value" lines it
// holds, if any, like Serf's tags.
[[nodiscard]] std::vector<std::pair<std::string, std::string>>
member_meta(std::span<const std::uint8_t> meta);

} // namespace cairn::agent
