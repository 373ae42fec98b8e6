// The Prober against a real Registry and loopback servers: results reach the
// registry, sync() starts/stops/restarts checks, TTL heartbeats and
// deregister_critical_after work end to end.
#include <chrono>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "health/prober.hpp"
#include "probe_support.hpp"
#include "registry/registry.hpp"
#include "test_server.hpp"

using namespace cairn;
using namespace cairn::health;
using namespace std::chrono_literals;
using registry::CheckKind;
using registry::Health;

namespace {

registry::Instance web_instance(const std::string& id, const std::string& url,
                                std::uint32_t interval_ms = 100) {
    registry::Instance in;
    in.id = id;
    in.service = "web";
    in.address.family = 4;
    in.address.bytes = {127, 0, 0, 1};
    in.port = 8080;
    registry::Check c;
    c.definition.kind = CheckKind::http;
    c.definition.target = url;
    c.definition.interval_ms = interval_ms;
    c.definition.timeout_ms = 500;
    in.checks.push_back(c);
    return in;
}

struct ProberFixture {
    Loop loop;
    registry::Registry registry{"node-a"};
    Prober prober{loop, registry, ProberOptions{.refresh_ms = 30'000, .seed = 7}};
    int deregistrations = 0;

    ProberFixture() {
        prober.on_deregister([this](const std::vector<std::string>&) { ++deregistrations; });
    }

    void put(registry::Instance in) {
        auto stored = registry.upsert_local(std::move(in), 1);
        REQUIRE(stored.has_value());
        prober.sync_instance(stored->id);
    }

    Health health(const std::string& id) const {
        const auto* in = registry.find_local(id);
        return in ? in->health() : Health::maintenance;
    }
};

} // namespace

TEST_CASE("prober: an HTTP check's status reaches the registry, both ways") {
    test::TestServer server;
    server.respond(200, "ok");
    ProberFixture f;
    f.put(web_instance("web-1", server.url()));
    CHECK(f.prober.check_count() == 1);
    CHECK(f.health("web-1") == Health::critical); // initial
    CHECK(test::run_until(f.loop, [&] { return f.health("web-1") == Health::passing; }));
    CHECK(f.deregistrations == 0);
    CHECK(f.registry.dirty());
    const auto* in = f.registry.find_local("web-1");
    CHECK(in->checks[0].state.output.find("ok") != std::string::npos);
    CHECK(in->checks[0].state.latency_us > 0);

    server.respond(500);
    CHECK(test::run_until(f.loop, [&] { return f.health("web-1") == Health::critical; }));
}

TEST_CASE("prober: sync starts new checks, stops removed ones and restarts changed ones") {
    test::TestServer a, b;
    a.respond(200);
    b.respond(500);
    ProberFixture f;
    f.put(web_instance("web-1", a.url()));
    f.put(web_instance("web-2", a.url()));
    CHECK(f.prober.check_count() == 2);
    CHECK(test::run_until(f.loop, [&] { return f.health("web-2") == Health::passing; }));

    // Changed definition: web-2 now probes the failing server.
    f.put(web_instance("web-2", b.url()));
    CHECK(f.prober.check_count() == 2);
    CHECK(test::run_until(
        f.loop, [&] { return f.health("web-2") == Health::critical && b.connections > 0; }));

    // Removed instance: its check stops.
    REQUIRE(f.registry.deregister_local("web-2", 2));
    f.prober.sync_instance("web-2");
    CHECK(f.prober.check_count() == 1);
    CHECK(f.prober.find("web-2:1") == nullptr);
    int seen = b.connections;
    test::run_until(
        f.loop, [] { return false; }, 200ms);
    CHECK(b.connections == seen);

    // A full sync changes nothing further.
    f.prober.sync();
    CHECK(f.prober.check_count() == 1);
    CHECK(f.prober.find("web-1:1") != nullptr);
}

TEST_CASE("prober: an unchanged re-registration keeps the running check") {
    test::TestServer server;
    server.respond(200);
    ProberFixture f;
    f.put(web_instance("web-1", server.url()));
    CHECK(test::run_until(f.loop, [&] { return f.health("web-1") == Health::passing; }));
    const CheckMachine* before = f.prober.find("web-1:1");
    auto changed_tags = web_instance("web-1", server.url());
    changed_tags.tags = {"v2"};
    f.put(changed_tags);
    CHECK(f.prober.find("web-1:1") == before);
    CHECK(f.health("web-1") == Health::passing);
}

TEST_CASE("prober: TTL heartbeats through update_ttl, expiry without them") {
    ProberFixture f;
    registry::Instance in = web_instance("job-1", "");
    in.checks[0].definition.kind = CheckKind::ttl;
    in.checks[0].definition.ttl_ms = 150;
    f.put(in);
    REQUIRE(f.prober.update_ttl("job-1:1", Health::passing, "I am alive"));
    CHECK(f.health("job-1") == Health::passing);
    CHECK(f.registry.find_local("job-1")->checks[0].state.output == "I am alive");
    CHECK(test::run_until(
        f.loop, [&] { return f.health("job-1") == Health::critical; }, 5s));

    auto missing = f.prober.update_ttl("nope:1", Health::passing, "");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("nope:1") != std::string::npos);
}

TEST_CASE("prober: a TTL expiry that changes the status is announced, reports are not") {
    ProberFixture f;
    std::vector<std::string> expired;
    f.prober.on_ttl_expired([&](const std::string& id) {
        CHECK(f.health(id) == Health::critical); // the registry holds it already
        expired.push_back(id);
    });
    registry::Instance in = web_instance("job-1", "");
    in.checks[0].definition.kind = CheckKind::ttl;
    in.checks[0].definition.ttl_ms = 150;
    f.put(in);
    REQUIRE(f.prober.update_ttl("job-1:1", Health::passing, "up"));
    REQUIRE(f.prober.update_ttl("job-1:1", Health::critical, "down"));
    REQUIRE(f.prober.update_ttl("job-1:1", Health::passing, "up"));
    CHECK(expired.empty());
    CHECK(test::run_until(
        f.loop, [&] { return !expired.empty(); }, 5s));
    CHECK(expired == std::vector<std::string>{"job-1"});
    // Silent for three more TTLs: it expires again each time, but the status
    // stays critical, so nothing more is announced.
    test::run_until(
        f.loop, [] { return false; }, 450ms);
    CHECK(f.health("job-1") == Health::critical);
    CHECK(expired.size() == 1);
}

TEST_CASE("prober: deregister_critical_after removes the instance") {
    ProberFixture f;
    auto in = web_instance("web-9", fmt::format("http://127.0.0.1:{}/", test::closed_port()));
    in.checks[0].definition.deregister_critical_after_ms = 200;
    f.put(in);
    f.put(web_instance("web-ok", "http://127.0.0.1:1/", 1000)); // stays, though critical
    CHECK(test::run_until(
        f.loop, [&] { return f.registry.find_local("web-9") == nullptr; }, 5s));
    CHECK(f.prober.find("web-9:1") == nullptr);
    CHECK(f.deregistrations == 1);
    CHECK(f.prober.check_count() == 1);
    CHECK(f.registry.find_local("web-ok") != nullptr);
}

TEST_CASE("prober: output-only changes are rate limited, status changes are not") {
    test::TestServer server;
    server.respond(200, "a");
    ProberFixture f;
    f.put(web_instance("web-1", server.url(), 100));
    CHECK(test::run_until(f.loop, [&] { return f.health("web-1") == Health::passing; }));
    server.respond(200, "b");
    const CheckMachine* m = f.prober.find("web-1:1");
    REQUIRE(m != nullptr);
    CHECK(
        test::run_until(f.loop, [&] { return m->state().output.find("b") != std::string::npos; }));
    // The machine has the new output; the registry keeps the old one until
    // refresh_ms (30 s) passes.
    CHECK(f.registry.find_local("web-1")->checks[0].state.output.ends_with("a"));
    server.respond(503, "c");
    CHECK(test::run_until(f.loop, [&] { return f.health("web-1") == Health::critical; }));
    CHECK(f.registry.find_local("web-1")->checks[0].state.output.ends_with("c"));
}

TEST_CASE("prober: a latency change is worth a registry write only past half and past 1 ms") {
    registry::CheckState before{
        .status = Health::passing, .output = "HTTP GET x: 200", .latency_us = 200};
    auto after = before;
    after.latency_us = 900; // more than half, but loopback jitter
    CHECK_FALSE(worth_refreshing(before, after));
    before.latency_us = 4'000;
    after.latency_us = 5'500; // past 1 ms, not past half
    CHECK_FALSE(worth_refreshing(before, after));
    after.latency_us = 6'500; // past both
    CHECK(worth_refreshing(before, after));
    after.latency_us = 1'900;
    CHECK(worth_refreshing(before, after));
    after = before;
    after.output = "HTTP GET x: 200\nnew body";
    CHECK(worth_refreshing(before, after));
}
