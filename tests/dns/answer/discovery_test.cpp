// Discovery answers (docs/discovery.md) through a Catalog Responder over a real
// registry snapshot, read back with ldns. No sockets.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>

#include "dns/answer/discovery_name.hpp"
#include "registry/registry.hpp"

#include "alloc_counter.hpp"
#include "asker.hpp"

using namespace cairn;
using namespace cairn::dns;
using cairn::dns::test::Asker;
using cairn::dns::test::QueryOptions;
using cairn::dns::test::Reply;
using registry::Health;
using registry::Instance;

namespace {

registry::Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    registry::Address addr;
    addr.family = 4;
    addr.bytes = {a, b, c, d};
    return addr;
}

registry::Address v6_last(std::uint8_t last) {
    registry::Address addr;
    addr.family = 6;
    addr.bytes = {0x20, 0x01, 0x0d, 0xb8};
    addr.bytes[15] = last;
    return addr;
}

Instance web(std::string id, registry::Address address, std::uint16_t port = 8080) {
    Instance i;
    i.id = std::move(id);
    i.service = "web";
    i.address = address;
    i.port = port;
    return i;
}

registry::Check check(std::string id, Health status) {
    registry::Check c;
    c.definition.id = std::move(id);
    c.definition.kind = registry::CheckKind::ttl;
    c.definition.ttl_ms = 10'000;
    c.state.status = status;
    return c;
}

Settings settings() {
    Settings s;
    s.node_name = "agent-1";
    s.node_address = v4(127, 0, 0, 1);
    s.service_ttl_s = 5;
    s.negative_ttl_s = 7;
    return s;
}

// A responder over a registry: put instances in, publish, ask.
struct Fixture {
    registry::Registry registry{"agent-1"};
    Asker asker;

    explicit Fixture(Settings s = settings())
        : asker(nullptr, std::move(s)) {}

    void add(Instance i) {
        auto r = registry.upsert_local(std::move(i), 0);
        REQUIRE(r);
    }
    void publish() { asker.slot().store(registry.publish()); }
    Reply ask(const std::string& name, std::uint16_t type, const QueryOptions& o = {},
              Transport t = Transport::udp) {
        return asker.ask(name, type, o, t);
    }
};

std::vector<std::uint8_t> ecs_option(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                     std::uint8_t source) {
    std::vector<std::uint8_t> o;
    test::push16(o, 8);
    test::push16(o, 4 + 3);
    test::push16(o, 1);
    o.push_back(source);
    o.push_back(0);
    o.push_back(a);
    o.push_back(b);
    o.push_back(c);
    return o;
}

QueryOptions with_edns() {
    QueryOptions o;
    o.edns = true;
    return o;
}

} // namespace

TEST_CASE("parse_discovery_name reads every form") {
    auto parse = [](const char* text) {
        static NameBuffer buffer;
        buffer = *name_from_text(text);
        return parse_discovery_name(buffer.name());
    };
    auto n = parse("web.service.");
    CHECK(n.kind == DiscoveryKind::service);
    CHECK(n.service == "web");
    CHECK(n.tag.empty());
    n = parse("v2.web.service.");
    CHECK(n.tag == "v2");
    CHECK(n.service == "web");
    n = parse("_web._tcp.service.");
    CHECK(n.kind == DiscoveryKind::service);
    CHECK(n.service == "web");
    CHECK(n.tag.empty());
    n = parse("_web._v2.");
    CHECK(n.service == "web");
    CHECK(n.tag == "v2");
    n = parse("_web._udp.");
    CHECK(n.tag.empty());
    CHECK(parse("0a000001.addr.").kind == DiscoveryKind::addr);
    CHECK(parse("agent-1.node.").label == "agent-1");
    CHECK(parse(".").kind == DiscoveryKind::apex);
    CHECK(parse("ns.").kind == DiscoveryKind::ns);
    CHECK(parse("service.").kind == DiscoveryKind::unknown);
    CHECK(parse("a.b.web.service.").kind == DiscoveryKind::unknown);
    CHECK(parse("_web.v2.service.").kind == DiscoveryKind::unknown);
    CHECK(parse("web.other.").kind == DiscoveryKind::unknown);

    std::array<std::uint8_t, 16> bytes{};
    CHECK(decode_addr_label("0a000001", bytes.data()) == 4);
    CHECK(bytes[0] == 10);
    CHECK(bytes[3] == 1);
    CHECK(decode_addr_label("20010db8000000000000000000000001", bytes.data()) == 6);
    CHECK(decode_addr_label("0a00001", bytes.data()) == 0);
    CHECK(decode_addr_label("0a00000g", bytes.data()) == 0);
}

