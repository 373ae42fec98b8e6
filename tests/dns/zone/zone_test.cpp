// Zone loading: record types, RFC 3597, errors naming file:line.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>

#include <doctest/doctest.h>

#include "asker.hpp"
#include "dns/zone/zone.hpp"

using namespace cairn::dns;
using namespace cairn::dns::test;

namespace {

std::string error_of(const std::string& text) {
    auto r = load_zone_text(text, "z.test.", "z.zone");
    REQUIRE_FALSE(r.has_value());
    return r.error().message;
}

const char* const head = "$ORIGIN z.test.\n$TTL 60\n@ IN SOA ns h 1 2 3 4 5\n";

} // namespace

TEST_CASE("every supported type loads and answers in wire form") {
    std::string text = std::string(head) + "@ IN NS ns\n"
                                           "ns IN A 192.0.2.1\n"
                                           "ns IN AAAA 2001:db8::1\n"
                                           "c IN CNAME ns\n"
                                           "s IN SRV 1 2 3 ns\n"
                                           "t IN TXT \"a b\" c\n"
                                           "@ IN MX 10 ns\n"
                                           "p IN PTR ns\n"
                                           "@ IN CAA 0 issue \"ca.example\"\n"
                                           "u IN TYPE65534 \\# 3 0a0b0c\n"
                                           "g IN TYPE1 \\# 4 C0000263\n";
    auto zones = load_zone_text(text, "z.test.");
    REQUIRE_MESSAGE(zones.has_value(), (zones ? "" : zones.error().message));
    auto info = (*zones)->info();
    REQUIRE(info.size() == 1);
    CHECK(info[0].origin == "z.test.");
    CHECK(info[0].serial == 1);
    Asker asker(*zones);
    CHECK(asker.ask("s.z.test.", rrtype::srv).answer ==
          std::set<std::string>{"s.z.test. 60 SRV 1 2 3 ns.z.test."});
    CHECK(asker.ask("t.z.test.", rrtype::txt).answer ==
          std::set<std::string>{"t.z.test. 60 TXT \"a b\" \"c\""});
    CHECK(asker.ask("z.test.", rrtype::caa).answer.size() == 1);
    CHECK(asker.ask("p.z.test.", rrtype::ptr).answer ==
          std::set<std::string>{"p.z.test. 60 PTR ns.z.test."});
    Reply unknown = asker.ask("u.z.test.", 65534);
    CHECK(unknown.answer.size() == 1);
    const std::vector<std::uint8_t> rdata = {0, 3, 0x0a, 0x0b, 0x0c}; // RDLENGTH and RDATA
    CHECK(std::search(unknown.bytes.begin(), unknown.bytes.end(), rdata.begin(), rdata.end()) !=
          unknown.bytes.end());
    CHECK(asker.ask("g.z.test.", rrtype::a).answer ==
          std::set<std::string>{"g.z.test. 60 A 192.0.2.99"});
}

TEST_CASE("duplicate records are kept once") {
    auto zones =
        load_zone_text(std::string(head) + "a IN A 192.0.2.1\na IN A 192.0.2.1\n", "z.test.");
    REQUIRE(zones.has_value());
    Asker asker(*zones);
    Reply r = asker.ask("a.z.test.", rrtype::a);
    CHECK(ldns_pkt_ancount(r.pkt.get()) == 1);
}

TEST_CASE("broken zones are errors that name file and line") {
    CHECK(error_of(std::string(head) + "a IN A 300.1.1.1\n").find("z.zone:4:") == 0);
    CHECK(error_of("$ORIGIN z.test.\na IN A 192.0.2.1\n").find("no SOA") != std::string::npos);
    CHECK(
        error_of(std::string(head) + "@ IN SOA ns h 2 2 3 4 5\n").find("z.zone:4: a second SOA") ==
        0);
    std::string cname = error_of(std::string(head) + "a IN A 192.0.2.1\n\na IN CNAME b\n");
    CHECK(cname.find("z.zone:6: CNAME and other data") == 0);
    CHECK(
        error_of(std::string(head) + "a IN CNAME b\na IN CNAME c\n").find("more than one CNAME") !=
        std::string::npos);
    CHECK(error_of(std::string(head) + "other.test. IN A 192.0.2.1\n").find("outside the zone") !=
          std::string::npos);
    CHECK(error_of(std::string(head) + "a CH TXT \"x\"\n").find("only class IN") !=
          std::string::npos);
    CHECK(error_of(std::string(head) + "$INCLUDE other.zone\n").find("$INCLUDE") !=
          std::string::npos);
    CHECK(error_of(std::string(head) + "a IN BOGUSTYPE 1\n").find("z.zone:4:") == 0);
}

