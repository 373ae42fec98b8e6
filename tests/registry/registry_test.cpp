#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "registry/registry.hpp"
#include "test_util.hpp"

using namespace cairn::registry;
using cairn::registry::test::make_instance;
using cairn::registry::test::ttl_check;

TEST_CASE("local writes raise the version") {
    Registry r("node-a");
    auto first = r.upsert_local(make_instance("web-1"), 1000);
    REQUIRE(first);
    CHECK(first->node == "node-a");
    CHECK(first->version == 1);

    Instance changed = make_instance("web-1");
    changed.port = 9090;
    auto second = r.upsert_local(changed, 1001);
    REQUIRE(second);
    CHECK(second->version == 2);
    CHECK(r.find_local("web-1")->port == 9090);

    SUBCASE("an identical replacement changes nothing") {
        auto third = r.upsert_local(changed, 1002);
        REQUIRE(third);
        CHECK(third->version == 2);
    }
    SUBCASE("deregistration leaves a tombstone with the next version") {
        CHECK(r.deregister_local("web-1", 2000));
        CHECK(r.find_local("web-1") == nullptr);
        REQUIRE(r.tombstones().size() == 1);
        CHECK(r.tombstones()[0].version == 3);
        CHECK(r.tombstones()[0].deleted_at_ms == 2000);
        CHECK_FALSE(r.deregister_local("web-1", 2001));
    }
}

TEST_CASE("a rejected write changes nothing") {
    Registry r("node-a");
    REQUIRE(r.upsert_local(make_instance("web-1"), 0));
    Instance bad = make_instance("web-1");
    bad.port = 0;
    auto result = r.upsert_local(bad, 1);
    REQUIRE_FALSE(result);
    CHECK(result.error() == "port: missing");
    CHECK(r.find_local("web-1")->port == 8080);
    CHECK(r.version_counter() == 1);
}

TEST_CASE("the version counter continues above persisted and remote versions") {
    Registry r("node-a");
    Instance persisted = make_instance("web-1");
    persisted.version = 41; // as stored before a restart
    auto stored = r.upsert_local(persisted, 0);
    REQUIRE(stored);
    CHECK(stored->version == 42);

    Instance remote = make_instance("db-1", "db");
    remote.node = "node-b";
    remote.version = 100;
    CHECK(r.merge(remote));
    auto next = r.upsert_local(make_instance("web-2"), 0);
    REQUIRE(next);
    CHECK(next->version == 101);

    r.observe_version(500);
    CHECK(r.version_counter() == 500);
    CHECK(r.deregister_local("web-2", 0));
    CHECK(r.tombstones().back().version == 501);
}

TEST_CASE("take_local_changes names each own record written since the last call, once") {
    Registry r("node-a");
    auto sorted = [&r] {
        std::vector<std::string> ids = r.take_local_changes();
        std::sort(ids.begin(), ids.end());
        return ids;
    };
    Instance web = make_instance("web-1");
    web.checks = {ttl_check("web-1:1", Health::critical)};
    REQUIRE(r.upsert_local(web, 0));
    REQUIRE(r.upsert_local(make_instance("web-2"), 0));
    REQUIRE(r.upsert_local(make_instance("web-2"), 0)); // identical: not a write
    CHECK(sorted() == std::vector<std::string>{"web-1", "web-2"});
    CHECK(r.take_local_changes().empty());

    Instance remote = make_instance("db-1", "db");
    remote.node = "node-b";
    remote.version = 100;
    CHECK(r.merge(remote)); // another owner's record
    CHECK(r.take_local_changes().empty());

    CheckState passing;
    passing.status = Health::passing;
    CHECK(r.update_check("web-1:1", passing));
    CHECK(r.deregister_local("web-2", 1000));
    CHECK(r.set_maintenance("web-1", true, "test"));
    CHECK(sorted() == std::vector<std::string>{"web-1", "web-2"});

    REQUIRE(r.supersede_local("web-2", 1001));
    CHECK(sorted() == std::vector<std::string>{"web-2"});
    r.collect_tombstones(5000); // web-2's tombstone goes
    CHECK(r.find_local_tombstone("web-2") == nullptr);
    CHECK(sorted() == std::vector<std::string>{"web-2"});
}

