#pragma once
// Runs one check forever: every `interval` (the first run at a random point
// inside the first interval, later runs with +-5% jitter, so 10,000 checks
// registered at once do not start together and do not fall into step; start
// times are rounded up to a 50 ms grid so that nearby ones share a wakeup), one
// probe at a time, never overlapping itself; each result goes through the
// CheckMachine and then to the owner's callback. TTL checks have no probe:
// a timer expires them unless report_ttl() comes first.
//
// Main loop only. May be destroyed at any time, also from its own callback.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "core/loop.hpp"
#include "core/result.hpp"
#include "health/check_machine.hpp"
#include "health/curl_multi.hpp"
#include "health/http_probe.hpp"
#include "health/probe.hpp"
#include "registry/types.hpp"

namespace cairn::health {

// What all runners share: the loop, libcurl, randomness and the clock.
struct RunnerEnv {
    Loop& loop;
    CurlMulti& curl;
    std::mt19937_64& random;
    std::function<Now()> now;
};

class CheckRunner {
public:
    // Called after every result with whether the status changed.
    using Report = std::function<void(CheckRunner& runner, bool status_changed)>;

    CheckRunner(RunnerEnv& env, std::string instance_id, registry::CheckDefinition definition,
                registry::CheckState initial, Report report);
    ~CheckRunner();
    CheckRunner(const CheckRunner&) = delete;
    CheckRunner& operator=(const CheckRunner&) = delete;

    // Schedules the first run.
    void start();
    // A TTL check's heartbeat from the application (pass/warn/fail with an
    // optional note). An error if this is not a TTL check.
    Result<> report_ttl(registry::Health status, std::string note);

    [[nodiscard]] const std::string& instance_id() const { return instance_id_; }
    [[nodiscard]] const registry::CheckDefinition& definition() const { return definition_; }
    [[nodiscard]] const CheckMachine& machine() const { return machine_; }
    [[nodiscard]] std::uint64_t runs() const { return runs_; }
    [[nodiscard]] bool probing() const { return probe_ != nullptr; }
    // True when the last result was a TTL check's expiry (no report came in
    // time), not a report or a probe.
    [[nodiscard]] bool expired() const { return expired_; }
    // The last result before the thresholds: its outcome, and for a probe
    // how long it took (HTTP and TCP as measured; scripts start to exit).
    struct LastResult {
        registry::Health outcome = registry::Health::critical;
        std::optional<std::uint32_t> duration_us;
    };
    [[nodiscard]] const LastResult& last_result() const { return last_; }

private:
    void run();
    void on_result(ProbeResult result);
    void expire_ttl();
    void schedule(std::chrono::milliseconds delay);
    [[nodiscard]] std::chrono::milliseconds jittered_interval();

    RunnerEnv& env_;
    std::string instance_id_;
    registry::CheckDefinition definition_;
    CheckMachine machine_;
    Report report_;
    Timer timer_;
    std::unique_ptr<HttpRequest> http_; // HTTP checks; outlives probe_
    ProbePtr probe_;
    std::int64_t last_start_ms_ = 0; // monotonic
    std::uint64_t runs_ = 0;
    bool expired_ = false;
    LastResult last_;
};

} // namespace cairn::health
