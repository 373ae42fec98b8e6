// The answer rules (issue 2 item 7) on a small zone, through the Catalog's
// Responder exactly as a DNS worker calls it, with responses read by ldns.

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "asker.hpp"
#include "dns/answer/answer.hpp"
#include "dns/zone/zone.hpp"

using namespace cairn::dns;
using namespace cairn::dns::test;

namespace {

const std::string zone_text =
    R"($ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 7 7200 3600 1209600 300
@        IN NS  ns1
@        IN MX  10 mail
ns1      IN A   192.0.2.53
ns1      IN AAAA 2001:db8::53
www  300 IN A   192.0.2.10
www  300 IN A   192.0.2.11
mail     IN A   192.0.2.25
alias    IN CNAME www
chain1   IN CNAME chain2
chain2   IN CNAME www
loop1    IN CNAME loop2
loop2    IN CNAME loop1
dangling IN CNAME missing
_x._tcp  IN SRV 0 0 80 www
*.wild   IN A   192.0.2.100
exists.wild IN TXT "here"
a.b.c    IN A   192.0.2.30
sub      IN NS  ns.sub
sub      IN DS  12345 13 2 6B4A6C3E4E3D1B1F4C2D6E8A0B5C7D9E1F3A5B7C9D0E2F4A6B8C0D1E3F5A7B9C
ns.sub   IN A   192.0.2.200
nods     IN NS  ns.elsewhere.example.
)"
    // 442 bytes of TXT: the answer fits in 512, the zone's NS RRset does not.
    "fill IN TXT \"" +
    std::string(220, 'a') + "\" \"" + std::string(220, 'b') + "\"\n";

std::shared_ptr<const ZoneSet> test_zones() {
    auto zones = load_zone_text(zone_text, "example.test.");
    REQUIRE_MESSAGE(zones.has_value(), (zones ? "" : zones.error().message));
    return *zones;
}

const std::string soa_negative =
    "example.test. 300 SOA ns1.example.test. hostmaster.example.test. 7 7200 3600 1209600 300";
const std::set<std::string> apex_ns = {"example.test. 3600 NS ns1.example.test."};
const std::set<std::string> ns1_addresses = {"ns1.example.test. 3600 A 192.0.2.53",
                                             "ns1.example.test. 3600 AAAA 2001:db8::53"};

} // namespace

TEST_CASE("a positive answer is authoritative, with the zone's NS and their addresses") {
    Asker asker(test_zones());
    Reply r = asker.ask("www.example.test.", rrtype::a);
    CHECK(r.rcode() == rcode::noerror);
    CHECK(r.aa());
    CHECK(r.rd());
    CHECK_FALSE(r.tc());
    CHECK(r.answer == std::set<std::string>{"www.example.test. 300 A 192.0.2.10",
                                            "www.example.test. 300 A 192.0.2.11"});
    CHECK(r.authority == apex_ns);
    CHECK(r.additional == ns1_addresses);
}

TEST_CASE("the question is echoed with its exact case") {
    Asker asker(test_zones());
    auto query = make_query("wWw.ExAmPlE.tEsT.", rrtype::a);
    Reply r = asker.ask_bytes(query);
    REQUIRE(r.size > query.size());
    CHECK(std::equal(query.begin() + 12, query.end(), r.bytes.begin() + 12));
    CHECK(r.answer.size() == 2);
}

TEST_CASE("NXDOMAIN and NODATA carry the SOA with the negative TTL") {
    Asker asker(test_zones());
    Reply nx = asker.ask("nothere.example.test.", rrtype::a);
    CHECK(nx.rcode() == rcode::nxdomain);
    CHECK(nx.aa());
    CHECK(nx.answer.empty());
    CHECK(nx.authority == std::set<std::string>{soa_negative});

    Reply nodata = asker.ask("www.example.test.", rrtype::mx);
    CHECK(nodata.rcode() == rcode::noerror);
    CHECK(nodata.aa());
    CHECK(nodata.answer.empty());
    CHECK(nodata.authority == std::set<std::string>{soa_negative});

    Reply below = asker.ask("x.www.example.test.", rrtype::a);
    CHECK(below.rcode() == rcode::nxdomain);
}

TEST_CASE("an empty non-terminal is NODATA, not NXDOMAIN") {
    Asker asker(test_zones());
    for (const char* name : {"b.c.example.test.", "c.example.test.", "_tcp.example.test."}) {
        Reply r = asker.ask(name, rrtype::a);
        CHECK_MESSAGE(r.rcode() == rcode::noerror, name);
        CHECK(r.answer.empty());
        CHECK(r.authority == std::set<std::string>{soa_negative});
    }
    CHECK(asker.ask("z.c.example.test.", rrtype::a).rcode() == rcode::nxdomain);
}

