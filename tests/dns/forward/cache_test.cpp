// The cache of forwarded answers: what is kept and for how long (RFC 2308
// negative answers), what is served (TTLs counted down, the client's ID,
// case, flags and EDNS), serve-stale (RFC 8767), prefetch, LRU eviction and
// flushing. Upstream responses are built with ldns; answers read with ldns.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "dns/forward/cache.hpp"
#include "dns/forward/cache_metrics.hpp"
#include "dns/wire/query.hpp"

#include "../answer/alloc_counter.hpp"
#include "dns_test_util.hpp"

using namespace cairn::dns;
using namespace cairn::dns::forward;
using cairn::dns::test::make_query;
using cairn::dns::test::QueryOptions;
using cairn::dns::test::read_reply;
using std::chrono::seconds;

namespace {

struct Upstream {
    std::uint16_t rcode = rcode::noerror;
    std::vector<std::string> answer, authority, additional;
    bool edns = false;
    bool dnssec_ok = false;
    bool tc = false;
    bool aa = true;
    bool ad = false;
    std::string question; // default: the query's name
    std::uint16_t qtype = 0;
};

std::vector<std::uint8_t> make_response(const std::string& name, std::uint16_t type,
                                        const Upstream& u) {
    std::string qname = u.question.empty() ? name : u.question;
    ldns_pkt* pkt = ldns_pkt_query_new(ldns_dname_new_frm_str(qname.c_str()),
                                       static_cast<ldns_rr_type>(u.qtype ? u.qtype : type),
                                       LDNS_RR_CLASS_IN, LDNS_RD);
    ldns_pkt_set_id(pkt, 0x4242);
    ldns_pkt_set_qr(pkt, true);
    ldns_pkt_set_aa(pkt, u.aa);
    ldns_pkt_set_ra(pkt, true);
    ldns_pkt_set_tc(pkt, u.tc);
    ldns_pkt_set_ad(pkt, u.ad);
    ldns_pkt_set_rcode(pkt, static_cast<std::uint8_t>(u.rcode));
    auto push = [&](ldns_pkt_section section, const std::vector<std::string>& rrs) {
        for (const auto& text : rrs) {
            ldns_rr* rr = nullptr;
            REQUIRE(ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK);
            ldns_pkt_push_rr(pkt, section, rr);
        }
    };
    push(LDNS_SECTION_ANSWER, u.answer);
    push(LDNS_SECTION_AUTHORITY, u.authority);
    push(LDNS_SECTION_ADDITIONAL, u.additional);
    if (u.edns) {
        ldns_pkt_set_edns_udp_size(pkt, 1232);
        ldns_pkt_set_edns_do(pkt, u.dnssec_ok);
    }
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&wire, pkt, &size) == LDNS_STATUS_OK);
    std::vector<std::uint8_t> out(wire, wire + size);
    std::free(wire);
    ldns_pkt_free(pkt);
    return out;
}

struct Asked {
    std::vector<std::uint8_t> packet;
    Query query;
};

Asked ask(const std::string& name, std::uint16_t type, const QueryOptions& o = {}) {
    Asked a;
    a.packet = make_query(name, type, o);
    REQUIRE(parse_query(a.packet, a.query).has_value());
    return a;
}

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1000);

const std::string soa_3600_300 =
    "example.test. 3600 IN SOA ns.example.test. host.example.test. 1 7200 900 1209600 300";

struct Fixture {
    CacheSettings settings = [] {
        CacheSettings s;
        s.own_domain = *name_from_text("cairn.");
        return s;
    }();
    Cache cache{settings};
    std::array<std::uint8_t, 65535> out{};

