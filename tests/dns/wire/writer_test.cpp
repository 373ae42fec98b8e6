// ResponseWriter: header, compression, limits and TC, OPT.

#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>

#include "dns/wire/writer.hpp"
#include "dns_test_util.hpp"

using namespace cairn::dns;
using namespace cairn::dns::test;

namespace {

struct Fixture {
    std::vector<std::uint8_t> packet;
    Query query;
    std::vector<std::uint8_t> out = std::vector<std::uint8_t>(65535);

    explicit Fixture(const std::string& name = "www.Example.test.", const QueryOptions& o = {})
        : packet(make_query(name, rrtype::a, o)) {
        REQUIRE(parse_query(packet, query).has_value());
    }
};

WireName wire(const char* text, cairn::dns::NameBuffer& storage) {
    storage = *name_from_text(text);
    return storage.name();
}

const std::uint8_t address[4] = {192, 0, 2, 1};

} // namespace

TEST_CASE("header and question: id, QR, RD, AA, rcode; question as sent") {
    Fixture f;
    ResponseWriter w(f.out, 512);
    w.start(f.query, f.packet);
    w.set_aa(true);
    w.set_rcode(rcode::nxdomain);
    std::size_t n = w.finish();
    REQUIRE(n == f.packet.size());
    CHECK(f.out[0] == 0x12);
    CHECK(f.out[1] == 0x34);
    CHECK(f.out[2] == (0x80 | 0x04 | 0x01)); // QR AA RD
    CHECK(f.out[3] == 3);
    CHECK(std::equal(f.packet.begin() + 12, f.packet.end(), f.out.begin() + 12));
}

TEST_CASE("owner names compress against the question and earlier owners") {
    Fixture f;
    ResponseWriter w(f.out, 512);
    w.start(f.query, f.packet);
    NameBuffer a, b, c;
    REQUIRE(w.add(Section::answer, wire("www.example.test.", a), rrtype::a, 60, address));
    std::size_t after_first = w.size();
    // Same as the question: a 2-byte pointer + 10 + 4 rdata.
    CHECK(after_first == f.packet.size() + 16);
    CHECK(f.out[f.packet.size()] == 0xc0);
    CHECK(f.out[f.packet.size() + 1] == 12);
    // A sibling: one literal label, then a pointer to "example.test." in the question.
    REQUIRE(w.add(Section::additional, wire("ns1.example.test.", b), rrtype::a, 60, address));
    CHECK(w.size() == after_first + 4 + 2 + 14);
    // Below the sibling: a literal label then a pointer to the sibling.
    std::size_t before = w.size();
    REQUIRE(w.add(Section::additional, wire("x.ns1.example.test.", c), rrtype::a, 60, address));
    CHECK(w.size() == before + 2 + 2 + 14);
    std::size_t n = w.finish();
    Reply r = read_reply(f.out.data(), n);
    REQUIRE(r.pkt);
    CHECK(r.answer == std::set<std::string>{"www.example.test. 60 A 192.0.2.1"});
    CHECK(r.additional == std::set<std::string>{"ns1.example.test. 60 A 192.0.2.1",
                                                "x.ns1.example.test. 60 A 192.0.2.1"});
}

TEST_CASE("RDATA is never compressed") {
    Fixture f;
    ResponseWriter w(f.out, 512);
    w.start(f.query, f.packet);
    NameBuffer owner, target;
    wire("www.example.test.", target);
    std::vector<std::uint8_t> srv = {0, 1, 0, 2, 0, 80};
    srv.insert(srv.end(), target.bytes.begin(), target.bytes.begin() + target.size);
    REQUIRE(w.add(Section::answer, wire("www.example.test.", owner), rrtype::srv, 60, srv));
    std::size_t n = w.finish();
    CHECK(std::search(f.out.begin() + f.packet.size(), f.out.begin() + n, srv.begin(), srv.end()) !=
          f.out.begin() + n);
}

TEST_CASE("a required record that does not fit sets TC and stops; additional just drops") {
    Fixture f;
    ResponseWriter w(f.out, 512);
    w.start(f.query, f.packet);
    NameBuffer owner;
    wire("www.example.test.", owner);
    int added = 0;
    while (w.add(Section::answer, owner.name(), rrtype::a, 60, address)) ++added;
    CHECK(w.truncated());
    CHECK(added == (512 - static_cast<int>(f.packet.size())) / 16);
    CHECK_FALSE(w.add(Section::additional, owner.name(), rrtype::a, 60, address));
    std::size_t n = w.finish();
    CHECK(n <= 512);
    Reply r = read_reply(f.out.data(), n);
    CHECK(r.tc());
    CHECK(r.answer.size() == 1); // one RRset of identical records as ldns sees them

    Fixture g;
    ResponseWriter x(g.out, 512);
    x.start(g.query, g.packet);
    REQUIRE(x.add(Section::answer, owner.name(), rrtype::a, 60, address));
    std::vector<std::uint8_t> big(600, 0);
    CHECK_FALSE(x.add(Section::additional, owner.name(), rrtype::txt, 60, big));
    CHECK_FALSE(x.truncated());
    CHECK(x.add(Section::additional, owner.name(), rrtype::a, 60, address)); // smaller still fits
    CHECK(read_reply(g.out.data(), x.finish()).additional.size() == 1);
}

