// parse_query: every reject path, EDNS and ECS.

#include <doctest/doctest.h>

#include "dns/wire/query.hpp"
#include "dns_test_util.hpp"

using namespace cairn::dns;
using namespace cairn::dns::test;

namespace {

QueryError error_of(const std::vector<std::uint8_t>& bytes) {
    Query q;
    auto r = parse_query(bytes, q);
    REQUIRE_FALSE(r.has_value());
    return r.error().error;
}

// push_back one by one: GCC 12 warns falsely (stringop-overflow) on
// vector::insert of an initializer_list.
void append(std::vector<std::uint8_t>& v, std::initializer_list<std::uint8_t> bytes) {
    for (std::uint8_t b : bytes) v.push_back(b);
}

void set16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
    v[at] = static_cast<std::uint8_t>(x >> 8);
    v[at + 1] = static_cast<std::uint8_t>(x);
}

} // namespace

TEST_CASE("a plain query parses, the name lower-cased, the question size exact") {
    auto bytes = make_query("WwW.Example.TEST.", rrtype::aaaa);
    Query q;
    REQUIRE(parse_query(bytes, q).has_value());
    CHECK(q.id == 0x1234);
    CHECK(q.rd);
    CHECK(q.opcode == 0);
    CHECK(q.qtype == rrtype::aaaa);
    CHECK(q.qclass == rrclass::in);
    CHECK(name_to_text(q.qname.name()) == "www.example.test.");
    CHECK(q.qname.labels == 3);
    CHECK(q.question_size == bytes.size() - 12);
    CHECK_FALSE(q.edns);
    CHECK(q.udp_payload == 512);
}

TEST_CASE("the root name parses") {
    Query q;
    REQUIRE(parse_query(make_query(".", rrtype::ns), q).has_value());
    CHECK(q.qname.size == 1);
    CHECK(q.qname.labels == 0);
}

TEST_CASE("not a query: too short, or QR set: dropped") {
    auto bytes = make_query("a.test.", rrtype::a);
    CHECK(error_of({bytes.begin(), bytes.begin() + 11}) == QueryError::drop);
    CHECK(error_of({}) == QueryError::drop);
    bytes[2] |= 0x80;
    CHECK(error_of(bytes) == QueryError::drop);
}

TEST_CASE("malformed questions are FORMERR") {
    auto bytes = make_query("a.test.", rrtype::a);
    CHECK(error_of({bytes.begin(), bytes.begin() + 12}) == QueryError::formerr); // header only
    CHECK(error_of({bytes.begin(), bytes.begin() + 15}) == QueryError::formerr); // inside the name
    CHECK(error_of({bytes.begin(), bytes.end() - 2}) == QueryError::formerr);    // no class
    // A compression pointer (to itself: a loop) in the question.
    std::vector<std::uint8_t> loop(bytes.begin(), bytes.begin() + 12);
    append(loop, {0xc0, 0x0c, 0, 1, 0, 1});
    CHECK(error_of(loop) == QueryError::formerr);
    // Reserved label types 0x40 and 0x80.
    auto ext = bytes;
    ext[12] = 0x41;
    CHECK(error_of(ext) == QueryError::formerr);
    // A name longer than 255 bytes.
    std::vector<std::uint8_t> longname(bytes.begin(), bytes.begin() + 12);
    for (int i = 0; i < 5; ++i) {
        longname.push_back(63);
        longname.insert(longname.end(), 63, 'a');
    }
    append(longname, {0, 0, 1, 0, 1});
    CHECK(error_of(longname) == QueryError::formerr);
}

TEST_CASE("QDCOUNT other than 1, answer or authority records: FORMERR") {
    auto bytes = make_query("a.test.", rrtype::a);
    auto zero = bytes;
    set16(zero, 4, 0);
    CHECK(error_of(zero) == QueryError::formerr);
    auto two = bytes;
    set16(two, 4, 2);
    CHECK(error_of(two) == QueryError::formerr);
    Query q;
    (void)parse_query(two, q);
    CHECK_FALSE(q.rd); // NSD clears the flags on this path
    auto an = bytes;
    set16(an, 6, 1);
    CHECK(error_of(an) == QueryError::formerr);
    auto ns = bytes;
    set16(ns, 8, 1);
    CHECK(error_of(ns) == QueryError::formerr);
    auto ar = bytes; // ARCOUNT 1 without a record
    set16(ar, 10, 1);
    CHECK(error_of(ar) == QueryError::formerr);
}