TEST_CASE("wildcards: closest encloser only, owner is the query name, NODATA at the wildcard") {
    Asker asker(test_zones());
    Reply r = asker.ask("Foo.Wild.example.test.", rrtype::a);
    CHECK(r.rcode() == rcode::noerror);
    CHECK(r.answer == std::set<std::string>{"foo.wild.example.test. 3600 A 192.0.2.100"});
    CHECK(asker.ask("a.b.wild.example.test.", rrtype::a).answer.size() == 1);

    Reply nodata = asker.ask("foo.wild.example.test.", rrtype::aaaa);
    CHECK(nodata.rcode() == rcode::noerror);
    CHECK(nodata.answer.empty());
    CHECK(nodata.authority == std::set<std::string>{soa_negative});

    // exists.wild exists, so the wildcard does not apply to it or below it.
    Reply blocked = asker.ask("exists.wild.example.test.", rrtype::a);
    CHECK(blocked.rcode() == rcode::noerror);
    CHECK(blocked.answer.empty());
    CHECK(asker.ask("x.exists.wild.example.test.", rrtype::a).rcode() == rcode::nxdomain);
}

TEST_CASE("CNAMEs are followed inside the zone, loops stop, the last name decides the rcode") {
    Asker asker(test_zones());
    Reply chain = asker.ask("chain1.example.test.", rrtype::a);
    CHECK(chain.rcode() == rcode::noerror);
    CHECK(chain.answer ==
          std::set<std::string>{"chain1.example.test. 3600 CNAME chain2.example.test.",
                                "chain2.example.test. 3600 CNAME www.example.test.",
                                "www.example.test. 300 A 192.0.2.10",
                                "www.example.test. 300 A 192.0.2.11"});
    CHECK(chain.authority == apex_ns); // the last name's positive answer, as NSD
    Reply external = asker.ask("nods.example.test.", rrtype::cname);
    CHECK(external.answer.empty());

    Reply asked_cname = asker.ask("alias.example.test.", rrtype::cname);
    CHECK(asked_cname.answer ==
          std::set<std::string>{"alias.example.test. 3600 CNAME www.example.test."});

    Reply loop = asker.ask("loop1.example.test.", rrtype::a);
    CHECK(loop.rcode() == rcode::noerror);
    CHECK(loop.answer.size() == 2);

    Reply dangling = asker.ask("dangling.example.test.", rrtype::a);
    CHECK(dangling.rcode() == rcode::nxdomain);
    CHECK(dangling.answer.size() == 1);
    CHECK(dangling.authority == std::set<std::string>{soa_negative});
}

TEST_CASE("a delegation gives a referral with glue and AA clear; DS is the parent's") {
    Asker asker(test_zones());
    for (const char* name :
         {"sub.example.test.", "host.sub.example.test.", "ns.sub.example.test."}) {
        Reply r = asker.ask(name, rrtype::a);
        CHECK_MESSAGE(r.rcode() == rcode::noerror, name);
        CHECK_FALSE(r.aa());
        CHECK(r.answer.empty());
        CHECK(r.authority ==
              std::set<std::string>{"sub.example.test. 3600 NS ns.sub.example.test."});
        CHECK(r.additional == std::set<std::string>{"ns.sub.example.test. 3600 A 192.0.2.200"});
    }
    Reply ds = asker.ask("sub.example.test.", rrtype::ds);
    CHECK(ds.aa());
    CHECK(ds.answer.size() == 1);
    Reply no_ds = asker.ask("nods.example.test.", rrtype::ds);
    CHECK(no_ds.aa());
    CHECK(no_ds.answer.empty());
    CHECK(no_ds.authority == std::set<std::string>{soa_negative});
    Reply no_glue = asker.ask("x.nods.example.test.", rrtype::a);
    CHECK_FALSE(no_glue.aa());
    CHECK(no_glue.additional.empty());
}

TEST_CASE("additional section: in-zone addresses of MX and SRV targets") {
    Asker asker(test_zones());
    Reply mx = asker.ask("example.test.", rrtype::mx);
    CHECK(mx.additional.count("mail.example.test. 3600 A 192.0.2.25") == 1);
    Reply srv = asker.ask("_x._tcp.example.test.", rrtype::srv);
    CHECK(srv.additional.count("www.example.test. 300 A 192.0.2.10") == 1);
}

