#include <doctest/doctest.h>

#include "registry/registry.hpp"
#include "test_util.hpp"

using namespace cairn::registry;
using cairn::registry::test::make_instance;
using cairn::registry::test::ttl_check;

namespace {

std::vector<std::string> ids(const std::vector<std::shared_ptr<const Instance>>& list) {
    std::vector<std::string> out;
    for (const auto& i : list) out.push_back(i->id);
    return out;
}

} // namespace

TEST_CASE("publish builds a snapshot; an unchanged registry returns the same one") {
    Registry r("node-a");
    CHECK(r.dirty());
    auto empty = r.publish();
    CHECK(empty->generation() == 1);
    CHECK(empty->find_service("web") == nullptr);
    CHECK_FALSE(r.dirty());
    CHECK(r.publish() == empty);

    REQUIRE(r.upsert_local(make_instance("web-1", "Web"), 0));
    CHECK(r.dirty());
    auto snap = r.publish();
    CHECK(snap->generation() == 2);
    const ServiceEntry* web = snap->find_service("web");
    REQUIRE(web != nullptr);
    CHECK(web->name == "web");
    CHECK(ids(web->passing) == std::vector<std::string>{"web-1"});
    CHECK(snap->service_count() == 1);
    CHECK(empty->find_service("web") == nullptr); // the old snapshot did not change
}

TEST_CASE("unchanged services are shared between snapshots") {
    Registry r("node-a");
    for (int i = 0; i < 500; ++i)
        REQUIRE(r.upsert_local(make_instance("svc-" + std::to_string(i), "svc" + std::to_string(i)),
                               0));
    auto first = r.publish();
    CHECK(first->service_count() == 500);

    Instance changed = make_instance("svc-7", "svc7");
    changed.port = 1234;
    REQUIRE(r.upsert_local(changed, 0));
    auto second = r.publish();
    CHECK(second->service_count() == 500);

    CHECK(second->find_service("svc7") != first->find_service("svc7"));
    CHECK(second->find_service("svc7")->passing[0]->port == 1234);
    CHECK(first->find_service("svc7")->passing[0]->port == 8080);
    int shared = 0;
    for (int i = 0; i < 500; ++i) {
        std::string name = "svc" + std::to_string(i);
        if (first->find_service(name) == second->find_service(name)) ++shared;
    }
    CHECK(shared == 499);
}

TEST_CASE("serving lists leave out critical, maintenance and dead-node instances") {
    Registry r("node-a");
    Instance passing = make_instance("p", "web");
    passing.tags = {"v2"};
    Instance warning = make_instance("w", "web");
    warning.checks = {ttl_check("w:1", Health::warning)};
    warning.tags = {"v2", "V2"};
    Instance critical = make_instance("c", "web");
    critical.checks = {ttl_check("c:1", Health::critical)};
    Instance maint = make_instance("m", "web");
    REQUIRE(r.upsert_local(passing, 0));
    REQUIRE(r.upsert_local(warning, 0));
    REQUIRE(r.upsert_local(critical, 0));
    REQUIRE(r.upsert_local(maint, 0));
    REQUIRE(r.set_maintenance("m", true, "x"));
    Instance remote = make_instance("r", "web");
    remote.node = "node-b";
    remote.version = 1;
    REQUIRE(r.merge(remote));

    auto snap = r.publish();
    const ServiceEntry* web = snap->find_service("web");
    REQUIRE(web);
    CHECK(web->total == 5);
    CHECK(ids(web->passing) == std::vector<std::string>{"p", "r"}); // sorted by (node, id)
    CHECK(ids(web->warning) == std::vector<std::string>{"w"});
    const TagIndex* v2 = web->find_tag("v2");
    REQUIRE(v2);
    REQUIRE(v2->passing_pools.any.size() == 1);
    CHECK(v2->passing_pools.any.position(0) == 0);
    REQUIRE(v2->warning_pools.any.size() == 1); // listed once despite "v2" and "V2"
    CHECK(v2->warning_pools.any.position(0) == 0);
    CHECK(web->find_tag("v3") == nullptr);

    SUBCASE("a dead node's instances leave, and come back with it") {
        r.set_node(Node{"node-b", "dc1", {}, {}, false});
        auto dead = r.publish();
        CHECK(ids(dead->find_service("web")->passing) == std::vector<std::string>{"p"});
        REQUIRE(dead->find_node("node-b"));
        CHECK_FALSE(dead->find_node("node-b")->alive);
        r.set_node(Node{"node-b", "dc1", {}, {}, true});
        CHECK(ids(r.publish()->find_service("web")->passing) == std::vector<std::string>{"p", "r"});
    }
    SUBCASE("a check result moves an instance between lists") {
        CheckState ok;
        ok.status = Health::passing;
        REQUIRE(r.update_check("c:1", ok));
        CHECK(ids(r.publish()->find_service("web")->passing) ==
              std::vector<std::string>{"c", "p", "r"});
    }
    SUBCASE("a service with nothing left leaves the snapshot") {
        for (const char* id : {"p", "w", "c", "m"}) REQUIRE(r.deregister_local(id, 0));
        REQUIRE(r.merge(Tombstone{"r", "node-b", 2, 0}));
        auto gone = r.publish();
        CHECK(gone->find_service("web") == nullptr);
        CHECK(gone->service_count() == 0);
    }
}

TEST_CASE("nodes are found case-insensitively") {
    Registry r("Node-A");
    r.set_node(
        Node{"Node-A", "dc1", cairn::registry::test::ipv4(127, 0, 0, 1), {{"role", "edge"}}, true});
    auto snap = r.publish();
    REQUIRE(snap->find_node("node-a"));
    CHECK(snap->find_node("node-a")->name == "Node-A");
    CHECK(snap->nodes().size() == 1);
    CHECK(snap->find_node("node-b") == nullptr);
}

TEST_CASE("the service policy and the round-robin counter") {
    Registry r("node-a");
    Instance a = make_instance("a", "web");
    a.policy = Policy::weighted;
    REQUIRE(r.upsert_local(a, 0));
    REQUIRE(r.upsert_local(make_instance("b", "web"), 0));
    auto snap = r.publish();
    const ServiceEntry* web = snap->find_service("web");
    CHECK(web->policy == Policy::weighted);
    CHECK(web->rotation.next() == 0);
    CHECK(web->rotation.next() == 1);

    REQUIRE(r.upsert_local(make_instance("c", "web"), 0));
    const ServiceEntry* rebuilt = r.publish()->find_service("web");
    CHECK(rebuilt != web);
    CHECK(rebuilt->rotation.next() == 2); // carried over
}

TEST_CASE("SnapshotSlot swaps snapshots") {
    Registry r("node-a");
    SnapshotSlot slot;
    CHECK(slot.generation() == 0);
    CHECK(slot.load() == nullptr);
    auto s1 = r.publish();
    slot.store(s1);
    CHECK(slot.generation() == 1);
    CHECK(slot.load() == s1);
}