TEST_CASE("A answers list the healthy instances of the service") {
    Fixture f;
    f.add(web("web-1", v4(10, 0, 0, 1)));
    f.add(web("web-2", v4(10, 0, 0, 2)));
    Instance sick = web("web-3", v4(10, 0, 0, 3));
    sick.checks = {check("web-3:1", Health::critical)};
    f.add(sick);
    f.add(web("web-6", v6_last(6)));
    f.publish();

    Reply r = f.ask("Web.Service.Cairn.", rrtype::a);
    CHECK(r.rcode() == rcode::noerror);
    CHECK(r.aa());
    CHECK(r.answer == std::set<std::string>{"web.service.cairn. 5 A 10.0.0.1",
                                            "web.service.cairn. 5 A 10.0.0.2"});
    CHECK(r.authority.empty());

    Reply aaaa = f.ask("web.service.cairn.", rrtype::aaaa);
    CHECK(aaaa.answer == std::set<std::string>{"web.service.cairn. 5 AAAA 2001:db8::6"});

    SUBCASE("the datacenter label is optional; another datacenter is unknown") {
        CHECK(f.ask("web.service.dc1.cairn.", rrtype::a).answer.size() == 2);
        Reply other = f.ask("web.service.dc2.cairn.", rrtype::a);
        CHECK(other.rcode() == rcode::nxdomain);
    }
    SUBCASE("a deregistered instance is gone from the next answer") {
        REQUIRE(f.registry.deregister_local("web-1", 0));
        f.publish();
        CHECK(f.ask("web.service.cairn.", rrtype::a).answer ==
              std::set<std::string>{"web.service.cairn. 5 A 10.0.0.2"});
    }
}

TEST_CASE("unknown service: NXDOMAIN; nothing servable: NODATA; both with the SOA") {
    Fixture f;
    Instance sick = web("web-1", v4(10, 0, 0, 1));
    sick.checks = {check("web-1:1", Health::critical)};
    f.add(sick);
    f.add(web("web-6", v6_last(6)));
    f.publish();

    Reply unknown = f.ask("nope.service.cairn.", rrtype::a);
    CHECK(unknown.rcode() == rcode::nxdomain);
    CHECK(unknown.answer.empty());
    CHECK(unknown.authority.size() == 1);
    CHECK(unknown.authority.begin()->find(" SOA ns.cairn. hostmaster.cairn. ") !=
          std::string::npos);
    CHECK(unknown.authority.begin()->ends_with(" 7"));

    Reply nodata = f.ask("web.service.cairn.", rrtype::a); // only an IPv6 one is healthy
    CHECK(nodata.rcode() == rcode::noerror);
    CHECK(nodata.answer.empty());
    CHECK(nodata.authority.size() == 1);

    CHECK(f.ask("web.service.cairn.", rrtype::mx).answer.empty());
    CHECK(f.ask("web.service.cairn.", rrtype::mx).rcode() == rcode::noerror);
    CHECK(f.ask("bogus.cairn.", rrtype::a).rcode() == rcode::nxdomain);
    CHECK(f.ask("a.b.c.service.cairn.", rrtype::a).rcode() == rcode::nxdomain);

    SUBCASE("before the first snapshot every service is unknown") {
        Fixture empty;
        CHECK(empty.ask("web.service.cairn.", rrtype::a).rcode() == rcode::nxdomain);
    }
}

