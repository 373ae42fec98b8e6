// The rulebook of reported loads (registry/load.hpp).
#include <doctest/doctest.h>

#include "registry/load.hpp"
#include "registry/registry.hpp"
#include "test_util.hpp"

using namespace cairn::registry;

TEST_CASE("load_in_output: the first load=N word") {
    CHECK(load_in_output("load=12") == 12u);
    CHECK(load_in_output("OK load=7 conns=3") == 7u);
    CHECK(load_in_output("conns=3,load=0;rest") == 0u);
    CHECK(load_in_output("HTTP GET http://x/: 200\nload=42\n") == 42u);
    CHECK(load_in_output("a&load=5&b") == 5u);
    CHECK(load_in_output("load=1 load=2") == 1u);
    CHECK(load_in_output("unload=5 load=6") == 6u); // not a word of its own: skipped
    CHECK_FALSE(load_in_output("overload=5"));
    CHECK_FALSE(load_in_output("load=5x"));
    CHECK_FALSE(load_in_output("load="));
    CHECK_FALSE(load_in_output("load=-1"));
    CHECK_FALSE(load_in_output("load=2.5"));
    CHECK_FALSE(load_in_output("load=1000000001")); // above max_load
    CHECK(load_in_output("load=1000000000") == 1'000'000'000u);
    CHECK_FALSE(load_in_output("load=99999999999999999999"));
    CHECK_FALSE(load_in_output(""));
}

TEST_CASE("load_value names the field") {
    CHECK(load_value(0) == 0u);
    CHECK(load_value(max_load) == max_load);
    REQUIRE_FALSE(load_value(-3));
    CHECK(load_value(-3).error().message == "load: -3 is out of range (0 to 1000000000)");
    CHECK_FALSE(load_value(std::int64_t{max_load} + 1));
}

TEST_CASE("stale after three periods: the interval, or a TTL check's ttl") {
    CheckDefinition http;
    http.kind = CheckKind::http;
    http.interval_ms = 2'000;
    CHECK(load_stale_after_ms(http) == 6'000);
    CheckDefinition ttl;
    ttl.kind = CheckKind::ttl;
    ttl.ttl_ms = 30'000;
    CHECK(load_stale_after_ms(ttl) == 90'000);
}

TEST_CASE("load_moved: appears, goes, or moves by more than an eighth") {
    CHECK(load_moved(std::nullopt, 0u));
    CHECK(load_moved(3u, std::nullopt));
    CHECK_FALSE(load_moved(std::nullopt, std::nullopt));
    CHECK_FALSE(load_moved(5u, 5u));
    CHECK(load_moved(0u, 1u));
    CHECK(load_moved(7u, 6u));
    CHECK_FALSE(load_moved(100u, 112u));
    CHECK(load_moved(100u, 113u));
    CHECK(load_moved(100u, 87u));
}

TEST_CASE("an instance's load is the highest its checks report") {
    Instance i;
    i.checks.resize(3);
    CHECK_FALSE(i.load());
    i.checks[0].state.load = 4;
    i.checks[2].state.load = 9;
    CHECK(i.load() == 9u);
}

TEST_CASE("update_check replicates a load that moved, and keeps small drifts local") {
    Registry r("node-a");
    Instance in = test::make_instance("web-1");
    Check c = test::ttl_check("web-1:1", Health::passing);
    c.definition.interval_ms = 0;
    in.checks.push_back(c);
    REQUIRE(r.upsert_local(in, 1));
    CheckState s;
    s.status = Health::passing;
    s.load = 100;
    REQUIRE(r.update_check("web-1:1", s));
    std::uint64_t v = r.find_local("web-1")->version;
    s.load = 110; // an eighth or less: local only
    REQUIRE(r.update_check("web-1:1", s));
    CHECK(r.find_local("web-1")->version == v);
    CHECK(r.find_local("web-1")->load() == 110u);
    s.load = 150;
    REQUIRE(r.update_check("web-1:1", s));
    CHECK(r.find_local("web-1")->version > v);
    v = r.find_local("web-1")->version;
    s.load.reset(); // gone stale
    REQUIRE(r.update_check("web-1:1", s));
    CHECK(r.find_local("web-1")->version > v);
}