TEST_CASE("load_zones reads *.zone from a directory; missing or empty directory is an empty set") {
    auto dir = std::filesystem::temp_directory_path() / "cairn-zone-dir-test";
    std::filesystem::remove_all(dir);
    auto missing = load_zones(dir.string());
    REQUIRE(missing.has_value());
    CHECK((*missing)->empty());

    std::filesystem::create_directories(dir);
    // The file name is the default origin, so "@" works without $ORIGIN.
    std::ofstream(dir / "a.test.zone") << "@ 60 IN SOA ns h 1 2 3 4 5\nwww 60 IN A 192.0.2.1\n";
    std::ofstream(dir / "notes.txt") << "not a zone";
    auto one = load_zones(dir.string());
    REQUIRE_MESSAGE(one.has_value(), (one ? "" : one.error().message));
    REQUIRE((*one)->info().size() == 1);
    CHECK((*one)->info()[0].origin == "a.test.");

    std::ofstream(dir / "b.test.zone") << "@ 60 IN SOA ns h 1 2 3 4 5\nbad 60 IN A nonsense\n";
    auto broken = load_zones(dir.string());
    REQUIRE_FALSE(broken.has_value());
    CHECK(broken.error().message.find("b.test.zone:2:") != std::string::npos);

    std::ofstream(dir / "b.test.zone") << "$ORIGIN a.test.\n@ 60 IN SOA ns h 1 2 3 4 5\n";
    auto twice = load_zones(dir.string());
    REQUIRE_FALSE(twice.has_value());
    CHECK(twice.error().message.find("also defined") != std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST_CASE("the shipped example zone loads") {
    auto dir = std::filesystem::path(CAIRN_SOURCE_ROOT) / "zones";
    auto zones = load_zones(dir.string());
    REQUIRE_MESSAGE(zones.has_value(), (zones ? "" : zones.error().message));
    CHECK_FALSE((*zones)->empty());
}

TEST_CASE("names: text and wire") {
    auto n = name_from_text("A.b\\.c.\\065.");
    REQUIRE(n.has_value());
    CHECK(n->labels == 3);
    CHECK(name_to_text(n->name()) == "a.b\\.c.a.");
    CHECK_FALSE(name_from_text("a..b").has_value());
    CHECK_FALSE(name_from_text(std::string(64, 'a') + ".").has_value());
    CHECK(name_from_text(std::string(63, 'a') + ".").has_value());
    auto root = name_from_text(".");
    CHECK(root->size == 1);
    CHECK(name_to_text(root->name()) == ".");
    auto upper = name_from_text("WWW.Example.", false);
    auto lower = name_from_text("www.example.");
    CHECK(names_equal(upper->name(), lower->name()));
    CHECK(is_subdomain(lower->name(), name_from_text("EXAMPLE")->name()));
    CHECK_FALSE(
        is_subdomain(name_from_text("xexample.")->name(), name_from_text("example.")->name()));
    CHECK(count_labels(lower->name()) == 2);
    CHECK(name_to_text(strip_labels(lower->name(), 1)) == "example.");
}

TEST_CASE("an RRset that no 65,535-byte message can hold is refused at load, naming its line") {
    // 4,094 A records at a.z.test.: 12 + 10 (name) + 4 + 4,094 * 16 = 65,530
    // bytes: fits. One more is the line that crosses the limit.
    std::string text = head;
    for (int i = 0; i < 4094; ++i)
        text += "a IN A 10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) +
                "." + std::to_string(i % 256) + "\n";
    auto fits = load_zone_text(text, "z.test.", "z.zone");
    REQUIRE(fits.has_value());
    Asker asker(*fits);
    Reply r = asker.ask("a.z.test.", rrtype::a, {}, Transport::tcp);
    CHECK(ldns_pkt_ancount(r.pkt.get()) == 4094);
    std::string over = error_of(text + "a IN A 10.250.0.1\n");
    CHECK(over.find("z.zone:4098: the type 1 RRset at a.z.test.") == 0);
    CHECK(over.find("could never be served whole") != std::string::npos);
    // 65,536 records (the count that wrapped to 0 in 16 bits) are refused too.
    std::string huge = head;
    for (int i = 0; i < 65536; ++i)
        huge += "b IN A 10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) +
                "." + std::to_string(i % 256) + "\n";
    CHECK(error_of(huge).find("RRset at b.z.test.") != std::string::npos);
}

// The fastest of three loads of a zone whose one RRset is `repeats` copies of
// one TXT record, in microseconds.
static long fastest_load_us(int repeats) {
    std::string text = head;
    for (int i = 0; i < repeats; ++i) text += "t IN TXT \"x\"\n";
    long best = std::numeric_limits<long>::max();
    for (int round = 0; round < 3; ++round) {
        auto start = std::chrono::steady_clock::now();
        REQUIRE(load_zone_text(text, "z.test.", "z.zone").has_value());
        auto took = std::chrono::steady_clock::now() - start;
        best = std::min<long>(best,
                              std::chrono::duration_cast<std::chrono::microseconds>(took).count());
    }
    return best;
}

TEST_CASE("loading a 20,000-record RRset is not quadratic; repeats are still dropped") {
    // Different RDATA sizes so that the RRset fits: TXT of 1 byte, repeated
    // 20,000 times (one record kept) and 3,000 distinct.
    std::string text = head;
    for (int i = 0; i < 20000; ++i) text += "t IN TXT \"x\"\n";
    for (int i = 0; i < 3000; ++i) text += "u IN TXT \"" + std::to_string(i) + "\"\n";
    auto zones = load_zone_text(text, "z.test.", "z.zone");
    REQUIRE(zones.has_value());
    Asker asker(*zones);
    CHECK(ldns_pkt_ancount(asker.ask("t.z.test.", rrtype::txt, {}, Transport::tcp).pkt.get()) == 1);
    CHECK(ldns_pkt_ancount(asker.ask("u.z.test.", rrtype::txt, {}, Transport::tcp).pkt.get()) ==
          3000);
    // The growth, not a wall-clock bound (this machine is shared): ten times
    // the records costs about ten times the time when loading is O(n log n),
    // a hundred times when each record is compared with all before it.
    long small = fastest_load_us(2000), large = fastest_load_us(20000);
    MESSAGE("2,000 repeats: " << small << " us, 20,000: " << large << " us");
    CHECK(large < 40 * std::max(small, 1L));
}

TEST_CASE("TTLs above 2^31-1 are refused at load (RFC 2181 §8)") {
    CHECK(load_zone_text(std::string(head) + "a 2147483647 IN A 192.0.2.1\n", "z.test.", "z.zone")
              .has_value());
    CHECK(error_of(std::string(head) + "a 2147483648 IN A 192.0.2.1\n")
              .find("z.zone:4: TTL 2147483648") == 0);
}