TEST_CASE("precompiled RRsets are all or nothing") {
    Fixture f;
    ResponseWriter w(f.out, 60);
    w.start(f.query, f.packet);
    // Three A records of 14 bytes each (type, class, TTL, RDLENGTH, RDATA),
    // copied into a vector sized once: insert() of an initializer list trips
    // GCC 12's -O3 -Wstringop-overflow false positive.
    std::vector<std::uint8_t> records(3 * 14);
    for (int i = 0; i < 3; ++i) {
        const std::uint8_t rr[14] = {0,  1, 0, 1,   0, 0, 0,
                                     60, 0, 4, 192, 0, 2, static_cast<std::uint8_t>(i)};
        std::copy(std::begin(rr), std::end(rr), records.begin() + 14 * i);
    }
    NameBuffer owner;
    wire("www.example.test.", owner);
    CHECK_FALSE(w.add_precompiled(Section::answer, owner.name(), records, 3)); // 35 + 48 > 60
    CHECK(w.count(Section::answer) == 0);
    CHECK(w.size() == f.packet.size());
    CHECK(w.truncated());

    Fixture g;
    ResponseWriter x(g.out, 512);
    x.start(g.query, g.packet);
    REQUIRE(x.add_precompiled(Section::answer, owner.name(), records, 3));
    Reply r = read_reply(g.out.data(), x.finish());
    CHECK(r.answer.size() == 3);
}

TEST_CASE("sections must come in order") {
    Fixture f;
    ResponseWriter w(f.out, 512);
    w.start(f.query, f.packet);
    NameBuffer owner;
    wire("www.example.test.", owner);
    REQUIRE(w.add(Section::authority, owner.name(), rrtype::a, 60, address));
    CHECK(w.count(Section::authority) == 1);
}

TEST_CASE("mark and rollback keep the message and the compression table consistent") {
    Fixture f;
    ResponseWriter w(f.out, 512);
    w.start(f.query, f.packet);
    NameBuffer a, b;
    auto m = w.mark();
    REQUIRE(w.add(Section::answer, wire("deep.name.elsewhere.", a), rrtype::a, 60, address));
    w.rollback(m);
    CHECK(w.size() == f.packet.size());
    CHECK(w.count(Section::answer) == 0);
    REQUIRE(w.add(Section::answer, wire("other.name.elsewhere.", b), rrtype::a, 60, address));
    Reply r = read_reply(f.out.data(), w.finish());
    CHECK(r.answer == std::set<std::string>{"other.name.elsewhere. 60 A 192.0.2.1"});
}

TEST_CASE("OPT: present only with EDNS, counted, within the client's limit") {
    QueryOptions o;
    o.edns = true;
    o.payload = 600;
    Fixture f("www.example.test.", o);
    std::size_t limit = response_limit(f.query, false);
    CHECK(limit == 600);
    ResponseWriter w(f.out, limit);
    w.start(f.query, f.packet);
    NameBuffer owner;
    wire("www.example.test.", owner);
    while (w.add(Section::answer, owner.name(), rrtype::a, 60, address)) {
    }
    std::size_t n = w.finish();
    CHECK(n <= 600);
    Reply r = read_reply(f.out.data(), n);
    CHECK(r.edns());
    CHECK(r.tc());

    Fixture plain;
    CHECK(response_limit(plain.query, false) == 512);
    CHECK(response_limit(plain.query, true) == 65535);
    o.payload = 65000;
    Fixture huge("www.example.test.", o);
    CHECK(response_limit(huge.query, false) == 1232);
}

TEST_CASE("error responses: header only; FORMERR without OPT, NOTIMP keeps the flags") {
    QueryOptions o;
    o.edns = true;
    Fixture f("www.example.test.", o);
    ResponseWriter w(f.out, 512);
    w.start_error(f.query, rcode::formerr);
    std::size_t n = w.finish();
    CHECK(n == 12);
    CHECK((f.out[3] & 0xf) == rcode::formerr);
    CHECK(f.out[2] == (0x80 | 0x01));

    Fixture g("www.example.test.", o);
    g.query.flags = 0x0110; // RD CD
    ResponseWriter x(g.out, 512);
    x.start_error(g.query, rcode::notimp);
    std::size_t m = x.finish();
    CHECK(m == 12 + 11); // with the OPT
    CHECK(g.out[2] == (0x80 | 0x01));
    CHECK(g.out[3] == (0x10 | rcode::notimp));
    NameBuffer owner;
    CHECK_FALSE(x.add(Section::answer, wire("a.", owner), rrtype::a, 1, address));

    // NOTIMP keeps AA, TC, RD, RA, Z and CD, and clears AD (as NSD does).
    Fixture h("www.example.test.", o);
    h.query.flags = 0x07f0;
    ResponseWriter y(h.out, 512);
    y.start_error(h.query, rcode::notimp);
    (void)y.finish();
    CHECK(get_u16(h.out.data() + 2) == (0x8000 | 0x07d0 | rcode::notimp));
}
