#pragma once
// The gossip engine's clock. Nothing in src/gossip reads a clock: every call
// that can make time pass takes `now`, so the owner decides what time it is
// (the agent passes steady_clock::now(), the simulated cluster a manual clock).

#include <chrono>

namespace cairn::gossip {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

using std::chrono::milliseconds;
using std::chrono::seconds;

} // namespace cairn::gossip
