#pragma once
// TCP check: a connect to `target` ("host:port", "[v6]:port") within the
// timeout passes; refused, unreachable or slow is critical. The connection is
// closed at once; nothing is sent.

#include "core/loop.hpp"
#include "health/probe.hpp"
#include "registry/types.hpp"

namespace cairn::health {

// Main loop only.
[[nodiscard]] ProbePtr start_tcp_probe(Loop& loop, const registry::CheckDefinition& definition,
                                       ProbeDone done);

} // namespace cairn::health