TEST_CASE("merge: the newest version wins") {
    Registry r("node-a");
    Instance v2 = make_instance("db-1", "db");
    v2.node = "node-b";
    v2.version = 2;
    v2.port = 2;
    CHECK(r.merge(v2));

    Instance v1 = v2;
    v1.version = 1;
    v1.port = 1;
    CHECK_FALSE(r.merge(v1));
    CHECK_FALSE(r.merge(v2)); // same version again: no change
    CHECK(r.find("node-b", "db-1")->port == 2);

    Instance v3 = v2;
    v3.version = 3;
    v3.port = 3;
    CHECK(r.merge(v3));
    CHECK(r.find("node-b", "db-1")->port == 3);

    SUBCASE("the same id on another node is another record") {
        Instance other = v1;
        other.node = "node-c";
        CHECK(r.merge(other));
        CHECK(r.instances_of("DB").size() == 2);
    }
    SUBCASE("invalid remote records are refused") {
        Instance bad = v3;
        bad.version = 9;
        bad.service = "not a label";
        CHECK_FALSE(r.merge(bad));
        Instance no_version = v3;
        no_version.version = 0;
        CHECK_FALSE(r.merge(no_version));
    }
}

TEST_CASE("merge: tombstones win over equal-or-older instances") {
    Registry r("node-a");
    Instance i = make_instance("db-1", "db");
    i.node = "node-b";
    i.version = 5;
    REQUIRE(r.merge(i));

    CHECK_FALSE(r.merge(Tombstone{"db-1", "node-b", 4, 100})); // older: the instance stays
    CHECK(r.find("node-b", "db-1") != nullptr);
    CHECK(r.merge(Tombstone{"db-1", "node-b", 5, 100})); // equal: the tombstone wins
    CHECK(r.find("node-b", "db-1") == nullptr);
    CHECK(r.instances_of("db").empty());

    CHECK_FALSE(r.merge(i)); // an old copy does not bring it back
    i.version = 6;
    CHECK(r.merge(i)); // a re-registration does
    CHECK(r.find("node-b", "db-1") != nullptr);

    SUBCASE("a tombstone arriving before its instance blocks it") {
        CHECK(r.merge(Tombstone{"db-2", "node-b", 9, 100}));
        Instance late = make_instance("db-2", "db");
        late.node = "node-b";
        late.version = 8;
        CHECK_FALSE(r.merge(late));
        CHECK_FALSE(r.merge(Tombstone{"db-2", "node-b", 9, 100}));
        CHECK(r.merge(Tombstone{"db-2", "node-b", 10, 100}));
    }
    SUBCASE("tombstones are collected after the cutoff") {
        CHECK(r.merge(Tombstone{"db-3", "node-b", 9, 100}));
        CHECK(r.merge(Tombstone{"db-4", "node-b", 9, 300}));
        r.collect_tombstones(200);
        REQUIRE(r.tombstones().size() == 1);
        CHECK(r.tombstones()[0].id == "db-4");
    }
}

TEST_CASE("remote copies of this agent's own records only raise the counter") {
    Registry r("node-a");
    REQUIRE(r.upsert_local(make_instance("web-1"), 0));
    Instance stale = make_instance("web-1");
    stale.node = "node-a";
    stale.version = 50;
    stale.port = 1;
    CHECK_FALSE(r.merge(stale));
    CHECK(r.find_local("web-1")->port == 8080);
    CHECK_FALSE(r.merge(Tombstone{"web-1", "node-a", 60, 0}));
    CHECK(r.find_local("web-1") != nullptr);
    auto next = r.upsert_local(make_instance("web-2"), 0);
    CHECK(next->version == 61);
}

TEST_CASE("digest and records_of serve push-pull") {
    Registry r("node-a");
    REQUIRE(r.upsert_local(make_instance("web-1"), 0)); // 1
    REQUIRE(r.upsert_local(make_instance("web-2"), 0)); // 2
    REQUIRE(r.deregister_local("web-1", 0));            // 3
    Instance remote = make_instance("db-1", "db");
    remote.node = "node-b";
    remote.version = 7;
    REQUIRE(r.merge(remote));

    auto digest = r.digest();
    REQUIRE(digest.size() == 2);
    CHECK(digest[0] == std::pair<std::string, std::uint64_t>{"node-a", 3});
    CHECK(digest[1] == std::pair<std::string, std::uint64_t>{"node-b", 7});

    auto newer = r.records_of("node-a", 1);
    REQUIRE(newer.instances.size() == 1);
    CHECK(newer.instances[0].id == "web-2");
    REQUIRE(newer.tombstones.size() == 1);
    CHECK(newer.tombstones[0].id == "web-1");
    CHECK(r.records_of("node-a", 3).instances.empty());
    CHECK(r.records_of("node-b", 0).instances.size() == 1);
}