TEST_CASE("SRV: priority from health, weight, port, target .addr. with its address in additional") {
    Settings s = settings();
    s.serve_warning = ServeWarning::always;
    Fixture f(s);
    Instance a = web("web-1", v4(10, 0, 0, 1), 8081);
    a.weight = 10;
    Instance b = web("web-2", v6_last(2), 8082);
    b.checks = {check("web-2:1", Health::warning)};
    f.add(a);
    f.add(b);
    f.publish();

    for (const char* name :
         {"_web._tcp.service.cairn.", "_web._tcp.cairn.", "web.service.cairn."}) {
        Reply r = f.ask(name, rrtype::srv, with_edns());
        CAPTURE(name);
        std::string owner = std::string(name);
        CHECK(r.answer ==
              std::set<std::string>{
                  owner + " 5 SRV 1 10 8081 0a000001.addr.cairn.",
                  owner + " 5 SRV 2 1 8082 20010db8000000000000000000000002.addr.cairn."});
        CHECK(r.additional ==
              std::set<std::string>{
                  "0a000001.addr.cairn. 5 A 10.0.0.1",
                  "20010db8000000000000000000000002.addr.cairn. 5 AAAA 2001:db8::2"});
    }
    // The targets resolve.
    CHECK(f.ask("0a000001.addr.cairn.", rrtype::a).answer ==
          std::set<std::string>{"0a000001.addr.cairn. 30 A 10.0.0.1"});
    CHECK(f.ask("20010db8000000000000000000000002.addr.cairn.", rrtype::aaaa).answer.size() == 1);
    Reply wrong_family = f.ask("0a000001.addr.cairn.", rrtype::aaaa);
    CHECK(wrong_family.rcode() == rcode::noerror);
    CHECK(wrong_family.answer.empty());
    CHECK(wrong_family.authority.size() == 1);
    CHECK(f.ask("0a0000zz.addr.cairn.", rrtype::a).rcode() == rcode::nxdomain);
}

TEST_CASE("tags filter, in both name forms") {
    Fixture f;
    Instance a = web("web-1", v4(10, 0, 0, 1));
    a.tags = {"v2", "Primary"};
    Instance b = web("web-2", v4(10, 0, 0, 2));
    b.tags = {"v1"};
    f.add(a);
    f.add(b);
    f.publish();
    CHECK(f.ask("v2.web.service.cairn.", rrtype::a).answer ==
          std::set<std::string>{"v2.web.service.cairn. 5 A 10.0.0.1"});
    CHECK(f.ask("PRIMARY.web.service.cairn.", rrtype::a).answer.size() == 1);
    CHECK(f.ask("_web._v1.service.cairn.", rrtype::srv).answer ==
          std::set<std::string>{"_web._v1.service.cairn. 5 SRV 1 1 8080 0a000002.addr.cairn."});
    Reply none = f.ask("v3.web.service.cairn.", rrtype::a);
    CHECK(none.rcode() == rcode::noerror); // the service exists
    CHECK(none.answer.empty());
}

TEST_CASE("TXT: one record per instance with its metadata") {
    Fixture f;
    Instance a = web("web-1", v4(10, 0, 0, 1));
    a.meta = {{"version", "2.1.0"}, {"zone", "a"}};
    Instance b = web("web-2", v4(10, 0, 0, 2));
    b.meta = {{"version", "2.0.9"}};
    f.add(a);
    f.add(b);
    f.add(web("web-3", v4(10, 0, 0, 3))); // no metadata, no record
    f.publish();
    CHECK(f.ask("web.service.cairn.", rrtype::txt).answer ==
          std::set<std::string>{"web.service.cairn. 5 TXT \"version=2.1.0\" \"zone=a\"",
                                "web.service.cairn. 5 TXT \"version=2.0.9\""});
}

TEST_CASE("serve_warning: fallback, always, never") {
    auto build = [](ServeWarning mode, bool with_passing) {
        Settings s = settings();
        s.serve_warning = mode;
        auto f = std::make_unique<Fixture>(s);
        if (with_passing) f->add(web("web-1", v4(10, 0, 0, 1)));
        Instance w = web("web-2", v4(10, 0, 0, 2));
        w.checks = {check("web-2:1", Health::warning)};
        f->add(w);
        f->publish();
        return f;
    };
    CHECK(build(ServeWarning::fallback, true)->ask("web.service.cairn.", rrtype::a).answer.size() ==
          1);
    CHECK(build(ServeWarning::fallback, false)->ask("web.service.cairn.", rrtype::a).answer ==
          std::set<std::string>{"web.service.cairn. 5 A 10.0.0.2"});
    CHECK(build(ServeWarning::always, true)->ask("web.service.cairn.", rrtype::a).answer.size() ==
          2);
    CHECK(build(ServeWarning::never, false)->ask("web.service.cairn.", rrtype::a).answer.empty());
    CHECK(
        build(ServeWarning::never, false)->ask("web.service.cairn.", rrtype::a).authority.size() ==
        1);
}

