#pragma once
// systemd's readiness protocol (sd_notify(3)) for the `Type=notify` unit in
// packaging/systemd/cairn.service: READY=1 once DNS and HTTP are listening,
// RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 when a stop
// begins, and WATCHDOG=1 from the main loop's timer at half of WatchdogSec,
// so a main loop that stops turning stops the pings and systemd restarts the
// agent. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
//
// The messages are built by the pure functions below; SystemdNotifier sends
// them with libsystemd's sd_notify(). Main thread only.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cairn {
class Loop;
class Timer;
} // namespace cairn

namespace cairn::agent {

// "READY=1\nSTATUS=<status>".
[[nodiscard]] std::string ready_message(std::string_view status);
// "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=<now>": systemd 253's
// Type=notify-reload needs the timestamp, and 252 ignores it.
[[nodiscard]] std::string reloading_message(std::uint64_t monotonic_usec);
// "STOPPING=1\nSTATUS=stopping".
[[nodiscard]] std::string stopping_message();
// How often to ping for a WatchdogSec of `watchdog_usec`: half of it (as
// sd_watchdog_enabled(3) advises), at least 1 ms; 0 when there is no watchdog.
[[nodiscard]] std::chrono::milliseconds watchdog_ping_interval(std::uint64_t watchdog_usec);

class SystemdNotifier {
public:
    explicit SystemdNotifier(Loop& loop);
    ~SystemdNotifier();
    SystemdNotifier(const SystemdNotifier&) = delete;
    SystemdNotifier& operator=(const SystemdNotifier&) = delete;

    // Serving (at start, and at the end of every reload, failed or not), and
    // from the first READY on, the watchdog pings when systemd asked for them.
    void ready(std::string_view status);
    void reloading();
    // Once per process: the first call sends, later ones do nothing.
    void stopping();
    // Stops the watchdog pings (the loop is about to stop).
    void stop_watchdog();

private:
    void send(const std::string& message);

    Loop& loop_;
    std::unique_ptr<Timer> watchdog_;
    std::chrono::milliseconds ping_interval_{0};
    bool stopping_ = false;
};

} // namespace cairn::agent
