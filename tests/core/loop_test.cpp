#include <doctest/doctest.h>

#include <memory>

#include "core/loop.hpp"

using namespace cairn;
using namespace std::chrono_literals;

TEST_CASE("a timer may destroy itself from its own callback") {
    Loop loop;
    auto timer = std::make_unique<Timer>(loop);
    int fired = 0;
    timer->start(0ms, 0ms, [&] {
        ++fired;
        timer.reset();
    });
    loop.run();
    CHECK(fired == 1);
    CHECK(timer == nullptr);
}

TEST_CASE("a repeating timer stops when asked") {
    Loop loop;
    Timer timer(loop);
    int fired = 0;
    timer.start(0ms, 1ms, [&] {
        if (++fired == 3) timer.stop();
    });
    loop.run();
    CHECK(fired == 3);
    CHECK_FALSE(timer.active());
}

TEST_CASE("a timer tells the time left until it fires, without running the loop") {
    Loop loop;
    Timer timer(loop);
    CHECK(timer.due_in() == 0ms);
    timer.start(250ms, 0ms, [] {});
    CHECK(timer.due_in() == 250ms); // the loop's clock has not moved
    timer.stop();
    CHECK(timer.due_in() == 0ms);
}

TEST_CASE("async wakes the loop") {
    Loop loop;
    int woke = 0;
    std::unique_ptr<Async> async;
    async = std::make_unique<Async>(loop, [&] {
        ++woke;
        async.reset();
    });
    async->send();
    loop.run();
    CHECK(woke == 1);
}