TEST_CASE("checks: defaults, kept state, lookups") {
    Registry r("node-a");
    Instance i = make_instance("web-1");
    Check c = ttl_check("", Health::critical);
    i.checks = {c};
    auto stored = r.upsert_local(i, 0);
    REQUIRE(stored);
    CHECK(stored->checks[0].definition.id == "web-1:1");
    CHECK(r.find_by_check("web-1:1") == r.find_local("web-1"));

    CheckState passing;
    passing.status = Health::passing;
    passing.output = "ok";
    CHECK(r.update_check("web-1:1", passing));
    CHECK_FALSE(r.update_check("nope", passing));
    CHECK(r.find_local("web-1")->health() == Health::passing);
    std::uint64_t version = r.find_local("web-1")->version;
    CHECK(version == 2);

    SUBCASE("re-registering with the same check keeps its state") {
        Instance again = i;
        again.port = 9000;
        auto replaced = r.upsert_local(again, 10);
        REQUIRE(replaced);
        CHECK(replaced->health() == Health::passing);
    }
    SUBCASE("a small latency drift does not raise the version; a status change does") {
        passing.latency_us = 1000;
        CHECK(r.update_check("web-1:1", passing)); // 0 -> 1000: replicated
        version = r.find_local("web-1")->version;
        passing.latency_us = 1100;
        CHECK(r.update_check("web-1:1", passing));
        CHECK(r.find_local("web-1")->version == version);
        CHECK(r.find_local("web-1")->latency_us() == 1100);
        passing.status = Health::warning;
        CHECK(r.update_check("web-1:1", passing));
        CHECK(r.find_local("web-1")->version > version);
    }
    SUBCASE("a check id belongs to one instance") {
        Instance other = make_instance("web-2");
        other.checks = {ttl_check("web-1:1", Health::passing)};
        auto result = r.upsert_local(other, 0);
        REQUIRE_FALSE(result);
        CHECK(result.error() == "checks[0].id: \"web-1:1\" is already used by instance \"web-1\"");
    }
    SUBCASE("deregistering frees the check id") {
        CHECK(r.deregister_local("web-1", 0));
        CHECK(r.find_by_check("web-1:1") == nullptr);
    }
}

TEST_CASE("health aggregation") {
    Instance i = make_instance("web-1");
    CHECK(i.health() == Health::passing); // no checks
    i.checks = {ttl_check("a", Health::passing), ttl_check("b", Health::warning)};
    CHECK(i.health() == Health::warning);
    i.checks.push_back(ttl_check("c", Health::critical));
    CHECK(i.health() == Health::critical);
    i.maintenance = true;
    CHECK(i.health() == Health::maintenance);

    i.maintenance = false;
    i.checks[0].state.latency_us = 100;
    i.checks[1].state.latency_us = 300;
    CHECK(i.latency_us() == 200);
}

TEST_CASE("indexes by service name and tag are case-insensitive") {
    Registry r("node-a");
    Instance a = make_instance("web-1", "Web");
    a.tags = {"V2", "primary"};
    Instance b = make_instance("web-2", "web");
    b.tags = {"v1"};
    REQUIRE(r.upsert_local(a, 0));
    REQUIRE(r.upsert_local(b, 0));
    REQUIRE(r.upsert_local(make_instance("db-1", "db"), 0));
    CHECK(r.instances_of("WEB").size() == 2);
    CHECK(r.instances_with_tag("web", "v2").size() == 1);
    CHECK(r.instances_with_tag("web", "v2")[0]->id == "web-1");
    CHECK(r.service_names() == std::vector<std::string>{"db", "web"});
    CHECK(r.local_instances().size() == 3);

    SUBCASE("moving an instance to another service updates both") {
        REQUIRE(r.upsert_local(make_instance("web-2", "db"), 0));
        CHECK(r.instances_of("web").size() == 1);
        CHECK(r.instances_of("db").size() == 2);
    }
}

TEST_CASE("set_maintenance") {
    Registry r("node-a");
    REQUIRE(r.upsert_local(make_instance("web-1"), 0));
    CHECK(r.set_maintenance("web-1", true, "upgrade"));
    CHECK(r.find_local("web-1")->health() == Health::maintenance);
    CHECK(r.find_local("web-1")->maintenance_reason == "upgrade");
    CHECK(r.find_local("web-1")->version == 2);
    CHECK(r.set_maintenance("web-1", true, "upgrade"));
    CHECK(r.find_local("web-1")->version == 2);
    CHECK(r.set_maintenance("web-1", false, ""));
    CHECK(r.find_local("web-1")->health() == Health::passing);
    CHECK_FALSE(r.set_maintenance("nope", true, ""));
}

TEST_CASE("forget_node drops its records") {
    Registry r("node-a");
    Instance i = make_instance("db-1", "db");
    i.node = "node-b";
    i.version = 3;
    REQUIRE(r.merge(i));
    REQUIRE(r.merge(Tombstone{"db-2", "node-b", 4, 0}));
    r.set_node(Node{"node-b", "dc1", {}, {}, false});
    r.forget_node("node-b");
    CHECK(r.instances_of("db").empty());
    CHECK(r.tombstones().empty());
    CHECK(r.find_node("node-b") == nullptr);
    CHECK(r.merge(i)); // it may come back
}

