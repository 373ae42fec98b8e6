#include <doctest/doctest.h>

#include "harness.hpp"

using namespace cairn::registry;
using namespace cairn::registry::replication;
using namespace cairn::registry::replication::test;

namespace {

bool serves(Registry& r, const std::string& service, const std::string& node,
            const std::string& id) {
    auto snapshot = r.publish();
    const ServiceEntry* entry = snapshot->find_service(service);
    if (!entry) return false;
    for (const auto& i : entry->passing)
        if (i->node == node && i->id == id) return true;
    return false;
}

} // namespace

TEST_CASE("a registration reaches a peer as a broadcast and moves its watermark") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock);
    Instance x = a.register_instance("x", "web", clock.now_ms);
    deliver_all({&a, &b});
    CHECK(serves(b.registry, "web", "a", "x"));
    CHECK(b.replica.watermark("a") == x.version);
    CHECK(a.replica.watermark("a") == x.version);
}

TEST_CASE("a gap in an owner's updates is asked of the owner at once") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock);
    a.register_instance("x", "web", clock.now_ms);
    (void)a.replica.take_broadcasts(); // lost
    Instance y = a.register_instance("y", "web", clock.now_ms);
    a.take();
    REQUIRE(b.replica.receive(a.queued.at(0).bytes).has_value());
    CHECK(serves(b.registry, "web", "a", "y"));
    CHECK(b.replica.watermark("a") == 0); // y does not link to what b holds
    auto asked = b.replica.take_outgoing();
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].to == "a");

    REQUIRE(a.replica.receive(asked[0].bytes).has_value());
    for (const Outgoing& o : a.replica.take_outgoing())
        REQUIRE(b.replica.receive(o.bytes).has_value());
    CHECK(serves(b.registry, "web", "a", "x"));
    CHECK(b.replica.watermark("a") == y.version);
}

TEST_CASE("a lost last update is found by push-pull") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock);
    a.register_instance("x", "web", clock.now_ms);
    deliver_all({&a, &b});
    Instance y = a.register_instance("y", "web", clock.now_ms);
    (void)a.replica.take_broadcasts(); // lost, and nothing follows it
    CHECK(b.replica.watermark("a") < y.version);
    push_pull(a, b);
    deliver_all({&a, &b});
    CHECK(serves(b.registry, "web", "a", "y"));
    CHECK(b.replica.watermark("a") == y.version);
}

TEST_CASE("push-pull carries a summary; only a difference costs the whole digests") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock), c("c", clock);
    a.register_instance("x", "web", clock.now_ms);
    c.register_instance("w", "db", clock.now_ms);
    deliver_all({&a, &b, &c});

    // Equal digests: a summary each way, and nothing follows.
    auto from_a = a.replica.local_state();
    CHECK(from_a.size() < 20);
    REQUIRE(std::get<Summary>(decode(from_a).value()).from == "a");
    // The first time, each sends the other one audit of its own records
    // from after its start, as after a first digest; equal copies: no reply.
    push_pull(a, b);
    auto audits = a.replica.take_outgoing();
    REQUIRE(audits.size() == 1);
    CHECK(std::holds_alternative<Audit>(decode(audits[0].bytes).value()));
    REQUIRE(b.replica.receive(audits[0].bytes).has_value());
    CHECK(b.replica.take_outgoing().empty()); // (b wrote nothing: it has nothing to audit)
    push_pull(a, b);
    CHECK(a.replica.take_outgoing().empty());
    CHECK(b.replica.take_outgoing().empty());

    // A lost update: the summaries differ, both sides send their digest,
    // each peer answers it once, and what was lost is asked for.
    Instance y = a.register_instance("y", "web", clock.now_ms);
    (void)a.replica.take_broadcasts();
    push_pull(a, b);
    auto a_out = a.replica.take_outgoing(), b_out = b.replica.take_outgoing();
    REQUIRE(a_out.size() == 1);
    REQUIRE(b_out.size() == 1);
    CHECK(std::get<Digest>(decode(a_out[0].bytes).value()).answer);
    REQUIRE(b.replica.receive(a_out[0].bytes).has_value());
    REQUIRE(a.replica.receive(b_out[0].bytes).has_value());
    // Each had sent its own digest already: no digest comes back, only b's request.
    CHECK(a.replica.take_outgoing().empty());
    auto asked = b.replica.take_outgoing();
    REQUIRE(asked.size() == 1);
    CHECK(std::holds_alternative<Request>(decode(asked[0].bytes).value()));
    REQUIRE(a.replica.receive(asked[0].bytes).has_value());
    deliver_all({&a, &b});
    CHECK(serves(b.registry, "web", "a", "y"));
    CHECK(b.replica.watermark("a") == y.version);

    // One way only (the other side's merge lost): the summary's receiver
    // asks for the sender's digest, so it still catches up.
    Instance z = a.register_instance("z", "web", clock.now_ms);
    (void)a.replica.take_broadcasts();
    REQUIRE(c.replica.merge_remote_state(a.replica.local_state()).has_value());
    deliver_all({&a, &c});
    CHECK(serves(c.registry, "web", "a", "z"));
    CHECK(c.replica.watermark("a") == z.version);
    CHECK(c.replica.watermark("c") == a.replica.watermark("c"));
}

