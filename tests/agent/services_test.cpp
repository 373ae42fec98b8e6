#include <doctest/doctest.h>

#include "agent/services.hpp"

using namespace cairn;
using namespace cairn::agent;
using namespace std::chrono_literals;

namespace {

config::ServiceConfig web()
{
    config::ServiceConfig s;
    s.name = "web";
    s.port = 8080;
    s.tags = {"v2"};
    s.meta = {{"version", "2.1.0"}, {"zone", "a"}};
    s.weight = 10;
    REQUIRE(config::validate_service(s));
    return s;
}

} // namespace

TEST_CASE("addresses")
{
    auto v4 = parse_ip_address("10.1.2.3");
    REQUIRE(v4);
    CHECK(v4->family == 4);
    CHECK(v4->bytes[0] == 10);
    CHECK(v4->bytes[3] == 3);
    auto v6 = parse_ip_address("::1");
    REQUIRE(v6);
    CHECK(v6->family == 6);
    CHECK(v6->bytes[15] == 1);
    CHECK_FALSE(parse_ip_address("10.1.2"));
    CHECK_FALSE(parse_ip_address("host"));
}

TEST_CASE("a config service becomes an instance owned by this node")
{
    auto fallback = *parse_ip_address("192.0.2.7");
    auto i = to_instance(web(), "node-1", fallback);
    REQUIRE(i);
    CHECK(i->id == "web");
    CHECK(i->service == "web");
    CHECK(i->node == "node-1");
    CHECK(i->address == fallback);
    CHECK(i->port == 8080);
    CHECK(i->tags == std::vector<std::string>{"v2"});
    CHECK(i->meta == std::vector<std::pair<std::string, std::string>>{{"version", "2.1.0"}, {"zone", "a"}});
    CHECK(i->weight == 10);
    CHECK(i->policy == registry::Policy::unset);
    CHECK(i->ttl_ms == 0);
    CHECK(i->checks.empty());

    config::ServiceConfig explicit_address = web();
    explicit_address.address = "::1";
    explicit_address.policy = "round_robin";
    explicit_address.ttl = 2s;
    auto j = to_instance(explicit_address, "node-1", fallback);
    REQUIRE(j);
    CHECK(j->address == *parse_ip_address("::1"));
    CHECK(j->policy == registry::Policy::round_robin);
    CHECK(j->ttl_ms == 2000);

    config::ServiceConfig bad = web();
    bad.address = "nowhere";
    CHECK(to_instance(bad, "n", fallback).error().message.starts_with("address:"));
}

TEST_CASE("each kind of check converts")
{
    config::ServiceConfig s = web();
    s.checks.resize(4);
    s.checks[0].http = "https://127.0.0.1/health";
    s.checks[0].method = "HEAD";
    s.checks[0].headers = {{"X-A", "1"}};
    s.checks[0].tls_skip_verify = true;
    s.checks[1].tcp = "127.0.0.1:8080";
    s.checks[1].interval = 1s;
    s.checks[1].timeout = 300ms;
    s.checks[2].args = {"/bin/check", "--fast"};
    s.checks[2].success_before_passing = 2;
    s.checks[2].failures_before_warning = 2;
    s.checks[2].failures_before_critical = 3;
    s.checks[3].ttl = 30s;
    s.checks[3].deregister_critical_after = 10min;
    REQUIRE(config::validate_service(s));
    auto i = to_instance(s, "n", *parse_ip_address("127.0.0.1"));
    REQUIRE(i);
    REQUIRE(i->checks.size() == 4);
    const auto& http = i->checks[0].definition;
    CHECK(http.id == "web:1");
    CHECK(http.kind == registry::CheckKind::http);
    CHECK(http.target == "https://127.0.0.1/health");
    CHECK(http.method == "HEAD");
    CHECK(http.headers == std::vector<std::pair<std::string, std::string>>{{"X-A", "1"}});
    CHECK(http.tls_skip_verify);
    const auto& tcp = i->checks[1].definition;
    CHECK(tcp.kind == registry::CheckKind::tcp);
    CHECK(tcp.target == "127.0.0.1:8080");
    CHECK(tcp.interval_ms == 1000);
    CHECK(tcp.timeout_ms == 300);
    const auto& script = i->checks[2].definition;
    CHECK(script.kind == registry::CheckKind::script);
    CHECK(script.args == std::vector<std::string>{"/bin/check", "--fast"});
    CHECK(script.success_before_passing == 2);
    CHECK(script.failures_before_warning == 2);
    CHECK(script.failures_before_critical == 3);
    const auto& ttl = i->checks[3].definition;
    CHECK(ttl.kind == registry::CheckKind::ttl);
    CHECK(ttl.ttl_ms == 30'000);
    CHECK(ttl.deregister_critical_after_ms == 600'000);
}

TEST_CASE("policies map one to one")
{
    CHECK(to_registry_policy(config::Policy::random) == registry::Policy::random);
    CHECK(to_registry_policy(config::Policy::round_robin) == registry::Policy::round_robin);
    CHECK(to_registry_policy(config::Policy::weighted) == registry::Policy::weighted);
    CHECK(to_registry_policy(config::Policy::affinity) == registry::Policy::affinity);
    CHECK(to_registry_policy(config::Policy::fastest) == registry::Policy::fastest);
}

TEST_CASE("plan_sync removes what config no longer has, upserts the rest")
{
    registry::Instance a, c;
    a.id = "a";
    c.id = "c";
    SyncPlan plan = plan_sync({"a", "b"}, {a, c});
    CHECK(plan.removals == std::vector<std::string>{"b"});
    REQUIRE(plan.upserts.size() == 2);
    CHECK(plan.upserts[0].id == "a");
    CHECK(plan.upserts[1].id == "c");

    SyncPlan empty = plan_sync({"a"}, {});
    CHECK(empty.removals == std::vector<std::string>{"a"});
    CHECK(empty.upserts.empty());
}
