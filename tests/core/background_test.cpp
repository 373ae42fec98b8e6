#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "core/background.hpp"

using namespace cairn;
using namespace std::chrono_literals;

TEST_CASE("background work runs on another thread and its continuation on the loop") {
    Loop loop;
    Background background(loop);
    std::thread::id work_thread, continuation_thread;
    int result = 0;
    REQUIRE(background.start([&] {
        work_thread = std::this_thread::get_id();
        int computed = 6 * 7;
        return [&, computed] {
            continuation_thread = std::this_thread::get_id();
            result = computed;
        };
    }));
    CHECK(background.running());
    loop.run(); // returns once the continuation ran: the idle Background holds no handle
    CHECK(result == 42);
    CHECK(work_thread != std::this_thread::get_id());
    CHECK(continuation_thread == std::this_thread::get_id());
    CHECK_FALSE(background.running());
}

TEST_CASE("the loop keeps running while the work runs") {
    // The work waits for a timer of the loop: were it run on the loop, the
    // timer could not fire and the wait would give up.
    Loop loop;
    Background background(loop);
    std::promise<void> timer_fired;
    std::future<void> fired = timer_fired.get_future();
    bool waited = false, continued = false;
    Timer timer(loop);
    timer.start(1ms, 0ms, [&] { timer_fired.set_value(); });
    REQUIRE(background.start([&] {
        waited = fired.wait_for(10s) == std::future_status::ready;
        return [&] { continued = true; };
    }));
    loop.run();
    CHECK(waited);
    CHECK(continued);
}

TEST_CASE("one piece of work at a time; the continuation may start the next") {
    Loop loop;
    Background background(loop);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    int ran = 0;
    REQUIRE(background.start([&, released] {
        released.wait();
        return [&] {
            ++ran;
            auto again = background.start([&] { return [&] { ++ran; }; });
            CHECK(again);
        };
    }));
    auto second = background.start([&] { return [&] { ran += 100; }; });
    REQUIRE_FALSE(second);
    CHECK(second.error().message == "earlier work is still running");
    release.set_value();
    loop.run();
    CHECK(ran == 2);
}

TEST_CASE("destroyed while its work runs: waits for the work, drops the continuation") {
    Loop loop;
    std::atomic<bool> work_done = false;
    bool continued = false;
    {
        Background background(loop);
        std::promise<void> started;
        std::future<void> work_started = started.get_future();
        REQUIRE(background.start([&] {
            started.set_value();
            std::this_thread::sleep_for(20ms); // the destructor starts meanwhile
            work_done = true;
            return [&] { continued = true; };
        }));
        work_started.wait();
    }
    CHECK(work_done);
    loop.run(); // closes the wake-up handle; nothing else runs
    CHECK_FALSE(continued);
}
