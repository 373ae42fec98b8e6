#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "registry/replication/message.hpp"
#include "registry/replication/wire.hpp"

using namespace cairn::registry;
using namespace cairn::registry::replication;

namespace {

Instance full_instance() {
    Instance i = test::make_instance("web-1", "web", 7);
    i.node = "agent-a";
    i.version = 300;
    i.tags = {"v2", "primary"};
    i.meta = {{"version", "2.1.0"}};
    i.weight = 10;
    i.policy = Policy::affinity;
    i.ttl_ms = 5000;
    i.maintenance = true;
    i.maintenance_reason = "upgrade";
    Check c = test::ttl_check("web-1:1", Health::warning);
    c.state.output = "slow";
    c.state.last_change_ms = -5; // not a real time, but signed values survive
    c.state.latency_us = 1234;
    i.checks.push_back(c);
    Check h;
    h.definition.id = "web-1:2";
    h.definition.kind = CheckKind::http;
    h.definition.target = "http://127.0.0.1:8080/health";
    h.definition.headers = {{"Host", "x"}};
    h.definition.tls_skip_verify = true;
    h.state.status = Health::passing;
    i.checks.push_back(h);
    return i;
}

template <class T>
T round_trip(const Message& m) {
    auto bytes = encode(m);
    auto decoded = decode(bytes);
    REQUIRE(decoded.has_value());
    REQUIRE(std::holds_alternative<T>(*decoded));
    return std::get<T>(*decoded);
}

} // namespace

TEST_CASE("an update with a full instance survives encode and decode") {
    Instance i = full_instance();
    Update u = round_trip<Update>(Update{"agent-a", 299, i});
    CHECK(u.owner == "agent-a");
    CHECK(u.prev == 299);
    CHECK(std::get<Instance>(u.record) == i);
}

TEST_CASE("an instance with two checks fits a gossip packet") {
    CHECK(encode(Update{"agent-a", 299, full_instance()}).size() < 300);
}

TEST_CASE("tombstones, notices, digests, requests and replies survive encode and decode") {
    Tombstone t{"web-2", "agent-b", 1ULL << 40, 0};
    Update u = round_trip<Update>(Update{"agent-b", 7, t});
    const auto& back = std::get<Tombstone>(u.record);
    CHECK(back.id == "web-2");
    CHECK(back.node == "agent-b");
    CHECK(back.version == 1ULL << 40);

    Notice n = round_trip<Notice>(Notice{"agent-c", 4, 9});
    CHECK((n.owner == "agent-c" && n.prev == 4 && n.version == 9));

    Digest d = round_trip<Digest>(Digest{"agent-a", {{"agent-a", 5}, {"agent-b", ~0ULL}}});
    CHECK(d.from == "agent-a");
    CHECK(d.watermarks ==
          std::vector<std::pair<std::string, std::uint64_t>>{{"agent-a", 5}, {"agent-b", ~0ULL}});

    Request q = round_trip<Request>(Request{"agent-d", {{"agent-b", 0}}});
    CHECK(q.from == "agent-d");
    CHECK(q.wants.size() == 1);

    Reply p = round_trip<Reply>(Reply{"agent-b", "agent-a", 3, 300, true, {full_instance(), t}});
    CHECK(p.from == "agent-b");
    CHECK(p.after == 3);
    CHECK(p.upto == 300);
    CHECK(p.more);
    REQUIRE(p.records.size() == 2);
    CHECK(std::get<Instance>(p.records[0]).node == "agent-a"); // the owner named by the reply
}

TEST_CASE("a summary survives encode and decode; its fingerprint ignores order and zero marks") {
    Summary m = round_trip<Summary>(Summary{"agent-a", 0x0123456789abcdefULL});
    CHECK(m.from == "agent-a");
    CHECK(m.fingerprint == 0x0123456789abcdefULL);
    CHECK(encode(m).size() == 2 + 1 + 7 + 8);

    std::uint64_t f = digest_fingerprint({{"a", 5}, {"b", 7}});
    CHECK(digest_fingerprint({{"b", 7}, {"a", 5}}) == f);
    CHECK(digest_fingerprint({{"b", 7}, {"c", 0}, {"a", 5}}) == f);
    CHECK(digest_fingerprint({{"a", 5}, {"b", 8}}) != f);
    CHECK(digest_fingerprint({{"a", 5}}) != f);
    CHECK(digest_fingerprint({{"a", 5}, {"b", 7}, {"c", 1}}) != f);
    CHECK(digest_fingerprint({{"ab", 5}, {"", 7}}) != digest_fingerprint({{"a", 5}, {"b", 7}}));
    CHECK(digest_fingerprint({}) == digest_fingerprint({{"a", 0}}));
}

