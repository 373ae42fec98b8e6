// The upstream health state machine: timeouts that adapt, down and back,
// policies. Pure: the clock is passed in.

#include <doctest/doctest.h>

#include <set>

#include "dns/forward/upstreams.hpp"

using namespace cairn::dns::forward;
using namespace std::chrono_literals;

namespace {

HealthSettings settings() {
    HealthSettings s;
    s.initial_rto = 400ms;
    s.min_rto = 100ms;
    s.max_rto = 2000ms;
    s.failures_before_down = 3;
    s.probe_interval = 1000ms;
    return s;
}

const Clock::time_point t0{};

} // namespace

TEST_CASE("rtt: the first timeout is initial_rto, then srtt + 4 rttvar within bounds") {
    HealthSettings s = settings();
    RttEstimator r;
    CHECK(r.timeout(s) == 400ms);
    r.sample(200ms); // srtt 200, rttvar 100: 600
    CHECK(r.timeout(s) == 600ms);
    for (int i = 0; i < 50; ++i) r.sample(200ms); // steady: rttvar shrinks to nothing
    CHECK(r.timeout(s) >= 200ms);
    CHECK(r.timeout(s) <= 210ms);
    RttEstimator fast;
    for (int i = 0; i < 10; ++i) fast.sample(100us);
    CHECK(fast.timeout(s) == 100ms); // min_rto
    RttEstimator slow;
    slow.sample(5s);
    CHECK(slow.timeout(s) == 2000ms); // max_rto
}

TEST_CASE("rtt: a timeout doubles the next one, an answer resets that") {
    HealthSettings s = settings();
    RttEstimator r;
    r.sample(150ms); // 150 + 4 * 75 = 450
    CHECK(r.timeout(s) == 450ms);
    r.back_off();
    CHECK(r.timeout(s) == 900ms);
    r.back_off();
    CHECK(r.timeout(s) == 1800ms);
    r.back_off();
    CHECK(r.timeout(s) == 2000ms);
    r.sample(150ms);
    CHECK(r.timeout(s) < 900ms);
}

TEST_CASE("upstreams: failures in a row take one down; it is probed and comes back") {
    UpstreamSet set(2, Policy::sequential, settings(), 1);
    std::vector<unsigned> order;
    set.choose(order);
    CHECK(order == std::vector<unsigned>{0, 1});
    set.timed_out(0, t0);
    set.answered(0, 1ms, t0); // an answer in between: the count starts again
    set.timed_out(0, t0);
    set.failed(0, t0);
    CHECK_FALSE(set.health(0).down);
    set.timed_out(0, t0 + 10ms);
    CHECK(set.health(0).down);
    set.choose(order);
    CHECK(order == std::vector<unsigned>{1});
    CHECK_FALSE(set.all_down());

    // Probed after probe_interval, one probe at a time.
    REQUIRE(set.next_probe_at());
    CHECK(*set.next_probe_at() == t0 + 10ms + 1000ms);
    CHECK_FALSE(set.take_probe(t0 + 500ms));
    auto probe = set.take_probe(t0 + 1010ms);
    REQUIRE(probe);
    CHECK(*probe == 0);
    CHECK_FALSE(set.take_probe(t0 + 1010ms));
    CHECK_FALSE(set.next_probe_at());
    set.probe_failed(0, t0 + 1500ms);
    CHECK(set.health(0).down);
    CHECK(*set.next_probe_at() == t0 + 2500ms);
    REQUIRE(set.take_probe(t0 + 2500ms));
    set.answered(0, 2ms, t0 + 2502ms);
    CHECK_FALSE(set.health(0).down);
    set.choose(order);
    CHECK(order == std::vector<unsigned>{0, 1});
}

TEST_CASE("upstreams: all down, and none left to choose") {
    UpstreamSet set(2, Policy::random, settings(), 7);
    for (unsigned i = 0; i < 2; ++i)
        for (int k = 0; k < 3; ++k) set.timed_out(i, t0);
    CHECK(set.all_down());
    std::vector<unsigned> order;
    set.choose(order);
    CHECK(order.empty());
    UpstreamSet none(0, Policy::sequential, settings(), 1);
    CHECK(none.all_down());
}

TEST_CASE("upstreams: random spreads the first choice, fastest picks the lowest srtt") {
    UpstreamSet random(3, Policy::random, settings(), 42);
    std::set<unsigned> firsts;
    std::vector<unsigned> order;
    for (int i = 0; i < 100; ++i) {
        random.choose(order);
        REQUIRE(order.size() == 3);
        firsts.insert(order[0]);
    }
    CHECK(firsts.size() == 3);

    UpstreamSet fastest(3, Policy::fastest, settings(), 42);
    fastest.answered(0, 30ms, t0);
    fastest.answered(1, 5ms, t0);
    fastest.answered(2, 80ms, t0);
    for (int i = 0; i < 20; ++i) {
        fastest.choose(order);
        CHECK(order == std::vector<unsigned>{1, 0, 2});
    }
    // The fast one slows down: the others come first.
    for (int i = 0; i < 30; ++i) fastest.answered(1, 200ms, t0);
    fastest.choose(order);
    CHECK(order.front() == 0);
}

TEST_CASE("upstreams: policy names") {
    CHECK(*parse_policy("sequential") == Policy::sequential);
    CHECK(*parse_policy("random") == Policy::random);
    CHECK(*parse_policy("fastest") == Policy::fastest);
    CHECK_FALSE(parse_policy("round_robin"));
    CHECK(to_string(Policy::fastest) == "fastest");
}
