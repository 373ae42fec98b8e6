#pragma once
// `cairn agent --dev --cluster N`: N dev agents in the foreground, one process
// each, n1 to nN on 127.0.0.1 to 127.0.0.N (DNS :8600, HTTP :8500, gossip
// :8301 on each), n2 and later joining n1. SIGINT (Ctrl-C) or SIGTERM stops
// them all, each with a graceful leave; if one exits on its own (it could not
// start, say), the others are stopped too; one killed by a signal is only
// reported. If this process dies, each agent gets SIGTERM (PR_SET_PDEATHSIG).
// docs/configuration.md describes it.

#include "agent/cli.hpp"

namespace cairn::agent {

// Call before anything starts a thread (it forks). Returns the exit code: 0
// when every agent still running at the stop signal stopped cleanly.
int run_dev_cluster(const AgentOptions& options);

} // namespace cairn::agent
