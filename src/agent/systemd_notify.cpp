#include "agent/systemd_notify.hpp"

#include <ctime>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include "core/log.hpp"
#include "core/loop.hpp"

namespace cairn::agent {

std::string ready_message(std::string_view status) {
    return fmt::format("READY=1\nSTATUS={}", status);
}

std::string reloading_message(std::uint64_t monotonic_usec) {
    return fmt::format("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC={}", monotonic_usec);
}

std::string stopping_message() {
    return "STOPPING=1\nSTATUS=stopping";
}

std::chrono::milliseconds watchdog_ping_interval(std::uint64_t watchdog_usec) {
    if (watchdog_usec == 0) return std::chrono::milliseconds(0);
    auto half_ms = static_cast<std::int64_t>(watchdog_usec / 2000);
    return std::chrono::milliseconds(half_ms > 0 ? half_ms : 1);
}

SystemdNotifier::SystemdNotifier(Loop& loop)
    : loop_(loop) {
    std::uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is ours.
    if (sd_watchdog_enabled(0, &usec) > 0) ping_interval_ = watchdog_ping_interval(usec);
}

SystemdNotifier::~SystemdNotifier() = default;

void SystemdNotifier::send(const std::string& message) {
    // 0: no NOTIFY_SOCKET (not under systemd); < 0: the socket refused it.
    if (int r = sd_notify(0, message.c_str()); r < 0)
        log::warn("systemd.notify_failed", {{"error", fmt::format("errno {}", -r)}});
}

void SystemdNotifier::ready(std::string_view status) {
    send(ready_message(status));
    if (ping_interval_.count() == 0 || watchdog_ || stopping_) return;
    watchdog_ = std::make_unique<Timer>(loop_);
    // The timer runs on the main loop: while the loop turns, systemd hears
    // from it; when the loop hangs, the pings stop and WatchdogSec fires.
    send("WATCHDOG=1");
    watchdog_->start(ping_interval_, ping_interval_, [this] { send("WATCHDOG=1"); });
}

void SystemdNotifier::reloading() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    send(reloading_message(static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u +
                           static_cast<std::uint64_t>(now.tv_nsec) / 1000u));
}

void SystemdNotifier::stopping() {
    if (stopping_) return;
    stopping_ = true;
    send(stopping_message());
}

void SystemdNotifier::stop_watchdog() {
    watchdog_.reset();
}

} // namespace cairn::agent
