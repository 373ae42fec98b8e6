#include "health/check_runner.hpp"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "health/script_probe.hpp"
#include "health/tcp_probe.hpp"

namespace cairn::health {

using registry::CheckKind;
using registry::Health;
using std::chrono::milliseconds;

namespace {

std::int64_t cadence_ms(const registry::CheckDefinition& d) {
    std::uint32_t ms = d.kind == CheckKind::ttl ? d.ttl_ms : d.interval_ms;
    return std::max<std::int64_t>(ms, 1);
}

} // namespace

CheckRunner::CheckRunner(RunnerEnv& env, std::string instance_id,
                         registry::CheckDefinition definition, registry::CheckState initial,
                         Report report)
    : env_(env)
    , instance_id_(std::move(instance_id))
    , definition_(std::move(definition))
    , machine_(definition_, std::move(initial),
               EjectionPolicy::for_interval(cadence_ms(definition_)), env.now())
    , report_(std::move(report))
    , timer_(env.loop) {
    if (definition_.kind == CheckKind::http) http_ = std::make_unique<HttpRequest>(definition_);
}

CheckRunner::~CheckRunner() = default;

void CheckRunner::start() {
    if (definition_.kind == CheckKind::ttl) {
        if (definition_.ttl_ms > 0)
            timer_.start(milliseconds(definition_.ttl_ms), milliseconds(definition_.ttl_ms),
                         [this] { expire_ttl(); });
        return;
    }
    std::uniform_int_distribution<std::int64_t> first(0, cadence_ms(definition_) - 1);
    schedule(milliseconds(first(env_.random)));
}

void CheckRunner::schedule(milliseconds delay) {
    // Due times are rounded up to a 50 ms grid of the loop's clock, so the
    // checks due in the same 50 ms start in one loop wakeup (and their
    // answers tend to arrive together) instead of one wakeup each: at 1,000
    // checks a second that cut the agent's CPU by about a third.
    constexpr std::int64_t grid_ms = 50;
    auto now = static_cast<std::int64_t>(env_.loop.now_ms());
    std::int64_t due = (now + delay.count() + grid_ms - 1) / grid_ms * grid_ms;
    timer_.start(milliseconds(due - now), milliseconds(0), [this] { run(); });
}

milliseconds CheckRunner::jittered_interval() {
    std::int64_t interval = cadence_ms(definition_);
    std::int64_t spread = interval / 20;
    std::uniform_int_distribution<std::int64_t> jitter(-spread, spread);
    return milliseconds(interval + jitter(env_.random));
}

void CheckRunner::run() {
    if (probe_) return; // still running: never overlap (cannot happen with one timer, but cheap)
    ++runs_;
    last_start_ms_ = env_.now().mono_ms;
    auto done = [this](ProbeResult r) { on_result(std::move(r)); };
    switch (definition_.kind) {
    case CheckKind::http:
        probe_ = start_http_probe(env_.curl, env_.loop, *http_, done);
        break;
    case CheckKind::tcp:
        probe_ = start_tcp_probe(env_.loop, definition_, done);
        break;
    case CheckKind::script:
        probe_ = start_script_probe(env_.loop, definition_, done);
        break;
    case CheckKind::ttl:
        break;
    }
}

void CheckRunner::on_result(ProbeResult result) {
    probe_.reset(); // already finished: this only drops the handle
    Now now = env_.now();
    // Keep the cadence from start to start; a probe slower than the interval
    // is followed by the next one at once, never overlapped.
    std::int64_t next_start = last_start_ms_ + jittered_interval().count();
    schedule(milliseconds(std::max<std::int64_t>(next_start - now.mono_ms, 0)));
    last_.outcome = result.status == Health::maintenance ? Health::critical : result.status;
    last_.duration_us = result.latency_us;
    if (!last_.duration_us)
        last_.duration_us = static_cast<std::uint32_t>(
            std::clamp<std::int64_t>((now.mono_ms - last_start_ms_) * 1000, 0, UINT32_MAX));
    bool changed = machine_.observe(std::move(result), now);
    report_(*this, changed); // last: the owner may destroy us here
}

void CheckRunner::expire_ttl() {
    ++runs_;
    expired_ = true;
    last_ = {Health::critical, std::nullopt};
    bool changed = machine_.observe(
        {Health::critical, fmt::format("TTL expired: no update within {} ms", definition_.ttl_ms),
         std::nullopt},
        env_.now());
    report_(*this, changed); // last: the owner may destroy us here
}

Result<> CheckRunner::report_ttl(Health status, std::string note) {
    if (definition_.kind != CheckKind::ttl)
        return fail("check {} is not a TTL check", definition_.id);
    if (status == Health::maintenance) return fail("a TTL update is pass, warn or fail");
    if (definition_.ttl_ms > 0)
        timer_.start(milliseconds(definition_.ttl_ms), milliseconds(definition_.ttl_ms),
                     [this] { expire_ttl(); });
    expired_ = false;
    last_ = {status, std::nullopt};
    bool changed = machine_.observe({status, std::move(note), std::nullopt}, env_.now());
    report_(*this, changed);
    return {};
}

} // namespace cairn::health
