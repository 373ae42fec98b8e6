#include <doctest/doctest.h>

#include <vector>

#include "core/timeouts.hpp"

using namespace cairn;
using namespace std::chrono_literals;

TEST_CASE("a timeout queue expires entries in the order they were started") {
    TimeoutQueue queue(100ms);
    TimeoutEntry a, b, c;
    queue.start(a, 0);
    queue.start(b, 10);
    queue.start(c, 20);
    CHECK(queue.size() == 3);
    CHECK(queue.next_deadline_ms() == 100);
    CHECK(queue.pop_expired(99) == nullptr);
    CHECK(queue.pop_expired(110) == &a);
    CHECK(queue.pop_expired(110) == &b);
    CHECK(queue.pop_expired(110) == nullptr);
    CHECK_FALSE(a.linked());
    CHECK(c.linked());
    CHECK(queue.next_deadline_ms() == 120);
}

TEST_CASE("restarting an entry moves it to the end, cancelling takes it out") {
    TimeoutQueue queue(100ms);
    TimeoutEntry a, b;
    queue.start(a, 0);
    queue.start(b, 10);
    queue.start(a, 50); // activity on a
    CHECK(queue.oldest() == &b);
    CHECK(queue.pop_expired(110) == &b);
    CHECK(queue.pop_expired(110) == nullptr);
    TimeoutQueue::cancel(a);
    CHECK(queue.empty());
    CHECK_FALSE(queue.next_deadline_ms().has_value());
}

TEST_CASE("start_if_idle keeps the first start; an entry moves between queues") {
    TimeoutQueue idle(1000ms), query(100ms);
    TimeoutEntry a;
    idle.start(a, 0);
    query.start_if_idle(a, 5);
    query.start_if_idle(a, 50); // later bytes of the same query: the clock keeps running
    CHECK(idle.empty());
    CHECK(a.queue() == &query);
    CHECK(a.started_ms() == 5);
    CHECK(query.pop_expired(105) == &a);
}

TEST_CASE("an entry destroyed while queued leaves the queue") {
    TimeoutQueue queue(10ms);
    {
        TimeoutEntry a;
        queue.start(a, 0);
        CHECK(queue.size() == 1);
    }
    CHECK(queue.empty());
}

TEST_CASE("an entry points back at what it belongs to") {
    int owner = 7;
    TimeoutEntry e(&owner);
    TimeoutQueue queue(1ms);
    queue.start(e, 0);
    TimeoutEntry* due = queue.pop_expired(1);
    REQUIRE(due != nullptr);
    CHECK(*static_cast<int*>(due->item) == 7);
}