TEST_CASE("opcodes other than QUERY and NOTIFY are NOTIMP before the question is read") {
    for (int opcode = 1; opcode < 16; ++opcode) {
        auto bytes = make_query("a.test.", rrtype::a);
        bytes[2] = static_cast<std::uint8_t>((bytes[2] & 0x87) | (opcode << 3));
        CHECK(error_of(bytes) == QueryError::notimp);
        bytes.resize(12); // no question at all
        CHECK(error_of(bytes) == (opcode == 4 ? QueryError::formerr : QueryError::notimp));
    }
    // NOTIFY is NOTIMP too, but only once its question parsed.
    auto notify = make_query("a.test.", rrtype::soa);
    notify[2] = static_cast<std::uint8_t>(notify[2] | (4 << 3));
    auto bad = notify;
    bad.resize(14);
    CHECK(error_of(bad) == QueryError::formerr);
    auto two = notify; // NSD answers a NOTIFY before it looks at QDCOUNT
    set16(two, 4, 2);
    CHECK(error_of(two) == QueryError::notimp);
}

TEST_CASE("TC, AA, RA, Z, AD and CD in a query are ignored; RCODE bits are FORMERR") {
    for (std::uint16_t bit : {flag::tc, flag::aa, flag::ra, flag::z, flag::ad, flag::cd}) {
        auto bytes = make_query("a.test.", rrtype::a);
        set16(bytes, 2, static_cast<std::uint16_t>(get_u16(bytes.data() + 2) | bit));
        Query q;
        CHECK(parse_query(bytes, q).has_value());
        CHECK(q.flags == (flag::rd | bit));
    }
    for (std::uint16_t rcode : {1, 5, 15}) {
        auto bytes = make_query("a.test.", rrtype::a);
        set16(bytes, 2, static_cast<std::uint16_t>(get_u16(bytes.data() + 2) | rcode));
        Query q;
        auto r = parse_query(bytes, q);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().error == QueryError::formerr);
        CHECK(q.rd); // RD kept on this path
    }
}

TEST_CASE("QDCOUNT 0 with an OPT alone: NOERROR with an OPT; anything else is FORMERR") {
    std::vector<std::uint8_t> opt_alone = {
        0x12, 0x34, 0x01, 0x00, 0,    0, 0, 0,    0, 0, 0, 1, // header, RD
        0,    0,    41,   0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};   // OPT, DO
    Query q;
    auto r = parse_query(opt_alone, q);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().error == QueryError::no_question);
    CHECK(q.edns);
    CHECK(q.dnssec_ok);
    CHECK(q.question_size == 0);
    auto v1 = opt_alone;
    v1[18] = 1; // version 1
    CHECK(error_of(v1) == QueryError::formerr);
    auto ar2 = opt_alone;
    set16(ar2, 10, 2);
    CHECK(error_of(ar2) == QueryError::formerr);
    auto not_opt = opt_alone;
    not_opt[14] = 1; // type A
    CHECK(error_of(not_opt) == QueryError::formerr);
    Query cleared;
    (void)parse_query(not_opt, cleared);
    CHECK_FALSE(cleared.rd);
    CHECK_FALSE(cleared.edns);
}

TEST_CASE("EDNS: payload, DO, version, options") {
    QueryOptions o;
    o.edns = true;
    o.payload = 100;
    o.dnssec_ok = true;
    o.options = {0xfd, 0xe9, 0, 2, 7, 7};
    Query q;
    REQUIRE(parse_query(make_query("a.test.", rrtype::a, o), q).has_value());
    CHECK(q.edns);
    CHECK(q.dnssec_ok);
    CHECK(q.udp_payload == 512);
    CHECK_FALSE(q.has_client_subnet);

    o.payload = 4096;
    REQUIRE(parse_query(make_query("a.test.", rrtype::a, o), q).has_value());
    CHECK(q.udp_payload == 4096);

    o.edns_version = 1;
    CHECK(error_of(make_query("a.test.", rrtype::a, o)) == QueryError::badvers);
}