    bool store(const std::string& name, std::uint16_t type, const Upstream& u,
               Clock::time_point now = t0, const QueryOptions& o = {}) {
        auto a = ask(name, type, o);
        return cache.store(a.query, make_response(name, type, u), now);
    }
    // Looks up, and reads what was served (an empty Reply on a miss).
    std::pair<CacheAnswer, cairn::dns::test::Reply>
    lookup(const std::string& name, std::uint16_t type, Clock::time_point now,
           const QueryOptions& o = {}, bool stale = false, std::size_t limit = 65535) {
        auto a = ask(name, type, o);
        CacheAnswer r = stale ? cache.lookup_stale(a.query, a.packet, now, out, limit)
                              : cache.lookup(a.query, a.packet, now, out, limit);
        return {r, read_reply(out.data(), r.size)};
    }
};

Upstream positive(std::vector<std::string> answer) {
    Upstream u;
    u.answer = std::move(answer);
    return u;
}

} // namespace

TEST_CASE("a positive answer is served with its TTLs counted down, the client's ID and case") {
    Fixture f;
    CHECK(f.lookup("www.example.test", rrtype::a, t0).first.status == CacheStatus::miss);
    REQUIRE(f.store("www.example.test", rrtype::a,
                    positive({"www.example.test. 300 IN A 192.0.2.1",
                              "www.example.test. 600 IN A 192.0.2.2"})));

    QueryOptions o;
    o.id = 0xbeef;
    auto a = ask("WwW.Example.TEST", rrtype::a, o);
    auto r = f.cache.lookup(a.query, a.packet, t0 + seconds(100), f.out, 512);
    REQUIRE(r.status == CacheStatus::hit);
    auto reply = read_reply(f.out.data(), r.size);
    REQUIRE(reply.pkt);
    CHECK(ldns_pkt_id(reply.pkt.get()) == 0xbeef);
    CHECK(reply.rcode() == 0);
    CHECK(reply.rd());
    CHECK(ldns_pkt_ra(reply.pkt.get()));
    CHECK_FALSE(reply.aa()); // a cache is not the authority
    CHECK_FALSE(reply.edns());
    CHECK(reply.answer == std::set<std::string>{"www.example.test. 200 A 192.0.2.1",
                                                "www.example.test. 500 A 192.0.2.2"});
    // The question is the client's, byte for byte.
    CHECK(std::equal(a.packet.begin() + 12, a.packet.begin() + 12 + a.query.question_size,
                     f.out.begin() + 12));

    // Fresh until the smallest TTL is over.
    CHECK(f.lookup("www.example.test", rrtype::a, t0 + seconds(299)).first.status ==
          CacheStatus::hit);
    CHECK(f.lookup("www.example.test", rrtype::a, t0 + seconds(300)).first.status ==
          CacheStatus::stale);
}

TEST_CASE("the key is the name, type, class and DO bit") {
    Fixture f;
    REQUIRE(
        f.store("www.example.test", rrtype::a, positive({"www.example.test. 300 IN A 192.0.2.1"})));
    CHECK(f.lookup("www.example.test", rrtype::aaaa, t0).first.status == CacheStatus::miss);
    CHECK(f.lookup("www2.example.test", rrtype::a, t0).first.status == CacheStatus::miss);
    QueryOptions chaos;
    chaos.qclass = rrclass::ch;
    CHECK(f.lookup("www.example.test", rrtype::a, t0, chaos).first.status == CacheStatus::miss);
    QueryOptions dnssec;
    dnssec.edns = true;
    dnssec.dnssec_ok = true;
    CHECK(f.lookup("www.example.test", rrtype::a, t0, dnssec).first.status == CacheStatus::miss);
    QueryOptions edns;
    edns.edns = true;
    CHECK(f.lookup("www.example.test", rrtype::a, t0, edns).first.status == CacheStatus::hit);
}

