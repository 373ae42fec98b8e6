#include "health/check_machine.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "registry/load.hpp"

namespace cairn::health {

using registry::Health;

namespace {

bool healthy(Health h) {
    return h == Health::passing || h == Health::warning;
}

} // namespace

void truncate_output(std::string& text) {
    if (text.size() <= max_output_bytes) return;
    std::size_t n = max_output_bytes;
    // Step back over continuation bytes (10xxxxxx) to a sequence start.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    text.resize(n);
}

CheckMachine::CheckMachine(const registry::CheckDefinition& definition,
                           registry::CheckState initial, EjectionPolicy policy, Now now)
    : success_before_passing_(std::max<std::uint32_t>(definition.success_before_passing, 1))
    , failures_before_warning_(std::max<std::uint32_t>(definition.failures_before_warning, 1))
    , failures_before_critical_(std::max<std::uint32_t>(definition.failures_before_critical, 1))
    , deregister_critical_after_ms_(definition.deregister_critical_after_ms)
    , state_(std::move(initial))
    , ejection_(policy)
    , critical_since_ms_(now.mono_ms)
    , load_stale_after_ms_(registry::load_stale_after_ms(definition))
    , load_at_ms_(now.mono_ms)
    , has_latency_(state_.latency_us != 0) {
    // A check that starts healthy (restored, or configured so) was admitted
    // at registration; that is not a readmission.
    if (healthy(state_.status)) ejection_.admitted(now.mono_ms);
}

Health CheckMachine::next_status(Health observed, std::int64_t mono_ms) const {
    if (healthy(observed)) {
        if (ejection_.holds(mono_ms)) return Health::critical;
        if (healthy(state_.status) || successes_ >= success_before_passing_) return observed;
        return state_.status;
    }
    if (failures_ >= failures_before_critical_) return Health::critical;
    if (healthy(state_.status) && failures_ >= failures_before_warning_) return Health::warning;
    return state_.status;
}

bool CheckMachine::observe(ProbeResult result, Now now) {
    if (result.status == Health::maintenance)
        result.status = Health::critical; // not a probe outcome; never trust it as one
    if (healthy(result.status)) {
        ++successes_;
        failures_ = 0;
    } else {
        ++failures_;
        successes_ = 0;
        ejection_.failed(now.mono_ms);
    }
    if (result.latency_us) update_latency(*result.latency_us);
    update_load(result.load ? result.load : registry::load_in_output(result.output), now.mono_ms);

    Health before = state_.status;
    Health after = next_status(result.status, now.mono_ms);
    if (!healthy(before) && healthy(after)) ejection_.admitted(now.mono_ms);
    just_ejected_ = healthy(before) && after == Health::critical && ejection_.fell(now.mono_ms);
    if (healthy(after)) ejection_.stayed_healthy(now.mono_ms);

    if (ejection_.holds(now.mono_ms)) {
        state_.output =
            fmt::format("ejected for flapping (ejection {}, held out until {} ms without a "
                        "failure); last probe: {}",
                        ejection_.level(), ejection_.ejection_ms(), result.output);
    } else {
        state_.output = std::move(result.output);
    }
    truncate_output(state_.output);

    if (after == before) return false;
    state_.status = after;
    state_.last_change_ms = now.wall_ms;
    if (after == Health::critical) critical_since_ms_ = now.mono_ms;
    return true;
}

bool CheckMachine::should_deregister(std::int64_t mono_ms) const {
    return deregister_critical_after_ms_ > 0 && state_.status == Health::critical &&
           mono_ms - critical_since_ms_ >= deregister_critical_after_ms_;
}

void CheckMachine::update_load(std::optional<std::uint32_t> reported, std::int64_t mono_ms) {
    if (reported) {
        state_.load = reported;
        load_at_ms_ = mono_ms;
    } else if (state_.load && mono_ms - load_at_ms_ >= load_stale_after_ms_) {
        state_.load.reset(); // stale: unknown, as if never reported
    }
}

void CheckMachine::update_latency(std::uint32_t sample_us) {
    // Exponentially weighted moving average, weight 1/4 on the new sample:
    // steady enough to rank instances, quick enough to follow a slowdown.
    if (!has_latency_) {
        state_.latency_us = sample_us;
        has_latency_ = true;
        return;
    }
    std::uint64_t avg = (3 * static_cast<std::uint64_t>(state_.latency_us) + sample_us) / 4;
    state_.latency_us = static_cast<std::uint32_t>(avg);
}

} // namespace cairn::health
