// The delegate's own choices, without a cluster: what memberlist's events
// mean to the registry, and what it does with foreign user data.
#include <doctest/doctest.h>

#include "../registry/test_util.hpp"
#include "cluster/registry_delegate.hpp"
#include "registry/registry.hpp"

using namespace cairn;

namespace {

struct Fixture {
    registry::Registry registry{"self"};
    registry::replication::Replica replica{registry, [] { return std::int64_t{1000}; }};
    cluster::RegistryDelegate delegate{replica, [] { return 3; }, {}};

    gossip::Node member(const std::string& name, gossip::NodeState state) {
        gossip::Node n;
        n.name = name;
        n.addr = {10, 0, 0, 9};
        n.port = 7946;
        n.state = state;
        return n;
    }
};

} // namespace

TEST_CASE("a member's address becomes the registry node's") {
    gossip::Node n;
    n.name = "web-1";
    n.addr = {192, 168, 1, 2};
    registry::Node r = cluster::registry_node(n);
    CHECK(r.name == "web-1");
    CHECK(r.address.family == 4);
    CHECK(r.address.bytes[3] == 2);
    n.addr = gossip::Bytes(16, 0);
    CHECK(cluster::registry_node(n).address.family == 6);
}

TEST_CASE("dead hides a member's instances, left forgets them") {
    Fixture f;
    registry::Instance i = registry::test::make_instance("x");
    i.node = "peer";
    i.version = 5;
    REQUIRE(f.registry.merge(i));
    f.delegate.notify_join(f.member("peer", gossip::NodeState::alive));
    CHECK(f.registry.find_node("peer")->alive);

    f.delegate.notify_leave(f.member("peer", gossip::NodeState::dead));
    CHECK_FALSE(f.registry.find_node("peer")->alive);
    CHECK(f.registry.find("peer", "x") != nullptr);

    f.delegate.notify_join(f.member("peer", gossip::NodeState::alive));
    CHECK(f.registry.find_node("peer")->alive);

    f.delegate.notify_leave(f.member("peer", gossip::NodeState::left));
    CHECK(f.registry.find("peer", "x") == nullptr);
}

TEST_CASE("foreign user data is dropped and counted; an empty push-pull state is no error") {
    Fixture f;
    std::vector<std::uint8_t> junk{0x82, 0xa1, 'k'}; // a Go peer's msgpack, say
    f.delegate.notify_msg(junk);
    f.delegate.merge_remote_state(junk, false);
    f.delegate.merge_remote_state({}, true);
    CHECK(f.delegate.stats().dropped_messages == 1);
    CHECK(f.delegate.stats().dropped_states == 1);
    CHECK(f.delegate.metrics().find("cairn_replication_dropped_total{kind=\"message\"} 1\n") !=
          std::string::npos);
    CHECK(f.delegate.metrics().find("cairn_replication_dropped_total{kind=\"state\"} 1\n") !=
          std::string::npos);
}

TEST_CASE("own changes wait in the delegate's queue, named per record") {
    Fixture f;
    registry::Instance i = registry::test::make_instance("x");
    REQUIRE(f.registry.upsert_local(i, 0).has_value());
    f.replica.local_changed();
    auto first = f.delegate.get_broadcasts(2, 1400);
    CHECK(first.size() == 1);
    i.port = 9090; // a newer version of the same record replaces the queued one
    REQUIRE(f.registry.upsert_local(i, 0).has_value());
    f.replica.local_changed();
    REQUIRE(f.registry.upsert_local(registry::test::make_instance("y"), 0).has_value());
    f.replica.local_changed();
    CHECK(f.delegate.get_broadcasts(2, 1400).size() == 2);
    CHECK(f.delegate.queued_broadcasts() == 2);
}
