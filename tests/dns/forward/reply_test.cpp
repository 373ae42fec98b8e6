// The forwarder's wire side: its upstream query, the check of replies
// (built here with ldns, so the parser is not checked against itself) and
// the answers made from them for clients.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dns/forward/reply.hpp"
#include "dns/wire/query.hpp"
#include "dns_test_util.hpp"

using namespace cairn;
using namespace cairn::dns;
using namespace cairn::dns::forward;
using cairn::dns::test::make_query;
using cairn::dns::test::QueryOptions;
using cairn::dns::test::read_reply;
using Bytes = std::vector<std::uint8_t>;

namespace {

Query parsed(const Bytes& packet) {
    Query q;
    REQUIRE(parse_query(packet, q));
    return q;
}

struct ReplySpec {
    std::uint16_t id = 0x4242;
    std::string qname = "www.example.test.";
    ldns_rr_type qtype = LDNS_RR_TYPE_A;
    std::vector<std::string> answer = {}, authority = {}, additional = {};
    ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
    bool tc = false, ad = false, edns = true;
};

Bytes make_reply(const ReplySpec& s) {
    ldns_pkt* p = ldns_pkt_new();
    ldns_pkt_set_id(p, s.id);
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_rd(p, true);
    ldns_pkt_set_ra(p, true);
    ldns_pkt_set_aa(p, true);
    ldns_pkt_set_tc(p, s.tc);
    ldns_pkt_set_ad(p, s.ad);
    ldns_pkt_set_rcode(p, s.rcode);
    ldns_rdf* owner = ldns_dname_new_frm_str(s.qname.c_str());
    ldns_rr* q = ldns_rr_new();
    ldns_rr_set_owner(q, owner);
    ldns_rr_set_type(q, s.qtype);
    ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
    ldns_rr_set_question(q, true);
    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
    auto push = [&](ldns_pkt_section section, const std::vector<std::string>& rrs) {
        for (const auto& text : rrs) {
            ldns_rr* rr = nullptr;
            REQUIRE(ldns_rr_new_frm_str(&rr, text.c_str(), 300, nullptr, nullptr) ==
                    LDNS_STATUS_OK);
            ldns_pkt_push_rr(p, section, rr);
        }
    };
    push(LDNS_SECTION_ANSWER, s.answer);
    push(LDNS_SECTION_AUTHORITY, s.authority);
    push(LDNS_SECTION_ADDITIONAL, s.additional);
    if (s.edns) {
        ldns_pkt_set_edns_udp_size(p, 1232);
        ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_str(LDNS_RDF_TYPE_HEX, ""));
    }
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&wire, p, &size) == LDNS_STATUS_OK);
    Bytes out(wire, wire + size);
    std::free(wire);
    ldns_pkt_free(p);
    return out;
}

QueryOptions client_options() {
    QueryOptions o;
    o.id = 0x0707;
    o.edns = true;
    o.dnssec_ok = true;
    return o;
}

const Bytes client_packet = make_query("WWW.Example.TEST.", rrtype::a, client_options());

} // namespace

TEST_CASE("upstream query: RD, the question, OPT with cairn's payload and the client's DO") {
    Query q = parsed(client_packet);
    std::uint8_t out[512];
    std::size_t n = write_upstream_query(out, 0xbeef, q);
    REQUIRE(n > 0);
    auto r = read_reply(out, n);
    REQUIRE(r.pkt);
    CHECK(ldns_pkt_id(r.pkt.get()) == 0xbeef);
    CHECK(r.rd());
    CHECK(r.edns());
    CHECK(ldns_pkt_edns_udp_size(r.pkt.get()) == edns_payload);
    CHECK(ldns_pkt_edns_do(r.pkt.get()));
    Query back = parsed(Bytes(out, out + n));
    CHECK(names_equal(back.qname.name(), q.qname.name()));
    CHECK(back.qtype == rrtype::a);
    CHECK(write_upstream_query({out, 20}, 1, q) == 0);
}

TEST_CASE("check_reply: a good reply, its rcode, its OPT found last") {
    Query q = parsed(client_packet);
    Bytes m = make_reply({.qname = "www.EXAMPLE.test.",
                          .answer = {"www.example.test. 300 IN A 192.0.2.1"},
                          .authority = {"example.test. 300 IN NS ns1.example.test."},
                          .additional = {"ns1.example.test. 300 IN A 192.0.2.53"}});
    auto r = check_reply(m, 0x4242, q);
    REQUIRE(r);
    CHECK(r->rcode == 0);
    CHECK(r->answers == 1);
    CHECK(r->had_opt);
    CHECK(r->body_size == m.size() - 11);
    CHECK_FALSE(r->truncated);

    auto nx = check_reply(make_reply({.rcode = LDNS_RCODE_NXDOMAIN, .edns = false}), 0x4242, q);
    REQUIRE(nx);
    CHECK(nx->rcode == rcode::nxdomain);
    CHECK_FALSE(nx->had_opt);
}