TEST_CASE("updates arriving out of order move the watermark once the gap fills") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock);
    a.register_instance("x", "web", clock.now_ms);
    auto first = a.replica.take_broadcasts();
    Instance y = a.register_instance("y", "web", clock.now_ms);
    auto second = a.replica.take_broadcasts();
    REQUIRE(b.replica.receive(second.at(0).bytes).has_value());
    CHECK(b.replica.watermark("a") == 0);
    REQUIRE(b.replica.receive(first.at(0).bytes).has_value());
    CHECK(b.replica.watermark("a") == y.version);
}

TEST_CASE("a tombstone beats a stale copy that arrives later") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock);
    a.register_instance("x", "web", clock.now_ms);
    auto registration = a.replica.take_broadcasts();
    a.deregister("x", clock.now_ms);
    deliver_all({&a, &b});
    REQUIRE(b.replica.receive(registration.at(0).bytes).has_value()); // replayed late
    CHECK_FALSE(serves(b.registry, "web", "a", "x"));
    CHECK(b.registry.find("a", "x") == nullptr);
}

TEST_CASE("a health change spreads; a critical instance is not served") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock);
    a.register_instance("x", "web", clock.now_ms);
    deliver_all({&a, &b});
    a.set_health("x", Health::critical);
    deliver_all({&a, &b});
    CHECK_FALSE(serves(b.registry, "web", "a", "x"));
    CHECK(b.registry.find("a", "x")->health() == Health::critical);
}

TEST_CASE("a failed node's instances leave the snapshot and return when it is alive") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock);
    a.register_instance("x", "web", clock.now_ms);
    deliver_all({&a, &b});
    b.replica.node_failed("a");
    CHECK_FALSE(serves(b.registry, "web", "a", "x"));
    CHECK(b.registry.find("a", "x") != nullptr); // kept
    b.replica.node_alive(Node{"a", "dc1", {}, {}, true});
    CHECK(serves(b.registry, "web", "a", "x")); // no re-registration needed
}

TEST_CASE("a node that left is forgotten and what others still carry of it is ignored") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock), c("c", clock);
    a.register_instance("x", "web", clock.now_ms);
    deliver_all({&a, &b, &c});
    b.replica.node_left("a");
    CHECK(b.registry.find("a", "x") == nullptr);
    push_pull(b, c); // c still holds a's records
    deliver_all({&b, &c});
    CHECK(b.registry.find("a", "x") == nullptr);

    b.replica.node_alive(Node{"a", "dc1", {}, {}, true}); // it joins again
    push_pull(b, a);
    deliver_all({&a, &b});
    CHECK(serves(b.registry, "web", "a", "x"));
}

TEST_CASE(
    "tombstones are collected by the time this agent learned of them, not the owner's clock") {
    ManualClock clock;
    ReplicaOptions options;
    options.tombstone_ttl_ms = 60'000;
    Agent a("a", clock, options), b("b", clock, options);
    a.register_instance("x", "web", clock.now_ms);
    deliver_all({&a, &b});
    a.deregister("x", 5); // the owner's clock is far in the past
    deliver_all({&a, &b});
    b.replica.collect_garbage();
    CHECK(b.registry.tombstones().size() == 1); // learned just now
    clock.now_ms += 60'001;
    b.replica.collect_garbage();
    CHECK(b.registry.tombstones().empty());
}