TEST_CASE("EDNS: malformed OPT records are FORMERR") {
    QueryOptions o;
    o.edns = true;
    auto bytes = make_query("a.test.", rrtype::a, o);
    // Two OPT records.
    auto two = bytes;
    two.insert(two.end(), bytes.end() - 11, bytes.end());
    set16(two, 10, 2);
    CHECK(error_of(two) == QueryError::formerr);
    // RDLENGTH past the end.
    auto overlong = bytes;
    set16(overlong, overlong.size() - 2, 10);
    CHECK(error_of(overlong) == QueryError::formerr);
    // An option whose length runs past RDLENGTH.
    o.options = {0, 10, 0, 9, 1};
    CHECK(error_of(make_query("a.test.", rrtype::a, o)) == QueryError::formerr);
    // OPT owner not the root.
    auto q = make_query("a.test.", rrtype::a);
    append(q, {1, 'x', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0});
    set16(q, 10, 1);
    CHECK(error_of(q) == QueryError::formerr);
    // Other records in the additional section.
    auto other = make_query("a.test.", rrtype::a);
    append(other, {0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4});
    set16(other, 10, 1);
    CHECK(error_of(other) == QueryError::formerr);
}

TEST_CASE("ECS (RFC 7871) is parsed; a malformed one is ignored") {
    QueryOptions o;
    o.edns = true;
    o.options = {0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2};
    Query q;
    REQUIRE(parse_query(make_query("a.test.", rrtype::a, o), q).has_value());
    REQUIRE(q.has_client_subnet);
    CHECK(q.client_subnet.family == 1);
    CHECK(q.client_subnet.source_prefix == 24);
    CHECK(q.client_subnet.address[0] == 192);
    CHECK(q.client_subnet.address[2] == 2);
    CHECK(q.client_subnet.address[3] == 0);

    o.options = {0, 8, 0, 7, 0, 1, 20, 0, 10, 0x1f, 0xff}; // /20: trailing bits masked
    REQUIRE(parse_query(make_query("a.test.", rrtype::a, o), q).has_value());
    REQUIRE(q.has_client_subnet);
    CHECK(q.client_subnet.address[1] == 0x1f);
    CHECK(q.client_subnet.address[2] == 0xf0);

    o.options = {0, 8, 0, 5, 0, 1, 24, 0, 192}; // address too short for /24
    REQUIRE(parse_query(make_query("a.test.", rrtype::a, o), q).has_value());
    CHECK_FALSE(q.has_client_subnet);

    o.options = {0, 8, 0, 4, 0, 3, 0, 0}; // unknown family
    REQUIRE(parse_query(make_query("a.test.", rrtype::a, o), q).has_value());
    CHECK_FALSE(q.has_client_subnet);

    static const std::uint8_t too_long_prefix[] = {
        0, 8, 0, 20, 0, 2, 129, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}; // /129
    o.options.clear();
    for (std::uint8_t b : too_long_prefix) o.options.push_back(b);
    REQUIRE(parse_query(make_query("a.test.", rrtype::a, o), q).has_value());
    CHECK_FALSE(q.has_client_subnet);
}

TEST_CASE("IXFR may carry an SOA in the authority section") {
    auto q = make_query("example.test.", rrtype::ixfr);
    append(q, {0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 60, 0, 2, 0, 0});
    set16(q, 8, 1);
    Query parsed;
    CHECK(parse_query(q, parsed).has_value());
    q.resize(q.size() - 3);
    CHECK(error_of(q) == QueryError::formerr);
}

TEST_CASE("trailing bytes after the counted records are ignored") {
    auto q = make_query("a.test.", rrtype::a);
    append(q, {1, 2, 3});
    Query parsed;
    CHECK(parse_query(q, parsed).has_value());
}