TEST_CASE("check_reply: what is not ours is told apart from what is broken") {
    Query q = parsed(client_packet);
    Bytes good = make_reply({.answer = {"www.example.test. 300 IN A 192.0.2.1"}});
    CHECK(check_reply(good, 0x4243, q).error().error == ReplyError::wrong_id);
    CHECK(check_reply(make_reply({.qname = "www.example.tesu."}), 0x4242, q).error().error ==
          ReplyError::wrong_question);
    CHECK(check_reply(make_reply({.qtype = LDNS_RR_TYPE_AAAA}), 0x4242, q).error().error ==
          ReplyError::wrong_question);
    Bytes query_not_reply = good;
    query_not_reply[2] &= 0x7f;
    CHECK(check_reply(query_not_reply, 0x4242, q).error().error == ReplyError::not_a_response);
    CHECK(check_reply(Bytes(good.begin(), good.begin() + 11), 0x4242, q).error().error ==
          ReplyError::malformed);
    // Cut inside the answer's RDATA.
    Bytes cut(good.begin(), good.end() - 14);
    CHECK(check_reply(cut, 0x4242, q).error().error == ReplyError::malformed);
    // A compression pointer that points forward.
    Bytes forward = good;
    std::size_t answer_owner = 12 + q.qname.size + 4;
    forward[answer_owner] = 0xc0;
    forward[answer_owner + 1] = 0xff;
    CHECK(check_reply(forward, 0x4242, q).error().error == ReplyError::malformed);
    // An OPT before another additional record.
    Bytes opt_first = make_reply({.additional = {"ns1.example.test. 300 IN A 192.0.2.53"}});
    // Move the OPT (last 11 bytes) in front of the A record: rebuild by hand.
    std::size_t a_start = 12 + q.qname.size + 4;
    Bytes moved(opt_first.begin(), opt_first.begin() + static_cast<long>(a_start));
    moved.insert(moved.end(), opt_first.end() - 11, opt_first.end());
    moved.insert(moved.end(), opt_first.begin() + static_cast<long>(a_start), opt_first.end() - 11);
    CHECK(check_reply(moved, 0x4242, q).error().error == ReplyError::opt_not_last);
}

TEST_CASE("check_reply: a truncated reply is not read further") {
    Query q = parsed(client_packet);
    Bytes tc = make_reply({.tc = true, .edns = false});
    tc.resize(12 + q.qname.size + 4); // the records left out, the counts kept
    tc[7] = 5;
    auto r = check_reply(tc, 0x4242, q);
    REQUIRE(r);
    CHECK(r->truncated);
}

TEST_CASE("client answer: the client's ID, question case, flags and OPT") {
    Query q = parsed(client_packet);
    Bytes m = make_reply({.answer = {"www.example.test. 300 IN A 192.0.2.1"}, .ad = true});
    auto r = check_reply(m, 0x4242, q);
    REQUIRE(r);
    Bytes out(65535);
    std::size_t n = write_client_answer(m, *r, q, client_packet, out, 1232);
    REQUIRE(n > 0);
    auto a = read_reply(out.data(), n);
    REQUIRE(a.pkt);
    CHECK(ldns_pkt_id(a.pkt.get()) == 0x0707);
    CHECK(a.rd());
    CHECK(ldns_pkt_ra(a.pkt.get()));
    CHECK_FALSE(a.aa());
    CHECK(ldns_pkt_ad(a.pkt.get())); // the client set DO
    CHECK(a.edns());
    CHECK(ldns_pkt_edns_do(a.pkt.get()));
    CHECK(ldns_pkt_arcount(a.pkt.get()) == 0); // ldns counts the OPT apart
    CHECK(a.answer == std::set<std::string>{"www.example.test. 300 A 192.0.2.1"});
    // The question bytes exactly as the client sent them.
    CHECK(std::equal(out.begin() + 12, out.begin() + 12 + static_cast<long>(q.question_size),
                     client_packet.begin() + 12));

    // A client without EDNS or DO: no OPT, no AD.
    QueryOptions po;
    po.id = 9;
    po.flags = 0;
    Bytes plain = make_query("www.example.test.", rrtype::a, po);
    Query p = parsed(plain);
    n = write_client_answer(m, *r, p, plain, out, 512);
    auto b = read_reply(out.data(), n);
    REQUIRE(b.pkt);
    CHECK_FALSE(b.edns());
    CHECK_FALSE(b.rd());
    CHECK_FALSE(ldns_pkt_ad(b.pkt.get()));
    CHECK(b.answer.size() == 1);
}

TEST_CASE("client answer: too large for the client is TC with the question") {
    Query q = parsed(client_packet);
    std::vector<std::string> many;
    for (int i = 0; i < 60; ++i)
        many.push_back("www.example.test. 300 IN A 192.0.2." + std::to_string(i + 1));
    Bytes m = make_reply({.answer = many});
    auto r = check_reply(m, 0x4242, q);
    REQUIRE(r);
    Bytes out(65535);
    std::size_t n = write_client_answer(m, *r, q, client_packet, out, 512);
    REQUIRE(n > 0);
    CHECK(n <= 512);
    auto a = read_reply(out.data(), n);
    REQUIRE(a.pkt);
    CHECK(a.tc());
    CHECK(a.qdcount() == 1);
    CHECK(a.answer.empty());
    n = write_client_answer(m, *r, q, client_packet, out, 65535);
    CHECK(read_reply(out.data(), n).answer.size() == 60);
}

TEST_CASE("client error: SERVFAIL with the question and OPT") {
    Query q = parsed(client_packet);
    Bytes out(512);
    std::size_t n = write_client_error(rcode::servfail, q, client_packet, out);
    auto a = read_reply(out.data(), n);
    REQUIRE(a.pkt);
    CHECK(a.rcode() == rcode::servfail);
    CHECK(a.qdcount() == 1);
    CHECK(a.edns());
    CHECK(ldns_pkt_id(a.pkt.get()) == 0x0707);
}