TEST_CASE("RFC 2308: NXDOMAIN is kept for min(SOA TTL, SOA minimum), and served so") {
    Fixture f;
    Upstream nx;
    nx.rcode = rcode::nxdomain;
    nx.authority = {soa_3600_300};
    REQUIRE(f.store("nope.example.test", rrtype::a, nx));
    auto [r, reply] = f.lookup("nope.example.test", rrtype::a, t0 + seconds(10));
    REQUIRE(r.status == CacheStatus::hit);
    CHECK(reply.rcode() == rcode::nxdomain);
    CHECK(reply.answer.empty());
    REQUIRE(reply.authority.size() == 1);
    CHECK(reply.authority.begin()->starts_with("example.test. 290 SOA"));
    CHECK(f.lookup("nope.example.test", rrtype::a, t0 + seconds(299)).first.status ==
          CacheStatus::hit);
    CHECK(f.lookup("nope.example.test", rrtype::a, t0 + seconds(300)).first.status ==
          CacheStatus::stale);

    // The SOA's own TTL when it is the smaller.
    nx.authority = {"example.test. 60 IN SOA ns.example.test. host.example.test. 1 2 3 4 300"};
    REQUIRE(f.store("gone.example.test", rrtype::a, nx));
    CHECK(f.lookup("gone.example.test", rrtype::a, t0 + seconds(59)).first.status ==
          CacheStatus::hit);
    CHECK(f.lookup("gone.example.test", rrtype::a, t0 + seconds(60)).first.status ==
          CacheStatus::stale);
}

TEST_CASE("RFC 2308: NODATA is kept like NXDOMAIN; a negative answer without SOA is not") {
    Fixture f;
    Upstream nodata;
    nodata.authority = {soa_3600_300};
    REQUIRE(f.store("www.example.test", rrtype::aaaa, nodata));
    auto [r, reply] = f.lookup("www.example.test", rrtype::aaaa, t0 + seconds(1));
    REQUIRE(r.status == CacheStatus::hit);
    CHECK(reply.rcode() == rcode::noerror);
    CHECK(reply.answer.empty());
    CHECK(reply.authority.begin()->starts_with("example.test. 299 SOA"));
    CHECK(f.lookup("www.example.test", rrtype::aaaa, t0 + seconds(300)).first.status ==
          CacheStatus::stale);

    Upstream bare; // RFC 2308 §5: without the SOA there is no negative TTL
    bare.rcode = rcode::nxdomain;
    CHECK_FALSE(f.store("x.example.test", rrtype::a, bare));
    CHECK_FALSE(f.store("y.example.test", rrtype::a, Upstream{}));
    // A referral (NS in authority, no answer, no SOA) is not a NODATA.
    Upstream referral;
    referral.authority = {"sub.example.test. 300 IN NS ns.sub.example.test."};
    CHECK_FALSE(f.store("a.sub.example.test", rrtype::a, referral));
}

TEST_CASE("a CNAME to a missing name: NXDOMAIN, kept for the smallest TTL") {
    Fixture f;
    Upstream u;
    u.rcode = rcode::nxdomain;
    u.answer = {"alias.example.test. 100 IN CNAME missing.example.test."};
    u.authority = {soa_3600_300};
    REQUIRE(f.store("alias.example.test", rrtype::a, u));
    auto [r, reply] = f.lookup("alias.example.test", rrtype::a, t0 + seconds(99));
    REQUIRE(r.status == CacheStatus::hit);
    CHECK(reply.rcode() == rcode::nxdomain);
    CHECK(reply.answer ==
          std::set<std::string>{"alias.example.test. 1 CNAME missing.example.test."});
    CHECK(f.lookup("alias.example.test", rrtype::a, t0 + seconds(100)).first.status ==
          CacheStatus::stale);
}

