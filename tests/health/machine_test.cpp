// The check state machine and ejection back-off, driven by a fake clock.
#include <string>

#include <doctest/doctest.h>

#include "health/check_machine.hpp"
#include "health/check_stats.hpp"
#include "health/http_probe.hpp"

using namespace cairn;
using namespace cairn::health;
using registry::Health;

namespace {

struct Fixture {
    registry::CheckDefinition definition;
    EjectionPolicy policy{1'000, 4'000, 10'000};
    std::int64_t t = 1'000'000; // monotonic ms; wall = t + epoch offset

    Now now() const { return {t, t + 1'700'000'000'000}; }
    CheckMachine machine(Health initial = Health::critical) const {
        registry::CheckState state;
        state.status = initial;
        return CheckMachine(definition, state, policy, now());
    }
};

ProbeResult pass(std::string out = "ok") {
    return {Health::passing, std::move(out), std::nullopt};
}
ProbeResult warn(std::string out = "meh") {
    return {Health::warning, std::move(out), std::nullopt};
}
ProbeResult fail(std::string out = "down") {
    return {Health::critical, std::move(out), std::nullopt};
}

} // namespace

TEST_CASE("a new check is critical and passes after success_before_passing successes") {
    Fixture f;
    f.definition.success_before_passing = 3;
    auto m = f.machine();
    CHECK(m.state().status == Health::critical);
    CHECK_FALSE(m.observe(pass(), f.now()));
    CHECK_FALSE(m.observe(pass(), f.now()));
    CHECK(m.state().status == Health::critical);
    f.t += 10;
    CHECK(m.observe(pass("hello"), f.now()));
    CHECK(m.state().status == Health::passing);
    CHECK(m.state().output == "hello");
    CHECK(m.state().last_change_ms == f.now().wall_ms);
}

TEST_CASE("a failure in between restarts the success count") {
    Fixture f;
    f.definition.success_before_passing = 2;
    auto m = f.machine();
    m.observe(pass(), f.now());
    m.observe(fail(), f.now());
    m.observe(pass(), f.now());
    CHECK(m.state().status == Health::critical);
    m.observe(pass(), f.now());
    CHECK(m.state().status == Health::passing);
}

TEST_CASE("failures_before_warning then failures_before_critical") {
    Fixture f;
    f.definition.failures_before_warning = 2;
    f.definition.failures_before_critical = 4;
    auto m = f.machine(Health::passing);
    m.observe(fail(), f.now());
    CHECK(m.state().status == Health::passing);
    CHECK(m.observe(fail(), f.now()));
    CHECK(m.state().status == Health::warning);
    m.observe(fail(), f.now());
    CHECK(m.state().status == Health::warning);
    CHECK(m.observe(fail(), f.now()));
    CHECK(m.state().status == Health::critical);
    // One success is enough to come back (success_before_passing = 1).
    CHECK(m.observe(pass(), f.now()));
    CHECK(m.state().status == Health::passing);
}

TEST_CASE("a success resets the failure count") {
    Fixture f;
    f.definition.failures_before_critical = 2;
    auto m = f.machine(Health::passing);
    for (int i = 0; i < 10; ++i) {
        m.observe(fail(), f.now());
        m.observe(pass(), f.now());
    }
    CHECK(m.state().status == Health::passing);
}

TEST_CASE("a critical check stays critical below failures_before_critical, never turns warning") {
    Fixture f;
    f.definition.failures_before_warning = 1;
    f.definition.failures_before_critical = 3;
    auto m = f.machine();
    m.observe(fail(), f.now());
    CHECK(m.state().status == Health::critical);
}

TEST_CASE("a warning result is served as warning; healthy follows passing and warning at once") {
    Fixture f;
    f.definition.success_before_passing = 2;
    auto m = f.machine();
    m.observe(warn(), f.now());
    CHECK(m.state().status == Health::critical);
    m.observe(warn(), f.now());
    CHECK(m.state().status == Health::warning);
    m.observe(pass(), f.now());
    CHECK(m.state().status == Health::passing);
    m.observe(warn(), f.now());
    CHECK(m.state().status == Health::warning);
}

TEST_CASE(
    "the first fall after registration is not an ejection; a fall soon after readmission is") {
    Fixture f;
    auto m = f.machine();
    m.observe(pass(), f.now()); // admitted (first time)
    f.t += 500;
    m.observe(fail(), f.now()); // fell: not a readmission before it
    CHECK(m.state().status == Health::critical);
    CHECK(m.ejection().level() == 0);
    CHECK_FALSE(m.just_ejected());
    f.t += 500;
    m.observe(pass(), f.now()); // readmitted at once
    CHECK(m.state().status == Health::passing);
    f.t += 500;
    m.observe(fail(), f.now()); // within probation: ejected
    CHECK(m.just_ejected());
    CHECK(m.ejection().level() == 1);
    CHECK(m.ejected(f.t));
    // Passing probes inside the failure-free window do not readmit it.
    for (int i = 0; i < 9; ++i) {
        f.t += 100;
        m.observe(pass(), f.now());
        CHECK(m.state().status == Health::critical);
        CHECK_FALSE(m.just_ejected()); // counted once, when it happened
    }
    CHECK(m.state().output.find("ejected") != std::string::npos);
    f.t += 100; // 1000 ms after the last failure
    CHECK(m.observe(pass(), f.now()));
    CHECK(m.state().status == Health::passing);
    CHECK(m.state().output == "ok");
}

TEST_CASE("ejection time doubles on each ejection up to the cap") {
    Fixture f; // base 1 s, cap 4 s
    auto m = f.machine();
    m.observe(pass(), f.now());
    f.t += 100;
    m.observe(fail(), f.now());
    std::vector<std::int64_t> held;
    for (int round = 0; round < 5; ++round) {
        // Readmit as soon as allowed, then fail at once.
        std::int64_t failed_at = f.t;
        while (true) {
            f.t += 10;
            m.observe(pass(), f.now());
            if (m.state().status == Health::passing) break;
            REQUIRE(f.t - failed_at < 100'000);
        }
        if (round > 0) held.push_back(f.t - failed_at);
        f.t += 10;
        m.observe(fail(), f.now());
        CHECK(m.state().status == Health::critical);
    }
    // Round 0 readmits after one probe (no ejection yet); then 1 s, 2 s, 4 s, 4 s.
    REQUIRE(held.size() == 4);
    CHECK(held[0] == 1'000);
    CHECK(held[1] == 2'000);
    CHECK(held[2] == 4'000);
    CHECK(held[3] == 4'000);
    CHECK(m.ejection().level() == 5);
    CHECK(m.ejection().ejection_ms() == 4'000);
}

TEST_CASE("a failure while ejected restarts the failure-free window") {
    Fixture f;
    auto m = f.machine();
    m.observe(pass(), f.now());
    m.observe(fail(), f.now());
    m.observe(pass(), f.now());
    m.observe(fail(), f.now()); // ejected, 1 s
    f.t += 900;
    m.observe(fail(), f.now());
    f.t += 900;
    m.observe(pass(), f.now());
    CHECK(m.state().status == Health::critical);
    f.t += 100;
    m.observe(pass(), f.now());
    CHECK(m.state().status == Health::passing);
    CHECK(m.ejection().level() == 1); // a restart of the window is not a new ejection
}

TEST_CASE("back-off decays by one step per stable probation period") {
    Fixture f; // probation 10 s
    auto m = f.machine();
    m.observe(pass(), f.now());
    for (int i = 0; i < 3; ++i) { // three quick ejections
        m.observe(fail(), f.now());
        f.t += 5'000;
        m.observe(pass(), f.now());
        REQUIRE(m.state().status == Health::passing);
    }
    CHECK(m.ejection().level() == 2);
    for (int s = 0; s < 25; ++s) { // 25 s of passing probes
        f.t += 1'000;
        m.observe(pass(), f.now());
    }
    CHECK(m.ejection().level() == 0);
    // Fully forgiven and past probation: a fall is an ordinary fall.
    m.observe(fail(), f.now());
    CHECK_FALSE(m.ejected(f.t));
}

TEST_CASE("a flapping target (up 1 s, down 1 s) does not flap") {
    Fixture f;
    f.definition.interval_ms = 250;
    f.policy = EjectionPolicy::for_interval(250); // base 1 s, probation 2.5 s
    auto m = f.machine();
    int changes_after_warmup = 0;
    for (int probe = 0; probe < 4 * 120; ++probe) { // 120 s, 4 probes a second
        bool up = (probe / 4) % 2 == 0;
        bool changed = m.observe(up ? pass() : fail(), f.now());
        if (f.t >= 1'000'000 + 6'000 && changed) // after the second fall
            ++changes_after_warmup;
        f.t += 250;
    }
    CHECK(changes_after_warmup == 0);
    CHECK(m.state().status == Health::critical);
    // Once it settles, it comes back.
    for (int probe = 0; probe < 40 && m.state().status != Health::passing; ++probe) {
        m.observe(pass(), f.now());
        f.t += 250;
    }
    CHECK(m.state().status == Health::passing);
}

TEST_CASE("deregister_critical_after counts from the moment the check turned critical") {
    Fixture f;
    f.definition.deregister_critical_after_ms = 5'000;
    auto m = f.machine(Health::passing);
    CHECK_FALSE(m.should_deregister(f.t));
    m.observe(fail(), f.now());
    f.t += 4'999;
    m.observe(fail(), f.now());
    CHECK_FALSE(m.should_deregister(f.t));
    f.t += 1;
    CHECK(m.should_deregister(f.t));
    m.observe(pass(), f.now());
    CHECK_FALSE(m.should_deregister(f.t + 100'000));
}

TEST_CASE("a check registered critical that never passes is deregistered after the period") {
    Fixture f;
    f.definition.deregister_critical_after_ms = 1'000;
    auto m = f.machine();
    CHECK_FALSE(m.should_deregister(f.t + 999));
    CHECK(m.should_deregister(f.t + 1'000));
}

TEST_CASE("without deregister_critical_after nothing is deregistered") {
    Fixture f;
    auto m = f.machine();
    CHECK_FALSE(m.should_deregister(f.t + 1'000'000'000));
}

TEST_CASE("latency is a moving average of the samples") {
    Fixture f;
    auto m = f.machine();
    m.observe({Health::passing, "", 1000u}, f.now());
    CHECK(m.state().latency_us == 1000);
    m.observe({Health::passing, "", 2000u}, f.now());
    CHECK(m.state().latency_us == 1250);
    m.observe({Health::critical, "", std::nullopt}, f.now()); // no sample: unchanged
    CHECK(m.state().latency_us == 1250);
    for (int i = 0; i < 50; ++i) m.observe({Health::passing, "", 400u}, f.now());
    CHECK(m.state().latency_us >= 400);
    CHECK(m.state().latency_us < 410);
}

TEST_CASE("outputs are cut at 4 KiB without splitting a UTF-8 sequence") {
    std::string s(4095, 'a');
    s += "\xc3\xa9"; // é straddles the limit
    s += "tail";
    truncate_output(s);
    CHECK(s.size() == 4095);
    std::string t(10'000, 'x');
    truncate_output(t);
    CHECK(t.size() == max_output_bytes);

    Fixture f;
    auto m = f.machine();
    m.observe(pass(std::string(9'000, 'y')), f.now());
    CHECK(m.state().output.size() == max_output_bytes);
}

TEST_CASE("maintenance is not a probe outcome") {
    Fixture f;
    auto m = f.machine(Health::passing);
    m.observe({Health::maintenance, "?", std::nullopt}, f.now());
    CHECK(m.state().status == Health::critical);
}

TEST_CASE("default ejection policy scales with the interval") {
    auto p = EjectionPolicy::for_interval(10'000);
    CHECK(p.base_ms == 40'000);
    CHECK(p.probation_ms == 100'000);
    CHECK(p.max_ms == 300'000);
    auto q = EjectionPolicy::for_interval(200'000);
    CHECK(q.max_ms == q.base_ms);
}

TEST_CASE("load: from the output or the probe, kept until stale, then unknown") {
    Fixture f;
    f.definition.kind = registry::CheckKind::http;
    f.definition.interval_ms = 1'000; // stale after 3 s
    auto m = f.machine();
    m.observe(pass("HTTP GET http://x/: 200\nload=7"), f.now());
    CHECK(m.state().load == 7u);
    ProbeResult json = pass("HTTP GET http://x/: 200\n{\"load\": 3}");
    json.load = 3;
    f.t += 1'000;
    m.observe(json, f.now());
    CHECK(m.state().load == 3u);
    f.t += 2'999;
    m.observe(pass("no load here"), f.now()); // 2.999 s old: still counts
    CHECK(m.state().load == 3u);
    f.t += 1;
    m.observe(pass("no load here"), f.now()); // 3 s: stale
    CHECK_FALSE(m.state().load);
    f.t += 1'000;
    m.observe(fail("load=9 but failing"), f.now()); // a failing check may report too
    CHECK(m.state().load == 9u);
}

TEST_CASE("load: a TTL check's load goes stale after three ttls") {
    Fixture f;
    f.definition.kind = registry::CheckKind::ttl;
    f.definition.ttl_ms = 10'000;
    auto m = f.machine();
    m.observe(pass("load=5"), f.now());
    f.t += 29'000;
    m.observe(pass("alive"), f.now());
    CHECK(m.state().load == 5u);
    f.t += 1'000;
    m.observe(pass("alive"), f.now());
    CHECK_FALSE(m.state().load);
}

TEST_CASE("load_in_json_body: a top-level whole number under \"load\"") {
    CHECK(load_in_json_body("{\"load\": 12}") == 12u);
    CHECK(load_in_json_body("  {\"status\": \"ok\", \"load\": 0}\n") == 0u);
    CHECK_FALSE(load_in_json_body("{\"load\": -1}"));
    CHECK_FALSE(load_in_json_body("{\"load\": 1.5}"));
    CHECK_FALSE(load_in_json_body("{\"load\": \"3\"}"));
    CHECK_FALSE(load_in_json_body("{\"load\": 1000000001}"));
    CHECK_FALSE(load_in_json_body("{\"load\": 18446744073709551615}"));
    CHECK_FALSE(load_in_json_body("{\"inner\": {\"load\": 3}}"));
    CHECK_FALSE(load_in_json_body("{\"load\": 3")); // cut off
    CHECK_FALSE(load_in_json_body("load=3"));       // the check machine reads this one
    CHECK_FALSE(load_in_json_body(""));
}

TEST_CASE("check stats: results by kind and outcome, durations in buckets, ejections; as metrics") {
    CheckStats s;
    s.count(registry::CheckKind::http, Health::passing, 800);       // <= 1 ms
    s.count(registry::CheckKind::http, Health::critical, 60'000);   // <= 100 ms
    s.count(registry::CheckKind::tcp, Health::warning, 20'000'000); // above 10 s
    s.count(registry::CheckKind::ttl, Health::passing, std::nullopt);
    s.count_ejection(registry::CheckKind::http);
    CHECK(s.results[0][0] == 1);
    CHECK(s.results[0][2] == 1);
    CHECK(s.results[1][1] == 1);
    CHECK(s.results[3][0] == 1);
    CHECK(s.durations[0].buckets[0] == 1);
    CHECK(s.durations[0].buckets[5] == 1);
    CHECK(s.durations[1].buckets.back() == 1);
    CHECK(s.durations[0].sum_us == 60'800);
    std::string text = format_check_metrics(s, 7);
    auto has = [&](const std::string& line) {
        return text.find("\n" + line + "\n") != std::string::npos;
    };
    CHECK(has("cairn_health_checks 7"));
    CHECK(has(R"(cairn_health_check_results_total{kind="http",result="passing"} 1)"));
    CHECK(has(R"(cairn_health_check_results_total{kind="http",result="critical"} 1)"));
    CHECK(has(R"(cairn_health_check_results_total{kind="ttl",result="passing"} 1)"));
    CHECK(has(R"(cairn_health_check_results_total{kind="script",result="warning"} 0)"));
    CHECK(has(R"(cairn_health_check_duration_seconds_bucket{kind="http",le="0.001"} 1)"));
    CHECK(has(R"(cairn_health_check_duration_seconds_bucket{kind="http",le="0.1"} 2)"));
    CHECK(has(R"(cairn_health_check_duration_seconds_count{kind="tcp"} 1)"));
    CHECK(has(R"(cairn_health_check_duration_seconds_sum{kind="http"} 0.060800)"));
    CHECK(text.find(R"(duration_seconds_count{kind="ttl"})") == std::string::npos);
    CHECK(has(R"(cairn_health_ejections_total{kind="http"} 1)"));
    CHECK(has(R"(cairn_health_ejections_total{kind="tcp"} 0)"));
}
