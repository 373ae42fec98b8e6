#pragma once
// The DNS server's counters in Prometheus text format, for the agent's
// GET /metrics. Pure: the agent takes Server::stats() (summed over every DNS
// thread at that moment) and appends what this returns.

#include <string>

#include "dns/server/server.hpp"

namespace cairn::dns {

[[nodiscard]] std::string format_metrics(const Server::Stats& stats);

} // namespace cairn::dns