TEST_CASE("TTLs are capped: max_ttl_s for answers, max_negative_ttl_s for negative ones") {
    Fixture f;
    REQUIRE(f.store("long.example.test", rrtype::a,
                    positive({"long.example.test. 1000000 IN A 192.0.2.1"})));
    auto [r, reply] = f.lookup("long.example.test", rrtype::a, t0);
    CHECK(reply.answer == std::set<std::string>{"long.example.test. 86400 A 192.0.2.1"});
    Upstream nx;
    nx.rcode = rcode::nxdomain;
    nx.authority = {"example.test. 90000 IN SOA ns.example.test. h.example.test. 1 2 3 4 90000"};
    REQUIRE(f.store("no.example.test", rrtype::a, nx));
    CHECK(f.lookup("no.example.test", rrtype::a, t0 + seconds(3599)).first.status ==
          CacheStatus::hit);
    CHECK(f.lookup("no.example.test", rrtype::a, t0 + seconds(3600)).first.status ==
          CacheStatus::stale);
}

TEST_CASE("what is never stored") {
    Fixture f;
    auto a = positive({"www.example.test. 300 IN A 192.0.2.1"});
    Upstream servfail;
    servfail.rcode = rcode::servfail;
    CHECK_FALSE(f.store("www.example.test", rrtype::a, servfail));
    Upstream refused;
    refused.rcode = rcode::refused;
    CHECK_FALSE(f.store("www.example.test", rrtype::a, refused));
    Upstream tc = a;
    tc.tc = true;
    CHECK_FALSE(f.store("www.example.test", rrtype::a, tc));
    CHECK_FALSE(
        f.store("www.example.test", rrtype::a, positive({"www.example.test. 0 IN A 192.0.2.1"})));
    // Another question than the one asked.
    Upstream other = a;
    other.question = "www2.example.test";
    CHECK_FALSE(f.store("www.example.test", rrtype::a, other));
    Upstream other_type = a;
    other_type.qtype = rrtype::aaaa;
    CHECK_FALSE(f.store("www.example.test", rrtype::a, other_type));
    // cairn's own domain comes from the registry, never from here.
    CHECK_FALSE(f.store("web.service.cairn", rrtype::a,
                        positive({"web.service.cairn. 300 IN A 192.0.2.1"})));
    CHECK_FALSE(f.store("CAIRN", rrtype::a, positive({"cairn. 300 IN A 192.0.2.1"})));
    CHECK(f.cache.stats().entries == 0);
    // Malformed: cut anywhere, it is refused, never read past its end.
    auto q = ask("www.example.test", rrtype::a);
    auto wire = make_response("www.example.test", rrtype::a, a);
    for (std::size_t n = 0; n < wire.size(); ++n) {
        CHECK_FALSE(f.cache.store(q.query, std::span(wire).first(n), t0));
    }
    CHECK(f.cache.store(q.query, wire, t0));
}

TEST_CASE("EDNS: the upstream's OPT is not kept; the client's EDNS decides, DO echoed") {
    Fixture f;
    Upstream u = positive({"www.example.test. 300 IN A 192.0.2.1"});
    u.edns = true;
    u.ad = true;
    REQUIRE(f.store("www.example.test", rrtype::a, u));
    auto [plain, plain_reply] = f.lookup("www.example.test", rrtype::a, t0);
    REQUIRE(plain.status == CacheStatus::hit);
    CHECK_FALSE(plain_reply.edns());
    CHECK_FALSE(ldns_pkt_ad(plain_reply.pkt.get())); // AD only to who asks (RFC 6840 §5.8)
    CHECK(ldns_pkt_arcount(plain_reply.pkt.get()) == 0);

    QueryOptions o;
    o.edns = true;
    o.payload = 4096;
    auto [r, reply] = f.lookup("www.example.test", rrtype::a, t0, o);
    REQUIRE(reply.edns());
    CHECK(ldns_pkt_edns_udp_size(reply.pkt.get()) == 1232);
    CHECK_FALSE(ldns_pkt_edns_do(reply.pkt.get()));

    Upstream signed_answer = positive({"www.example.test. 300 IN A 192.0.2.1"});
    signed_answer.edns = signed_answer.dnssec_ok = signed_answer.ad = true;
    o.dnssec_ok = true;
    REQUIRE(f.store("www.example.test", rrtype::a, signed_answer, t0, o));
    auto [d, dnssec_reply] = f.lookup("www.example.test", rrtype::a, t0, o);
    REQUIRE(d.status == CacheStatus::hit);
    CHECK(ldns_pkt_edns_do(dnssec_reply.pkt.get()));
    CHECK(ldns_pkt_ad(dnssec_reply.pkt.get()));
}

