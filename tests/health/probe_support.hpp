#pragma once
// Helpers for tests that run probes on a real loop: run until a result (or a
// predicate) with a deadline, never sleeping on the wall clock.

#include <chrono>
#include <functional>
#include <optional>

#include "core/loop.hpp"
#include "health/probe.hpp"

namespace cairn::test {

// Starts a probe and runs the loop until it reports or `deadline` passes.
inline std::optional<health::ProbeResult>
run_probe(Loop& loop, const std::function<health::ProbePtr(health::ProbeDone)>& start,
          std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::optional<health::ProbeResult> got;
    Timer watchdog(loop);
    watchdog.start(deadline, std::chrono::milliseconds(0), [&] { loop.stop(); });
    health::ProbePtr probe = start([&](health::ProbeResult r) {
        got = std::move(r);
        watchdog.stop();
        loop.stop();
    });
    loop.run();
    uv_run(loop.get(), UV_RUN_NOWAIT); // let close callbacks free the op
    return got;
}

// Runs the loop until `done()` is true or `deadline` passes; returns done().
inline bool run_until(Loop& loop, const std::function<bool()>& done,
                      std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    Timer poll(loop);
    Timer watchdog(loop);
    poll.start(std::chrono::milliseconds(1), std::chrono::milliseconds(5), [&] {
        if (done()) loop.stop();
    });
    watchdog.start(deadline, std::chrono::milliseconds(0), [&] { loop.stop(); });
    loop.run();
    return done();
}

} // namespace cairn::test