TEST_CASE("a failed node's tombstones stay until its records go") {
    ManualClock clock;
    ReplicaOptions options;
    options.tombstone_ttl_ms = 1000;
    Agent a("a", clock, options), b("b", clock, options);
    a.register_instance("x", "web", clock.now_ms);
    a.register_instance("y", "web", clock.now_ms);
    a.deregister("x", clock.now_ms);
    deliver_all({&a, &b});
    b.replica.node_failed("a");
    clock.now_ms += 5000;
    b.replica.collect_garbage();
    CHECK(b.registry.tombstones().size() == 1);
    b.replica.node_left("a"); // reaped: records and tombstones together
    CHECK(b.registry.tombstones().empty());
    CHECK(b.registry.find("a", "y") == nullptr);
}

TEST_CASE("a restarted agent writes again, above them, its records the cluster holds from before") {
    ManualClock clock;
    Agent b("b", clock);
    Instance x_persisted;
    {
        Agent a("a", clock);
        x_persisted = a.register_instance("x", "web", clock.now_ms);
        a.register_instance("y", "web", clock.now_ms); // lost in the crash
        a.deregister("x", clock.now_ms);               // lost too
        deliver_all({&a, &b});
    }
    CHECK(b.registry.find("a", "x") == nullptr);
    CHECK(b.registry.find("a", "y") != nullptr);

    // The restarted agent loads what was persisted before the crash: x only.
    Agent a("a", clock);
    REQUIRE(a.registry.upsert_local(x_persisted, clock.now_ms).has_value());
    // It registers z, whose version may be one the old agent used already.
    a.register_instance("z", "api", clock.now_ms);
    deliver_all({&a, &b});
    push_pull(a, b);
    deliver_all({&a, &b});
    push_pull(a, b);
    deliver_all({&a, &b});

    CHECK(serves(b.registry, "web", "a", "x"));  // the agent's own view wins
    CHECK(b.registry.find("a", "y") == nullptr); // tombstoned by its owner
    CHECK(serves(b.registry, "api", "a", "z"));
    CHECK(a.replica.stats().own_records_superseded > 0);
    CHECK(b.replica.watermark("a") == a.replica.watermark("a"));
}

TEST_CASE("a restarted agent finds, by an audit, a copy from before that has its version again") {
    ManualClock clock;
    Agent b("b", clock);
    Instance x_persisted;
    {
        Agent a("a", clock);
        x_persisted = a.register_instance("x", "web", clock.now_ms);
        a.register_instance("y", "web", clock.now_ms); // lost in the crash
        a.register_instance("u", "web", clock.now_ms); // and this one
        deliver_all({&a, &b});
    }
    // Restarted with x only, a registers z, which takes u's version: b's
    // watermark for a and a's own are equal again, so no digest differs.
    Agent a("a", clock);
    REQUIRE(a.registry.upsert_local(x_persisted, clock.now_ms).has_value());
    Instance z = a.register_instance("z", "api", clock.now_ms);
    REQUIRE(z.version == b.registry.find("a", "u")->version);
    deliver_all({&a, &b});
    CHECK(b.replica.watermark("a") == a.replica.watermark("a"));

    push_pull(a, b);
    auto audits = a.replica.take_outgoing();
    REQUIRE(audits.size() == 1);
    REQUIRE(std::holds_alternative<Audit>(decode(audits[0].bytes).value()));
    REQUIRE(b.replica.receive(audits[0].bytes).has_value());
    auto replies = b.replica.take_outgoing();
    REQUIRE_FALSE(replies.empty()); // the copies differ: b sends what it holds
    bool replied = false;
    for (const Outgoing& o : replies) {
        replied = replied || std::holds_alternative<Reply>(decode(o.bytes).value());
        REQUIRE(a.replica.receive(o.bytes).has_value());
    }
    CHECK(replied);
    deliver_all({&a, &b});

    CHECK(a.replica.stats().own_records_superseded > 0);
    CHECK(b.registry.find("a", "u") == nullptr); // tombstoned by its owner
    CHECK(b.registry.find("a", "y") == nullptr);
    CHECK(serves(b.registry, "api", "a", "z"));
    CHECK(serves(b.registry, "web", "a", "x"));
    CHECK(b.replica.watermark("a") == a.replica.watermark("a"));
}