TEST_CASE("an answer over the client's limit is header and question with TC") {
    Fixture f;
    std::vector<std::string> many;
    for (int i = 0; i < 40; ++i)
        many.push_back(fmt::format("big.example.test. 300 IN A 10.0.0.{}", i));
    REQUIRE(f.store("big.example.test", rrtype::a, positive(many)));
    auto [r, reply] = f.lookup("big.example.test", rrtype::a, t0, {}, false, 512);
    REQUIRE(r.status == CacheStatus::hit);
    CHECK(reply.tc());
    CHECK(reply.qdcount() == 1);
    CHECK(reply.answer.empty());
    auto [tcp, whole] = f.lookup("big.example.test", rrtype::a, t0, {}, false, 65535);
    CHECK_FALSE(whole.tc());
    CHECK(whole.answer.size() == 40);
}

TEST_CASE("RFC 8767: stale answers only through lookup_stale, with TTL 30, for stale_limit_s") {
    Fixture f;
    Upstream u = positive({"www.example.test. 300 IN A 192.0.2.1"});
    REQUIRE(f.store("www.example.test", rrtype::a, u));
    // Fresh: lookup_stale serves it as a normal hit.
    auto [fresh, fresh_reply] = f.lookup("www.example.test", rrtype::a, t0 + seconds(5), {}, true);
    CHECK(fresh.status == CacheStatus::hit);
    CHECK(fresh_reply.answer == std::set<std::string>{"www.example.test. 295 A 192.0.2.1"});

    auto expired = t0 + seconds(300 + 3600);
    auto [normal, normal_reply] = f.lookup("www.example.test", rrtype::a, expired);
    CHECK(normal.status == CacheStatus::stale);
    CHECK(normal.size == 0); // not served unless every upstream failed
    QueryOptions o;
    o.edns = true;
    auto [stale, reply] = f.lookup("www.example.test", rrtype::a, expired, o, true);
    REQUIRE(stale.status == CacheStatus::stale);
    REQUIRE(stale.size > 0);
    CHECK(reply.answer == std::set<std::string>{"www.example.test. 30 A 192.0.2.1"});
    // Extended DNS Error 3, "Stale Answer" (RFC 8914), in the OPT.
    std::vector<std::uint8_t> ede{0, 15, 0, 2, 0, 3};
    CHECK(std::search(reply.bytes.begin(), reply.bytes.end(), ede.begin(), ede.end()) !=
          reply.bytes.end());
    CHECK(f.cache.stats().stale_served == 1);

    // Past the limit the entry is gone.
    auto too_late = t0 + seconds(300 + 86400);
    CHECK(f.lookup("www.example.test", rrtype::a, too_late, {}, true).first.status ==
          CacheStatus::miss);
    CHECK(f.cache.stats().entries == 0);
}

TEST_CASE("stale_limit_s 0: never stale") {
    CacheSettings s;
    s.stale_limit_s = 0;
    Cache cache(s);
    auto a = ask("www.example.test", rrtype::a);
    REQUIRE(cache.store(a.query,
                        make_response("www.example.test", rrtype::a,
                                      positive({"www.example.test. 300 IN A 192.0.2.1"})),
                        t0));
    std::array<std::uint8_t, 512> out{};
    CHECK(cache.lookup_stale(a.query, a.packet, t0 + seconds(300), out, 512).status ==
          CacheStatus::miss);
}

