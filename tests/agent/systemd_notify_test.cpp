#include <doctest/doctest.h>

#include "agent/systemd_notify.hpp"

using namespace cairn::agent;
using std::chrono::milliseconds;

TEST_CASE("sd_notify: the messages of each state") {
    CHECK(ready_message("serving") == "READY=1\nSTATUS=serving");
    CHECK(reloading_message(1234567) == "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=1234567");
    CHECK(stopping_message() == "STOPPING=1\nSTATUS=stopping");
}

TEST_CASE("sd_notify: the watchdog pings at half of WatchdogSec") {
    CHECK(watchdog_ping_interval(0) == milliseconds(0));
    CHECK(watchdog_ping_interval(30'000'000) == milliseconds(15'000));
    CHECK(watchdog_ping_interval(200'000) == milliseconds(100));
    // Never 0 (a 0 repeat would stop the timer after one ping).
    CHECK(watchdog_ping_interval(1) == milliseconds(1));
}