TEST_CASE("TTL: the instance's own, else service_ttl") {
    Fixture f;
    Instance a = web("web-1", v4(10, 0, 0, 1));
    a.ttl_ms = 60'000;
    f.add(a);
    f.publish();
    CHECK(f.ask("web.service.cairn.", rrtype::a).answer ==
          std::set<std::string>{"web.service.cairn. 60 A 10.0.0.1"});
}

TEST_CASE("answer_limit caps without TC; records that do not fit set TC and TCP gets them all") {
    Settings limited = settings();
    limited.answer_limit = 3;
    Fixture f(limited);
    for (std::uint8_t i = 1; i <= 200; ++i) f.add(web("web-" + std::to_string(i), v4(10, 0, 1, i)));
    f.publish();
    Reply capped = f.ask("web.service.cairn.", rrtype::a);
    CHECK(capped.answer.size() == 3);
    CHECK_FALSE(capped.tc());

    Fixture g;
    for (std::uint8_t i = 1; i <= 200; ++i) g.add(web("web-" + std::to_string(i), v4(10, 0, 1, i)));
    g.publish();
    Reply udp = g.ask("web.service.cairn.", rrtype::a);
    CHECK(udp.tc());
    CHECK(udp.answer.size() > 0);
    CHECK(udp.answer.size() < 200);
    CHECK(udp.size <= 512);
    Reply tcp = g.ask("web.service.cairn.", rrtype::a, {}, Transport::tcp);
    CHECK_FALSE(tcp.tc());
    CHECK(tcp.answer.size() == 200);
    Reply srv = g.ask("web.service.cairn.", rrtype::srv, {}, Transport::tcp);
    CHECK(srv.answer.size() == 200);
    CHECK(srv.additional.size() == 200);
}

TEST_CASE("the same address twice is one A record") {
    Fixture f;
    f.add(web("web-1", v4(10, 0, 0, 1), 8080));
    f.add(web("web-2", v4(10, 0, 0, 1), 8081));
    f.publish();
    CHECK(f.ask("web.service.cairn.", rrtype::a).answer.size() == 1);
    CHECK(f.ask("web.service.cairn.", rrtype::srv).answer.size() == 2);
    CHECK(f.ask("web.service.cairn.", rrtype::srv).additional.size() == 1);
}

// Reply's sections are sets, so these count the records in the header: a
// record written twice would still be one line of the set.
TEST_CASE("duplicates are written once: A by address, SRV by address and port, TXT by RDATA") {
    Fixture f;
    // 300 instances on 3 addresses, each address with 2 ports, all with one
    // of 2 metadata sets.
    for (int i = 0; i < 300; ++i) {
        Instance w =
            web("web-" + std::to_string(i), v4(10, 0, 0, static_cast<std::uint8_t>(1 + i % 3)),
                static_cast<std::uint16_t>(8080 + i % 2));
        w.meta = {{"version", i % 2 == 0 ? "1" : "2"}};
        f.add(w);
    }
    f.publish();
    auto counts = [&](std::uint16_t type) {
        Reply r = f.ask("web.service.cairn.", type, {}, Transport::tcp);
        REQUIRE(r.pkt);
        CHECK_FALSE(r.tc());
        return std::pair{ldns_pkt_ancount(r.pkt.get()), ldns_pkt_arcount(r.pkt.get())};
    };
    CHECK(counts(rrtype::a) == std::pair<std::uint16_t, std::uint16_t>{3, 0});
    // Ports alternate with i and addresses cycle over 3, so all 6 pairs occur.
    CHECK(counts(rrtype::srv) == std::pair<std::uint16_t, std::uint16_t>{6, 3});
    CHECK(counts(rrtype::txt) == std::pair<std::uint16_t, std::uint16_t>{2, 0});
}