TEST_CASE("ANY is answered with one RRset (RFC 8482)") {
    Asker asker(test_zones());
    Reply apex = asker.ask("example.test.", rrtype::any);
    CHECK(apex.rcode() == rcode::noerror);
    REQUIRE(apex.answer.size() == 1);
    CHECK(apex.answer.begin()->find(" SOA ") != std::string::npos);
    CHECK(apex.authority.empty());
    CHECK(asker.ask("nothere.example.test.", rrtype::any).rcode() == rcode::nxdomain);
    CHECK(asker.ask("b.c.example.test.", rrtype::any).authority ==
          std::set<std::string>{soa_negative});
}

TEST_CASE("names outside our zones and domain are REFUSED, with EDE 20 under EDNS") {
    Asker asker(test_zones());
    Reply r = asker.ask("www.example.org.", rrtype::a);
    CHECK(r.rcode() == rcode::refused);
    CHECK_FALSE(r.aa());
    CHECK(r.qdcount() == 1);
    CHECK(r.answer.empty());
    CHECK_FALSE(r.edns());
    QueryOptions o;
    o.edns = true;
    Reply with_edns = asker.ask("test.", rrtype::soa, o);
    CHECK(with_edns.rcode() == rcode::refused);
    REQUIRE(with_edns.edns());
    // The OPT carries exactly one option: EDE (15), length 2, code 20.
    const auto& b = with_edns.bytes;
    std::vector<std::uint8_t> tail(b.end() - 6, b.end());
    CHECK(tail == std::vector<std::uint8_t>{0, 15, 0, 2, 0, 20});
}

TEST_CASE("QCLASS ANY: not authoritative, no SOA; other classes REFUSED") {
    Asker asker(test_zones());
    QueryOptions any;
    any.qclass = rrclass::any;
    Reply r = asker.ask("www.example.test.", rrtype::a, any);
    CHECK_FALSE(r.aa());
    CHECK(r.answer.size() == 2);
    Reply nx = asker.ask("nothere.example.test.", rrtype::a, any);
    CHECK(nx.rcode() == rcode::nxdomain);
    CHECK(nx.authority.empty());
    QueryOptions ch;
    ch.qclass = rrclass::ch;
    CHECK(asker.ask("version.bind.", rrtype::txt, ch).rcode() == rcode::refused);
    QueryOptions hs;
    hs.qclass = 4;
    Reply hesiod = asker.ask("www.example.test.", rrtype::a, hs);
    CHECK(hesiod.rcode() == rcode::refused);
    CHECK(hesiod.qdcount() == 0);
}

TEST_CASE("zone transfers are not served") {
    Asker asker(test_zones());
    Reply axfr = asker.ask("example.test.", rrtype::axfr);
    CHECK(axfr.rcode() == rcode::notimp);
    CHECK(asker.ask("example.test.", rrtype::axfr, {}, Transport::tcp).rcode() == rcode::refused);
    CHECK(asker.ask("example.test.", rrtype::ixfr).rcode() == rcode::refused);
}

TEST_CASE("the zone's NS RRset is optional: left out without TC, and its addresses with it") {
    Asker asker(test_zones());
    Reply r = asker.ask("fill.example.test.", rrtype::txt);
    CHECK_FALSE(r.tc());
    CHECK(r.answer.size() == 1);
    CHECK(r.authority.empty());
    CHECK(r.additional.empty());
    CHECK(r.size <= 512);
    Reply tcp = asker.ask("fill.example.test.", rrtype::txt, {}, Transport::tcp);
    CHECK(tcp.authority == apex_ns);
    CHECK(tcp.additional == ns1_addresses);
}

TEST_CASE("TC only when the answer does not fit, and TCP gets it whole") {
    std::string text =
        "$ORIGIN big.test.\n@ 60 IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.1\n";
    for (int i = 1; i <= 40; ++i) text += "many 60 IN A 198.51.100." + std::to_string(i) + "\n";
    auto zones = load_zone_text(text, "big.test.");
    REQUIRE(zones.has_value());
    Asker asker(*zones);
    Reply udp = asker.ask("many.big.test.", rrtype::a);
    CHECK(udp.tc());
    CHECK(udp.size <= 512);
    Reply tcp = asker.ask("many.big.test.", rrtype::a, {}, Transport::tcp);
    CHECK_FALSE(tcp.tc());
    CHECK(tcp.answer.size() == 40);
    QueryOptions edns;
    edns.edns = true;
    edns.payload = 1232;
    Reply large = asker.ask("many.big.test.", rrtype::a, edns);
    CHECK_FALSE(large.tc());
    CHECK(large.answer.size() == 40);
    CHECK(large.size <= 1232);
    // A small answer never sets TC even when the additional data is dropped.
    CHECK_FALSE(asker.ask("ns.big.test.", rrtype::a).tc());
}

