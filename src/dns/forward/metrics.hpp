#pragma once
// The forwarder's counters in Prometheus text format, for GET /metrics.
// Pure: the agent takes Forwarder::stats() and appends what this returns.

#include <string>

#include "dns/forward/forwarder.hpp"

namespace cairn::dns::forward {

[[nodiscard]] std::string format_metrics(const ForwarderStats& stats);

} // namespace cairn::dns::forward