TEST_CASE("<node>.node: this agent and the snapshot's live nodes") {
    Fixture f;
    registry::Node other{"db-host", "dc1", v4(10, 9, 9, 9), {{"rack", "r1"}}, true};
    f.registry.set_node(other);
    f.registry.set_node(registry::Node{"gone", "dc1", v4(10, 9, 9, 8), {}, false});
    f.publish();
    CHECK(f.ask("agent-1.node.cairn.", rrtype::a).answer ==
          std::set<std::string>{"agent-1.node.cairn. 30 A 127.0.0.1"});
    CHECK(f.ask("DB-Host.node.cairn.", rrtype::a).answer ==
          std::set<std::string>{"db-host.node.cairn. 30 A 10.9.9.9"});
    CHECK(f.ask("db-host.node.cairn.", rrtype::txt).answer ==
          std::set<std::string>{"db-host.node.cairn. 30 TXT \"rack=r1\""});
    CHECK(f.ask("agent-1.node.cairn.", rrtype::aaaa).answer.empty());
    CHECK(f.ask("gone.node.cairn.", rrtype::a).answer.empty());
    CHECK(f.ask("gone.node.cairn.", rrtype::a).rcode() == rcode::noerror);
    CHECK(f.ask("nobody.node.cairn.", rrtype::a).rcode() == rcode::nxdomain);
}

TEST_CASE("the apex still answers SOA and NS") {
    Fixture f;
    f.publish();
    Reply soa = f.ask("cairn.", rrtype::soa);
    CHECK(soa.answer.size() == 1);
    Reply ns = f.ask("cairn.", rrtype::ns);
    CHECK(ns.answer == std::set<std::string>{"cairn. 30 NS agent-1.node.cairn."});
    CHECK(ns.additional == std::set<std::string>{"agent-1.node.cairn. 30 A 127.0.0.1"});
    CHECK(f.ask("ns.cairn.", rrtype::a).answer ==
          std::set<std::string>{"ns.cairn. 30 A 127.0.0.1"});
    Reply wrong_family = f.ask("ns.cairn.", rrtype::aaaa);
    CHECK(wrong_family.answer.empty());
    CHECK(wrong_family.authority.size() == 1);
}

TEST_CASE("NS: this agent and the live agents as <node>.node, with their addresses as glue") {
    Fixture f;
    f.registry.set_node(registry::Node{"DB-Host", "dc1", v4(10, 9, 9, 9), {}, true});
    f.registry.set_node(registry::Node{"v6-host", "dc1", v6_last(7), {}, true});
    f.registry.set_node(registry::Node{"gone", "dc1", v4(10, 9, 9, 8), {}, false});
    f.registry.set_node(registry::Node{"a.b", "dc1", v4(10, 9, 9, 7), {}, true}); // not a label
    f.registry.set_node(registry::Node{"agent-1", "dc1", v4(127, 0, 0, 1), {}, true});
    f.publish();
    Reply ns = f.ask("cairn.", rrtype::ns);
    CHECK(ns.aa());
    CHECK(ns.answer == std::set<std::string>{"cairn. 30 NS agent-1.node.cairn.",
                                             "cairn. 30 NS db-host.node.cairn.",
                                             "cairn. 30 NS v6-host.node.cairn."});
    CHECK(ns.additional == std::set<std::string>{"agent-1.node.cairn. 30 A 127.0.0.1",
                                                 "db-host.node.cairn. 30 A 10.9.9.9",
                                                 "v6-host.node.cairn. 30 AAAA 2001:db8::7"});
    // Each target resolves to the same address on its own.
    CHECK(f.ask("db-host.node.cairn.", rrtype::a).answer ==
          std::set<std::string>{"db-host.node.cairn. 30 A 10.9.9.9"});
    // Under the datacenter label the owner is the apex as asked.
    CHECK(f.ask("dc1.cairn.", rrtype::ns).answer.count("dc1.cairn. 30 NS db-host.node.cairn.") ==
          1);

    // An agent that dies leaves the RRset.
    f.registry.set_node(registry::Node{"DB-Host", "dc1", v4(10, 9, 9, 9), {}, false});
    f.publish();
    CHECK(f.ask("cairn.", rrtype::ns).answer ==
          std::set<std::string>{"cairn. 30 NS agent-1.node.cairn.",
                                "cairn. 30 NS v6-host.node.cairn."});
}