TEST_CASE("prefetch: a popular entry in the last tenth of its TTL asks for a refresh, once") {
    Fixture f;
    REQUIRE(
        f.store("pop.example.test", rrtype::a, positive({"pop.example.test. 100 IN A 192.0.2.1"})));
    REQUIRE(f.store("rare.example.test", rrtype::a,
                    positive({"rare.example.test. 100 IN A 192.0.2.1"})));
    CHECK_FALSE(f.lookup("pop.example.test", rrtype::a, t0 + seconds(10)).first.prefetch);
    CHECK_FALSE(f.lookup("pop.example.test", rrtype::a, t0 + seconds(89)).first.prefetch);
    CHECK(f.lookup("pop.example.test", rrtype::a, t0 + seconds(91)).first.prefetch);
    CHECK_FALSE(f.lookup("pop.example.test", rrtype::a, t0 + seconds(92)).first.prefetch);
    // One hit is not popular.
    CHECK_FALSE(f.lookup("rare.example.test", rrtype::a, t0 + seconds(95)).first.prefetch);
    CHECK(f.cache.stats().prefetches == 1);
    CHECK(format_cache_metrics(f.cache.stats()).find("cairn_dns_cache_prefetches_total 1\n") !=
          std::string::npos);
    // The refreshed answer starts a new life.
    REQUIRE(f.store("pop.example.test", rrtype::a,
                    positive({"pop.example.test. 100 IN A 192.0.2.9"}), t0 + seconds(92)));
    auto [r, reply] = f.lookup("pop.example.test", rrtype::a, t0 + seconds(150));
    CHECK(r.status == CacheStatus::hit);
    CHECK(reply.answer == std::set<std::string>{"pop.example.test. 42 A 192.0.2.9"});
}

TEST_CASE("the size cap: least recently used entries go first") {
    CacheSettings s;
    s.shards = 1;
    s.max_bytes = 1000;
    Cache cache(s);
    std::array<std::uint8_t, 512> out{};
    auto put = [&](const std::string& name) {
        auto a = ask(name, rrtype::a);
        return cache.store(
            a.query, make_response(name, rrtype::a, positive({name + ". 300 IN A 192.0.2.1"})), t0);
    };
    auto has = [&](const std::string& name) {
        auto a = ask(name, rrtype::a);
        return cache.lookup(a.query, a.packet, t0, out, 512).status == CacheStatus::hit;
    };
    REQUIRE(put("a.example.test"));
    REQUIRE(put("b.example.test"));
    REQUIRE(put("c.example.test"));
    auto per_entry = cache.stats().bytes / 3;
    REQUIRE(cache.stats().bytes <= 1000);
    CHECK(has("a.example.test")); // now the most recent
    // Fill until something goes: b first, being the least recently used.
    std::size_t n = 0;
    while (cache.stats().evicted == 0 && n < 100)
        REQUIRE(put(fmt::format("x{}.example.test", n++)));
    CHECK(cache.stats().evicted == 1);
    CHECK_FALSE(has("b.example.test"));
    CHECK(has("a.example.test"));
    CHECK(has("c.example.test"));
    CHECK(cache.stats().bytes <= 1000);
    CHECK(cache.stats().bytes + per_entry > 1000); // full: the next one would evict
    // An answer bigger than the whole cache is not stored.
    std::vector<std::string> many;
    for (int i = 0; i < 60; ++i)
        many.push_back(fmt::format("huge.example.test. 300 IN A 10.0.0.{}", i));
    auto h = ask("huge.example.test", rrtype::a);
    CHECK_FALSE(
        cache.store(h.query, make_response("huge.example.test", rrtype::a, positive(many)), t0));
    // max_bytes 0: no cache at all.
    CacheSettings off;
    off.max_bytes = 0;
    Cache none(off);
    CHECK_FALSE(none.store(h.query,
                           make_response("huge.example.test", rrtype::a,
                                         positive({"huge.example.test. 300 IN A 10.0.0.1"})),
                           t0));
}