TEST_CASE("two-step writes: nothing is seen before apply") {
    Registry r("node-a");
    REQUIRE(r.upsert_local(make_instance("web-1"), 0));
    Instance changed = make_instance("web-1");
    changed.port = 9090;
    auto prepared = r.prepare_upsert(changed, 1);
    REQUIRE(prepared);
    CHECK(prepared->changed);
    CHECK(prepared->instance.version == 2);
    CHECK(prepared->instance.node == "node-a");
    CHECK(r.find_local("web-1")->port == 8080);
    CHECK(r.find_local("web-1")->version == 1);
    r.apply(prepared->instance);
    CHECK(r.find_local("web-1")->port == 9090);
    CHECK(r.find_local("web-1")->version == 2);

    auto same = r.prepare_upsert(changed, 2);
    REQUIRE(same);
    CHECK_FALSE(same->changed);
    CHECK(same->instance.version == 2);

    auto tombstone = r.prepare_deregister("web-1", 3);
    REQUIRE(tombstone);
    CHECK(tombstone->version == 3);
    CHECK(r.find_local("web-1") != nullptr);
    CHECK(r.find_local_tombstone("web-1") == nullptr);
    r.apply(*tombstone);
    CHECK(r.find_local("web-1") == nullptr);
    REQUIRE(r.find_local_tombstone("web-1") != nullptr);
    CHECK(r.find_local_tombstone("web-1")->version == 3);
    CHECK_FALSE(r.prepare_deregister("web-1", 4));
    CHECK_FALSE(r.prepare_maintenance("web-1", true, "x"));
}

TEST_CASE("apply keeps check states reported after the record was prepared") {
    Registry r("node-a");
    Instance i = make_instance("web-1");
    i.checks.push_back(ttl_check("c1", Health::critical));
    REQUIRE(r.upsert_local(i, 0));
    i.port = 9090;
    auto prepared = r.prepare_upsert(i, 1);
    REQUIRE(prepared);
    CheckState passing;
    passing.status = Health::passing;
    REQUIRE(r.update_check("c1", passing));
    r.apply(prepared->instance);
    CHECK(r.find_local("web-1")->port == 9090);
    CHECK(r.find_local("web-1")->checks[0].state.status == Health::passing);
}

TEST_CASE("the version counter refuses to wrap at 2^64-1") {
    Registry r("node-a");
    Instance restored = make_instance("web-1");
    restored.version = std::numeric_limits<std::uint64_t>::max();
    r.apply(restored);
    CHECK(r.version_counter() == std::numeric_limits<std::uint64_t>::max());

    Instance changed = make_instance("web-1");
    changed.port = 9090;
    auto refused = r.upsert_local(changed, 0);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("2^64-1") != std::string::npos);
    CHECK_FALSE(r.upsert_local(make_instance("web-2"), 0));
    CHECK_FALSE(r.deregister_local("web-1", 0));
    CHECK_FALSE(r.set_maintenance("web-1", true, "x"));
    CHECK(r.find_local("web-1")->version == std::numeric_limits<std::uint64_t>::max());
    CHECK(r.find_local("web-1")->port == 8080);
    CHECK(r.version_counter() == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("the listener hears each service's changes, and its node's liveness") {
    Registry r("node-a");
    std::vector<std::string> heard;
    int node_changes = 0;
    r.set_listener({[&](std::string_view s) { heard.emplace_back(s); }, [&] { ++node_changes; }});
    Instance web = make_instance("web-1", "Web");
    web.checks.push_back(ttl_check("hb", Health::passing));
    REQUIRE(r.upsert_local(web, 0));
    CHECK(heard == std::vector<std::string>{"web"});
    heard.clear();

    // A latency drift alone is not a change a reader sees; a status is.
    CheckState state = r.find_local("web-1")->checks[0].state;
    state.latency_us += 1;
    CHECK(r.update_check("hb", state));
    CHECK(heard.empty());
    state.status = Health::critical;
    CHECK(r.update_check("hb", state));
    CHECK(heard == std::vector<std::string>{"web"});
    heard.clear();

    // Renaming an instance's service changes both.
    REQUIRE(r.upsert_local(make_instance("web-1", "api"), 0));
    CHECK(heard == std::vector<std::string>{"web", "api"});
    heard.clear();

    Instance remote = make_instance("db-1", "db");
    remote.node = "node-b";
    remote.version = 50;
    CHECK(r.merge(remote));
    CHECK(heard == std::vector<std::string>{"db"});
    heard.clear();
    r.set_node(Node{"node-b", "dc1", {}, {}, false});
    CHECK(node_changes == 1);
    CHECK(heard == std::vector<std::string>{"db"});
    heard.clear();
    r.forget_node("node-b");
    CHECK(node_changes == 2);
    CHECK(heard == std::vector<std::string>{"db"});
    CHECK(r.deregister_local("web-1", 0));
    CHECK(heard == std::vector<std::string>{"db", "api"});
}