TEST_CASE("NS: at most 8, this agent first, then by name; glue as far as it fits") {
    Fixture f;
    for (int i = 0; i < 20; ++i)
        f.registry.set_node(registry::Node{"node-" + std::to_string(100 + i),
                                           "dc1",
                                           v4(10, 0, 0, static_cast<std::uint8_t>(i)),
                                           {},
                                           true});
    f.publish();
    std::set<std::string> expected{"cairn. 30 NS agent-1.node.cairn."};
    for (int i = 0; i < 7; ++i)
        expected.insert("cairn. 30 NS node-" + std::to_string(100 + i) + ".node.cairn.");
    QueryOptions edns;
    edns.edns = true; // 1232 bytes, dig's default
    Reply ns = f.ask("cairn.", rrtype::ns, edns);
    CHECK_FALSE(ns.tc());
    CHECK(ns.answer == expected);
    CHECK(ns.additional.size() == 8);
    // In 512 bytes the RRset is whole; glue that does not fit is left out,
    // never with TC (a resolver asks for the addresses).
    Reply small = f.ask("cairn.", rrtype::ns);
    CHECK_FALSE(small.tc());
    CHECK(small.answer == expected);
    CHECK(small.additional.size() >= 6);
}

TEST_CASE("weighted through DNS: 90/10 in the first A record") {
    Settings s = settings();
    s.policy = registry::Policy::weighted;
    Fixture f(s);
    Instance stable = web("stable", v4(10, 0, 0, 1));
    stable.weight = 90;
    Instance canary = web("canary", v4(10, 0, 0, 2));
    canary.weight = 10;
    f.add(stable);
    f.add(canary);
    f.publish();
    int first_stable = 0;
    constexpr int queries = 4000;
    for (int q = 0; q < queries; ++q) {
        Reply r = f.ask("web.service.cairn.", rrtype::a);
        ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(r.pkt.get()), 0);
        char* text = ldns_rdf2str(ldns_rr_rdf(rr, 0));
        first_stable += std::string(text) == "10.0.0.1";
        std::free(text);
    }
    double share = static_cast<double>(first_stable) / queries;
    CHECK(share > 0.87);
    CHECK(share < 0.93);
}

TEST_CASE("affinity on the EDNS Client Subnet, echoed with its scope") {
    Fixture f;
    for (std::uint8_t i = 1; i <= 4; ++i) {
        Instance inst = web("web-" + std::to_string(i), v4(10, 0, 0, i));
        inst.policy = registry::Policy::affinity; // the per-instance policy overrides [dns].policy
        f.add(inst);
    }
    f.publish();
    auto first_of = [&](std::uint8_t subnet) {
        QueryOptions o = with_edns();
        o.options = ecs_option(198, 51, subnet, 24);
        Reply r = f.ask("web.service.cairn.", rrtype::a, o);
        REQUIRE(r.pkt);
        ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(r.pkt.get()), 0);
        char* text = ldns_rdf2str(ldns_rr_rdf(rr, 0));
        std::string out = text;
        std::free(text);
        // The ECS option comes back with scope /24: the raw OPT RDATA ends with
        // family 1, source 24, scope 24, 198.51.<subnet>.
        const auto& b = r.bytes;
        REQUIRE(b.size() > 11);
        std::vector<std::uint8_t> tail(b.end() - 11, b.end());
        CHECK(tail == std::vector<std::uint8_t>{0, 8, 0, 7, 0, 1, 24, 24, 198, 51, subnet});
        return out;
    };
    std::map<std::string, int> spread;
    for (std::uint8_t subnet = 0; subnet < 100; ++subnet) {
        std::string first = first_of(subnet);
        for (int again = 0; again < 3; ++again) CHECK(first_of(subnet) == first);
        ++spread[first];
    }
    CHECK(spread.size() == 4); // the clients are spread over every instance
}

TEST_CASE("round_robin through DNS rotates the first record evenly") {
    Settings s = settings();
    s.policy = registry::Policy::round_robin;
    Fixture f(s);
    for (std::uint8_t i = 1; i <= 3; ++i) f.add(web("web-" + std::to_string(i), v4(10, 0, 0, i)));
    f.publish();
    std::map<std::string, int> first;
    for (int q = 0; q < 300; ++q) {
        Reply r = f.ask("web.service.cairn.", rrtype::a);
        ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(r.pkt.get()), 0);
        char* text = ldns_rdf2str(ldns_rr_rdf(rr, 0));
        ++first[text];
        std::free(text);
    }
    CHECK(first.size() == 3);
    for (const auto& [address, count] : first) CHECK(count == 100);
}