TEST_CASE("flush: one name in every variant, or everything") {
    Fixture f;
    REQUIRE(
        f.store("www.example.test", rrtype::a, positive({"www.example.test. 300 IN A 192.0.2.1"})));
    REQUIRE(f.store("www.example.test", rrtype::aaaa,
                    positive({"www.example.test. 300 IN AAAA 2001:db8::1"})));
    REQUIRE(f.store("a.www.example.test", rrtype::a,
                    positive({"a.www.example.test. 300 IN A 192.0.2.1"})));
    REQUIRE(f.store("other.test", rrtype::a, positive({"other.test. 300 IN A 192.0.2.1"})));
    CHECK(f.cache.flush(name_from_text("WWW.example.test", false)->name()) == 2);
    CHECK(f.lookup("www.example.test", rrtype::a, t0).first.status == CacheStatus::miss);
    CHECK(f.lookup("a.www.example.test", rrtype::a, t0).first.status == CacheStatus::hit);
    CHECK(f.cache.stats().entries == 2);
    CHECK(f.cache.flush() == 2);
    CHECK(f.cache.stats().entries == 0);
    CHECK(f.cache.stats().bytes == 0);
}

TEST_CASE("a hit allocates nothing") {
    Fixture f;
    REQUIRE(
        f.store("www.example.test", rrtype::a, positive({"www.example.test. 300 IN A 192.0.2.1"})));
    auto a = ask("www.example.test", rrtype::a);
    auto miss = ask("nothing.example.test", rrtype::a);
    std::size_t before = cairn::dns::test::allocation_count();
    std::size_t hits = 0;
    for (int i = 0; i < 100; ++i) {
        hits += f.cache.lookup(a.query, a.packet, t0, f.out, 512).status == CacheStatus::hit;
        (void)f.cache.lookup(miss.query, miss.packet, t0, f.out, 512);
    }
    CHECK(cairn::dns::test::allocation_count() == before);
    CHECK(hits == 100);
}

TEST_CASE("workers share it: lookups and stores from several threads") {
    Fixture f;
    std::vector<std::thread> threads;
    std::array<std::size_t, 4> hits{};
    for (std::size_t t = 0; t < hits.size(); ++t) {
        threads.emplace_back([&f, &hits, t] {
            std::array<std::uint8_t, 512> out{};
            for (int i = 0; i < 500; ++i) {
                auto name = fmt::format("n{}.example.test", i % 50);
                auto a = ask(name, rrtype::a);
                if (f.cache.lookup(a.query, a.packet, t0, out, 512).status == CacheStatus::hit) {
                    ++hits[t];
                } else {
                    f.cache.store(
                        a.query,
                        make_response(name, rrtype::a, positive({name + ". 300 IN A 192.0.2.1"})),
                        t0);
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(f.cache.stats().entries == 50);
    for (auto h : hits) CHECK(h >= 500 - 50);
}

TEST_CASE("the figures for /metrics") {
    Fixture f;
    REQUIRE(
        f.store("www.example.test", rrtype::a, positive({"www.example.test. 300 IN A 192.0.2.1"})));
    (void)f.lookup("www.example.test", rrtype::a, t0);
    (void)f.lookup("www.example.test", rrtype::a, t0);
    (void)f.lookup("nothing.example.test", rrtype::a, t0);
    auto stats = f.cache.stats();
    CHECK(stats.entries == 1);
    CHECK(stats.hits == 2);
    CHECK(stats.misses == 1);
    CHECK(stats.stored == 1);
    std::string text = format_cache_metrics(stats);
    CHECK(text.find("cairn_dns_cache_entries 1\n") != std::string::npos);
    CHECK(text.find("cairn_dns_cache_lookups_total{result=\"hit\"} 2\n") != std::string::npos);
    CHECK(text.find("cairn_dns_cache_lookups_total{result=\"miss\"} 1\n") != std::string::npos);
    CHECK(text.find(fmt::format("cairn_dns_cache_bytes {}\n", stats.bytes)) != std::string::npos);
    CHECK(text.find("# TYPE cairn_dns_cache_evicted_total counter\n") != std::string::npos);
}
