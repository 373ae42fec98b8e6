#include <doctest/doctest.h>

#include "agent/services.hpp"

using namespace cairn;
using namespace cairn::agent;

TEST_CASE("a config service becomes an instance owned by this node") {
    registry::Instance web;
    web.id = "web";
    web.service = "web";
    web.port = 8080;
    auto fallback = *parse_ip_address("192.0.2.7");
    registry::Instance i = to_instance(web, "node-1", fallback);
    CHECK(i.node == "node-1");
    CHECK(i.address == fallback);
    CHECK(i.port == 8080);

    web.address = *parse_ip_address("::1");
    CHECK(to_instance(web, "node-1", fallback).address == web.address);
}

TEST_CASE("plan_sync removes what config no longer has, upserts the rest") {
    registry::Instance a, c;
    a.id.append("a"); // not `= "a"`: GCC 12 -O3 reports a false -Wrestrict
    c.id.append("c");
    SyncPlan plan = plan_sync({"a", "b"}, {a, c});
    CHECK(plan.removals == std::vector<std::string>{"b"});
    REQUIRE(plan.upserts.size() == 2);
    CHECK(plan.upserts[0].id == "a");
    CHECK(plan.upserts[1].id == "c");

    SyncPlan empty = plan_sync({"a"}, {});
    CHECK(empty.removals == std::vector<std::string>{"a"});
    CHECK(empty.upserts.empty());
}