TEST_CASE("steady-state discovery queries allocate nothing") {
    for (registry::Policy policy :
         {registry::Policy::random, registry::Policy::round_robin, registry::Policy::weighted,
          registry::Policy::affinity, registry::Policy::fastest}) {
        Settings s = settings();
        s.policy = policy;
        s.serve_warning = ServeWarning::always;
        Fixture f(s);
        for (std::uint8_t i = 1; i <= 20; ++i) {
            Instance inst = web("web-" + std::to_string(i), i % 2 ? v4(10, 0, 0, i) : v6_last(i));
            inst.tags = {"v2"};
            inst.meta = {{"version", "1"}, {"n", std::to_string(i)}};
            if (i % 5 == 0) inst.checks = {check(inst.id + ":1", Health::warning)};
            f.add(inst);
        }
        f.publish();
        QueryOptions ecs = with_edns();
        ecs.options = ecs_option(198, 51, 100, 24);
        std::vector<std::vector<std::uint8_t>> queries;
        for (std::uint16_t type : {rrtype::a, rrtype::aaaa, rrtype::srv, rrtype::txt})
            for (const char* name :
                 {"web.service.cairn.", "v2.web.service.cairn.", "_web._tcp.service.cairn.",
                  "nope.service.cairn.", "0a000001.addr.cairn.", "agent-1.node.cairn."})
                queries.push_back(test::make_query(name, type, ecs));
        // The Asker's reply parsing (ldns) allocates; answer into a raw buffer instead.
        registry::SnapshotSlot& slot = f.asker.slot();
        Catalog catalog(slot);
        catalog.set_settings(s);
        auto responder = catalog.responder_factory()();
        std::vector<std::uint8_t> out(65535);
        sockaddr_in peer{};
        peer.sin_family = AF_INET;
        Client client{reinterpret_cast<const sockaddr*>(&peer), Transport::udp};
        for (const auto& q : queries) // warm up: scratch grows, snapshot is picked up
            REQUIRE(responder->respond(q, client, out) > 0);
        std::size_t before = cairn::dns::test::allocation_count();
        REQUIRE(before > 0); // the counter counts
        for (int round = 0; round < 10; ++round)
            for (const auto& q : queries) responder->respond(q, client, out);
        CHECK_MESSAGE(cairn::dns::test::allocation_count() == before, "policy ",
                      static_cast<int>(policy));
    }
}

TEST_CASE("the catalog counts queries by QTYPE and service answers by policy, per responder, "
          "summed by answer_stats()") {
    Settings s = settings();
    s.policy = registry::Policy::round_robin;
    Fixture f(s);
    f.add(web("web-1", v4(10, 0, 0, 1)));
    f.publish();
    Catalog catalog(f.asker.slot());
    catalog.set_settings(s);
    auto one = catalog.responder_factory()();
    auto two = catalog.responder_factory()();
    std::vector<std::uint8_t> out(65535);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    Client client{reinterpret_cast<const sockaddr*>(&peer), Transport::udp};
    auto ask = [&](Responder& r, const char* name, std::uint16_t type) {
        REQUIRE(r.respond(test::make_query(name, type), client, out) > 0);
    };
    ask(*one, "web.service.cairn.", rrtype::a);
    ask(*two, "web.service.cairn.", rrtype::srv);
    ask(*two, "nope.service.cairn.", rrtype::a); // NXDOMAIN: no policy chose anything
    ask(*one, "web.service.cairn.", rrtype::caa);
    AnswerStats stats = catalog.answer_stats();
    CHECK(stats.by_qtype[qtype_slot(rrtype::a)] == 2);
    CHECK(stats.by_qtype[qtype_slot(rrtype::srv)] == 1);
    CHECK(qtype_slot(rrtype::caa) == qtype_slots - 1);
    CHECK(stats.by_qtype[qtype_slots - 1] == 1);
    CHECK(stats.by_policy[static_cast<std::size_t>(registry::Policy::round_robin)] == 2);
    CHECK(stats.by_policy[static_cast<std::size_t>(registry::Policy::random)] == 0);
    one.reset(); // a responder's counts outlive it
    CHECK(catalog.answer_stats().by_qtype[qtype_slot(rrtype::a)] == 2);

    std::string text = format_answer_metrics(stats);
    CHECK(text.find("\ncairn_dns_queries_by_type_total{qtype=\"A\"} 2\n") != std::string::npos);
    CHECK(text.find("\ncairn_dns_queries_by_type_total{qtype=\"other\"} 1\n") != std::string::npos);
    CHECK(text.find("\ncairn_dns_answers_by_policy_total{policy=\"round_robin\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("policy=\"\"") == std::string::npos); // unset has no series
}