TEST_CASE("EDNS: OPT only when asked, payload below 512 counts as 512, DO echoed, BADVERS") {
    Asker asker(test_zones());
    CHECK_FALSE(asker.ask("www.example.test.", rrtype::a).edns());
    QueryOptions o;
    o.edns = true;
    o.payload = 100;
    o.dnssec_ok = true;
    o.options = {0xfd, 0xe9, 0, 3, 1, 2, 3}; // unknown option 65001
    Reply r = asker.ask("www.example.test.", rrtype::a, o);
    REQUIRE(r.edns());
    CHECK(ldns_pkt_edns_do(r.pkt.get()));
    CHECK(ldns_pkt_edns_version(r.pkt.get()) == 0);
    CHECK(r.answer.size() == 2);
    // Unknown options are not echoed: the OPT has no RDATA.
    CHECK(r.bytes[r.size - 2] == 0);
    CHECK(r.bytes[r.size - 1] == 0);

    QueryOptions v1;
    v1.edns = true;
    v1.edns_version = 1;
    Reply badvers = asker.ask("www.example.test.", rrtype::a, v1);
    CHECK(badvers.rcode() == rcode::badvers);
    CHECK(badvers.edns());
    CHECK(badvers.qdcount() == 1);
    CHECK(badvers.answer.empty());
}

TEST_CASE("nested zones: the most specific zone answers, the parent answers DS at the cut") {
    auto parent =
        std::string("$ORIGIN p.test.\n@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.1\n") +
        "child IN NS ns.child\nchild IN DS 1 13 2 AABBCCDD\nns.child IN A 192.0.2.2\n";
    auto child = std::string(
        "$ORIGIN child.p.test.\n@ IN SOA ns h 9 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.9\n");
    // load_zones reads a directory; here two texts are combined by loading
    // them as files.
    auto dir = std::filesystem::temp_directory_path() / "cairn-nested-zone-test";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "p.test.zone") << parent;
    std::ofstream(dir / "child.p.test.zone") << child;
    auto zones = load_zones(dir.string());
    std::filesystem::remove_all(dir);
    REQUIRE_MESSAGE(zones.has_value(), (zones ? "" : zones.error().message));
    Asker asker(*zones);
    Reply a = asker.ask("ns.child.p.test.", rrtype::a);
    CHECK(a.aa());
    CHECK(a.answer == std::set<std::string>{"ns.child.p.test. 3600 A 192.0.2.9"});
    Reply soa = asker.ask("child.p.test.", rrtype::soa);
    CHECK(soa.aa());
    CHECK(soa.answer.size() == 1);
    Reply ds = asker.ask("child.p.test.", rrtype::ds);
    CHECK(ds.aa());
    CHECK(ds.answer == std::set<std::string>{"child.p.test. 3600 DS 1 13 2 aabbccdd"});
}

TEST_CASE("the discovery domain: SOA and NS at the apex, NXDOMAIN below") {
    Settings s;
    s.domain = "Cairn";
    s.node_address.family = 4;
    s.node_address.bytes = {127, 0, 0, 1};
    Asker asker(test_zones(), s);
    Reply soa = asker.ask("cairn.", rrtype::soa);
    CHECK(soa.rcode() == rcode::noerror);
    CHECK(soa.aa());
    CHECK(soa.answer.size() == 1);
    Reply ns = asker.ask("dc1.cairn.", rrtype::ns);
    CHECK(ns.answer == std::set<std::string>{"dc1.cairn. 30 NS ns.cairn."});
    CHECK(ns.additional == std::set<std::string>{"ns.cairn. 30 A 127.0.0.1"});
    Reply nx = asker.ask("nothing.service.cairn.", rrtype::a);
    CHECK(nx.rcode() == rcode::nxdomain);
    CHECK(nx.authority.size() == 1);
    CHECK(asker.ask("cairn.example.", rrtype::a).rcode() == rcode::refused);
}

TEST_CASE("match_zone finds the closest encloser") {
    auto zones = test_zones();
    auto name = name_from_text("x.y.a.b.c.example.test.");
    ZoneMatch m = match_zone(*zones, name->name());
    REQUIRE(m.encloser != nullptr);
    CHECK_FALSE(m.exact);
    CHECK(name_to_text(zones->name_of(*m.encloser)) == "a.b.c.example.test.");
    CHECK(m.apex_labels == 2);
    CHECK(match_zone(*zones, name_from_text("example.org.")->name()).encloser == nullptr);
}
