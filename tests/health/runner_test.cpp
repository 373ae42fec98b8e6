// CheckRunner on a real loop: cadence, no overlap, TTL expiry.
#include <chrono>
#include <random>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "health/check_runner.hpp"
#include "probe_support.hpp"
#include "test_server.hpp"

using namespace cairn;
using namespace cairn::health;
using namespace std::chrono_literals;
using registry::CheckKind;
using registry::Health;

namespace {

struct RunnerFixture {
    Loop loop;
    CurlMulti curl{loop};
    std::mt19937_64 random{42};
    RunnerEnv env{loop, curl, random, [this] {
                      auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch());
                      return Now{static_cast<std::int64_t>(loop.now_ms()), wall.count()};
                  }};
    std::vector<std::pair<Health, bool>> reports;

    std::unique_ptr<CheckRunner> runner(registry::CheckDefinition d) {
        return std::make_unique<CheckRunner>(
            env, "web", std::move(d), registry::CheckState{}, [this](CheckRunner& r, bool changed) {
                reports.emplace_back(r.machine().state().status, changed);
            });
    }
};

} // namespace

TEST_CASE("runner: an HTTP check runs every interval and turns passing") {
    test::TestServer server;
    server.respond(200, "ok");
    RunnerFixture f;
    registry::CheckDefinition d;
    d.id = "web:1";
    d.kind = CheckKind::http;
    d.target = server.url();
    d.interval_ms = 50;
    d.timeout_ms = 1000;
    auto r = f.runner(d);
    r->start();
    CHECK(test::run_until(f.loop, [&] { return f.reports.size() >= 4; }));
    CHECK(f.reports.front() == std::pair{Health::passing, true});
    CHECK(f.reports.back() == std::pair{Health::passing, false});
    CHECK(server.connections >= 4);
}

TEST_CASE("runner: a check slower than its interval never overlaps itself") {
    test::TestServer server;
    server.hang();
    RunnerFixture f;
    registry::CheckDefinition d;
    d.id = "web:1";
    d.kind = CheckKind::http;
    d.target = server.url();
    d.interval_ms = 20;
    d.timeout_ms = 150;
    auto r = f.runner(d);
    r->start();
    CHECK(test::run_until(f.loop, [&] { return f.reports.size() >= 3; }));
    CHECK(server.max_open == 1);
    for (auto& [status, changed] : f.reports) CHECK(status == Health::critical);
}

TEST_CASE("runner: a TTL check passes on a heartbeat and expires without one") {
    RunnerFixture f;
    registry::CheckDefinition d;
    d.id = "job:1";
    d.kind = CheckKind::ttl;
    d.ttl_ms = 100;
    auto r = f.runner(d);
    r->start();
    REQUIRE(r->report_ttl(Health::passing, "alive"));
    CHECK(r->machine().state().status == Health::passing);
    CHECK(r->machine().state().output == "alive");
    REQUIRE(r->report_ttl(Health::warning, "busy"));
    CHECK(r->machine().state().status == Health::warning);
    CHECK(test::run_until(
        f.loop, [&] { return r->machine().state().status == Health::critical; }, 5s));
    CHECK(r->machine().state().output.find("TTL expired") != std::string::npos);
    CHECK_FALSE(r->report_ttl(Health::maintenance, ""));
}

TEST_CASE("runner: heartbeats within the TTL keep it passing") {
    RunnerFixture f;
    registry::CheckDefinition d;
    d.id = "job:1";
    d.kind = CheckKind::ttl;
    d.ttl_ms = 300;
    auto r = f.runner(d);
    r->start();
    REQUIRE(r->report_ttl(Health::passing, ""));
    Timer beat(f.loop);
    int beats = 0;
    beat.start(50ms, 50ms, [&] {
        ++beats;
        (void)r->report_ttl(Health::passing, "");
    });
    test::run_until(f.loop, [&] { return beats >= 20; });
    CHECK(r->machine().state().status == Health::passing);
    for (auto& [status, changed] : f.reports) CHECK(status == Health::passing);
}

TEST_CASE("runner: only TTL checks take heartbeats") {
    RunnerFixture f;
    registry::CheckDefinition d;
    d.id = "web:1";
    d.kind = CheckKind::tcp;
    d.target = "127.0.0.1:1";
    auto r = f.runner(d);
    auto result = r->report_ttl(Health::passing, "");
    REQUIRE_FALSE(result);
    CHECK(result.error().message.find("not a TTL check") != std::string::npos);
}

TEST_CASE("runner: first runs are spread over the interval") {
    test::TestServer server;
    RunnerFixture f;
    registry::CheckDefinition d;
    d.kind = CheckKind::tcp;
    d.target = fmt::format("127.0.0.1:{}", server.port());
    d.interval_ms = 400;
    std::vector<std::unique_ptr<CheckRunner>> runners;
    std::vector<std::int64_t> first_report_ms;
    auto start_ms = static_cast<std::int64_t>(f.loop.now_ms());
    for (int i = 0; i < 40; ++i) {
        d.id = fmt::format("c{}", i);
        runners.push_back(std::make_unique<CheckRunner>(
            f.env, "x", d, registry::CheckState{}, [&, i](CheckRunner& r, bool) {
                if (r.runs() == 1)
                    first_report_ms.push_back(static_cast<std::int64_t>(f.loop.now_ms()) -
                                              start_ms);
                (void)i;
            }));
        runners.back()->start();
    }
    CHECK(test::run_until(f.loop, [&] { return first_report_ms.size() == 40; }));
    int early = 0, late = 0;
    for (auto t : first_report_ms) {
        early += t < 200;
        late += t >= 200;
    }
    // Uniform over 400 ms: both halves get some (p of failure ~ 2 * 2^-40).
    CHECK(early > 0);
    CHECK(late > 0);
}
