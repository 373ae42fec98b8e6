#pragma once
// Script check: `args` run through uv_spawn (PATH lookup, no shell), in a new
// session and so its own process group. Exit 0 is passing, 1 warning,
// anything else (or a signal) critical. stdout and stderr share one pipe and
// the first 4 KiB are kept as the output; the rest is read and dropped so the
// script never blocks on a full pipe. At the timeout the whole process group
// gets SIGKILL and the child is reaped by libuv: no zombies, no orphans
// holding the pipe. A cancelled probe kills the group the same way.

#include "core/loop.hpp"
#include "health/probe.hpp"
#include "registry/types.hpp"

namespace cairn::health {

// Main loop only.
[[nodiscard]] ProbePtr start_script_probe(Loop& loop, const registry::CheckDefinition& definition,
                                          ProbeDone done);

} // namespace cairn::health