TEST_CASE("an audit survives encode and decode; its fingerprint ignores drift, not contents") {
    Audit a = round_trip<Audit>(Audit{"agent-a", 4, 900, 0xfedcba9876543210ULL});
    CHECK(a.from == "agent-a");
    CHECK(a.after == 4);
    CHECK(a.upto == 900);
    CHECK(a.fingerprint == 0xfedcba9876543210ULL);
    auto bytes = encode(Audit{"a", 9, 3, 1});
    CHECK_FALSE(decode(bytes).has_value()); // upto below after

    Instance i = full_instance();
    REQUIRE_FALSE(i.checks.empty());
    Tombstone t{"gone", "agent-a", 12, 5000};
    std::uint64_t f = records_fingerprint(std::vector<Record>{i, t});
    Instance drifted = i;
    drifted.checks[0].state.latency_us += 250;
    drifted.checks[0].state.load = 7;
    Tombstone learned_later = t;
    learned_later.deleted_at_ms += 60'000; // local to each agent, not on the wire
    CHECK(records_fingerprint(std::vector<Record>{drifted, learned_later}) == f);
    Instance changed = i;
    changed.port = static_cast<std::uint16_t>(i.port + 1);
    CHECK(records_fingerprint(std::vector<Record>{changed, t}) != f);
    CHECK(records_fingerprint(std::vector<Record>{i}) != f);
    CHECK(records_fingerprint(std::vector<Record>{t, i}) != f);
}

TEST_CASE("the first byte is the format version; others are refused") {
    auto bytes = encode(Notice{"a", 1, 2});
    CHECK(bytes[0] == 1); // nothing in it needs version 2
    bytes[0] = 3;
    auto decoded = decode(bytes);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.find("format version: 3 is not supported") != std::string::npos);
    bytes[0] = 0;
    CHECK_FALSE(decode(bytes).has_value());
}

TEST_CASE("version 2 carries a check's load; without loads messages stay version 1") {
    Instance plain = full_instance();
    auto v1 = encode(Update{"agent-a", 299, plain});
    CHECK(v1[0] == 1);

    Instance loaded = full_instance();
    loaded.checks[0].state.load = 0; // zero is a load, not its absence
    loaded.checks[1].state.load = 1'000'000'000;
    auto v2 = encode(Update{"agent-a", 299, loaded});
    CHECK(v2[0] == 2);
    CHECK(v2.size() == v1.size() + 1 + 5); // one varint per check
    Update u = round_trip<Update>(Update{"agent-a", 299, loaded});
    CHECK(std::get<Instance>(u.record) == loaded);

    Instance policy = full_instance();
    policy.policy = Policy::least_loaded;
    CHECK(encode(Update{"agent-a", 299, policy})[0] == 2);
    Reply p{"agent-b", "agent-a", 0, 300, false, {Record{plain}, Record{loaded}}};
    auto reply = encode(p);
    CHECK(reply[0] == 2);
    Reply back = round_trip<Reply>(p);
    REQUIRE(back.records.size() == 2);
    CHECK(std::get<Instance>(back.records[1]) == loaded);
    CHECK(encoded_size(Record{loaded}) + 2 <= reply.size());

    // A version 1 message decodes with no loads.
    auto decoded = decode(v1);
    REQUIRE(decoded.has_value());
    CHECK_FALSE(std::get<Instance>(std::get<Update>(*decoded).record).checks[0].state.load);
}

TEST_CASE("malformed messages are refused with an error") {
    auto valid = encode(Reply{"b", "a", 0, 9, false, {full_instance()}});
    SUBCASE("every truncation") {
        for (std::size_t n = 0; n < valid.size(); ++n)
            CHECK_FALSE(decode(std::span(valid.data(), n)).has_value());
    }
    SUBCASE("trailing bytes") {
        valid.push_back(0);
        CHECK_FALSE(decode(valid).has_value());
    }
    SUBCASE("an unknown type") {
        CHECK_FALSE(decode(std::vector<std::uint8_t>{1, 99}).has_value());
        CHECK_FALSE(decode(std::vector<std::uint8_t>{1, 0}).has_value());
    }
    SUBCASE("a count larger than the message") {
        Writer w;
        w.u8(1);
        w.u8(static_cast<std::uint8_t>(MessageType::digest));
        w.bytes("a");
        w.varint(60000);
        CHECK(decode(w.take()).error().message.find("cannot fit") != std::string::npos);
    }
    SUBCASE("a string longer than its bound") {
        Writer w;
        w.u8(1);
        w.u8(static_cast<std::uint8_t>(MessageType::notice));
        w.bytes(std::string(300, 'x'));
        w.varint(1);
        w.varint(2);
        CHECK(decode(w.take()).error().message.find("notice owner") != std::string::npos);
    }
    SUBCASE("an overlong varint") {
        std::vector<std::uint8_t> bytes{1, static_cast<std::uint8_t>(MessageType::notice), 1, 'a'};
        for (int k = 0; k < 11; ++k) bytes.push_back(0xff);
        CHECK_FALSE(decode(bytes).has_value());
    }
    SUBCASE("a reply whose range runs backwards") {
        CHECK_FALSE(decode(encode(Reply{"b", "a", 9, 3, false, {}})).has_value());
    }
}