TEST_CASE("a record too large for a packet goes as a notice and is fetched over a stream") {
    ManualClock clock;
    ReplicaOptions options;
    options.max_update_bytes = 32;
    Agent a("a", clock, options), b("b", clock, options);
    Instance x = a.register_instance("x", "web", clock.now_ms);
    auto broadcasts = a.replica.take_broadcasts();
    REQUIRE(broadcasts.size() == 1);
    CHECK(broadcasts[0].bytes.size() <= 32);
    CHECK(std::holds_alternative<Notice>(*decode(broadcasts[0].bytes)));
    REQUIRE(b.replica.receive(broadcasts[0].bytes).has_value());
    auto out = b.replica.take_outgoing();
    REQUIRE(out.size() == 1);
    CHECK(out[0].to == "a");
    REQUIRE(a.replica.receive(out[0].bytes).has_value());
    for (const Outgoing& o : a.replica.take_outgoing())
        REQUIRE(b.replica.receive(o.bytes).has_value());
    CHECK(serves(b.registry, "web", "a", "x"));
    CHECK(b.replica.watermark("a") == x.version);
}

TEST_CASE("an answer is chunked and bounded; the asker continues where it stopped") {
    ManualClock clock;
    ReplicaOptions options;
    options.max_chunk_bytes = 1000;
    options.max_answer_bytes = 3000;
    Agent a("a", clock, options), b("b", clock, options);
    for (int k = 0; k < 100; ++k) {
        std::string id = "i"; // not "i" + std::to_string(k): GCC 12 -O3 -Wrestrict false positive
        id += std::to_string(k);
        a.register_instance(id, "web", clock.now_ms);
    }
    (void)a.replica.take_broadcasts(); // all lost
    // A join's push-pull: the whole digests (no summaries), so b asks at once.
    REQUIRE(a.replica.merge_remote_state(b.replica.local_state(true)).has_value());
    REQUIRE(b.replica.merge_remote_state(a.replica.local_state(true)).has_value());
    auto request = b.replica.take_outgoing();
    REQUIRE(request.size() == 1);
    REQUIRE(a.replica.receive(request[0].bytes).has_value());
    auto chunks = a.replica.take_outgoing();
    std::size_t total = 0;
    for (const Outgoing& o : chunks) {
        CHECK(o.bytes.size() <= 1200);
        total += o.bytes.size();
    }
    CHECK(total <= 3000 + 1200);
    for (const Outgoing& o : chunks) REQUIRE(b.replica.receive(o.bytes).has_value());
    CHECK(b.replica.watermark("a") > 0);
    CHECK(b.replica.watermark("a") < a.replica.watermark("a"));
    deliver_all({&a, &b}); // the follow-up requests
    CHECK(b.replica.watermark("a") == a.replica.watermark("a"));
    CHECK(b.registry.instances_of("web").size() == 100);
}

TEST_CASE("garbage in messages and push-pull state is refused and counted") {
    ManualClock clock;
    Agent a("a", clock);
    std::vector<std::uint8_t> junk{1, 2, 3};
    CHECK_FALSE(a.replica.receive(junk).has_value());
    CHECK_FALSE(a.replica.merge_remote_state(junk).has_value());
    CHECK_FALSE(a.replica.merge_remote_state(encode(Notice{"b", 0, 1})).has_value());
    CHECK(a.replica.stats().decode_errors == 3);
}

TEST_CASE("a failed node that membership reaped is forgotten with its records") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock), c("c", clock);
    a.register_instance("x", "web", clock.now_ms);
    c.register_instance("y", "web", clock.now_ms);
    deliver_all({&a, &b, &c});
    b.replica.node_failed("a");
    b.replica.node_failed("c");
    b.replica.forget_reaped([](const std::string& name) { return name == "c"; }); // a is gone
    CHECK(b.registry.find("a", "x") == nullptr);
    CHECK(b.registry.find("c", "y") != nullptr); // still a (dead) member: kept
}

TEST_CASE("a write prepared before another and applied after it still reaches the peers") {
    ManualClock clock;
    Agent a("a", clock), b("b", clock);
    auto prepared = a.registry.prepare_upsert(cairn::registry::test::make_instance("slow"), 0);
    REQUIRE(prepared.has_value());
    Instance fast = a.register_instance("fast", "web", clock.now_ms); // applied at once, newer
    deliver_all({&a, &b});
    CHECK(b.replica.watermark("a") == fast.version);

    a.registry.apply(prepared->instance); // lands below what b counts itself complete to
    a.replica.local_changed();
    deliver_all({&a, &b});
    const Instance* slow = b.registry.find("a", "slow");
    REQUIRE(slow != nullptr);
    CHECK(slow->version > fast.version);
    CHECK(b.replica.watermark("a") == a.replica.watermark("a"));
}
