#include <doctest/doctest.h>

#include "core/duration.hpp"
#include "core/ip_address.hpp"
#include "core/text.hpp"

using namespace cairn;
using namespace std::chrono_literals;

TEST_CASE("durations in the forms the docs promise") {
    CHECK(*parse_duration("0") == 0ms);
    CHECK(*parse_duration("250ms") == 250ms);
    CHECK(*parse_duration("5s") == 5s);
    CHECK(*parse_duration("1m") == 60s);
    CHECK(*parse_duration("1h") == 3600s);
    CHECK(*parse_duration("1m30s") == 90s);
    CHECK(*parse_duration("90s") == 90s);
    CHECK(*parse_duration("1.5s") == 1500ms);
    CHECK(*parse_duration(".5s") == 500ms);
    CHECK(*parse_duration("0.25h") == 900s);
    CHECK(*parse_duration("2h45m") == 165min);
    CHECK(*parse_duration("1h2m3s4ms") == 3'723'004ms);
    CHECK(*parse_duration("1s500ms") == 1500ms);
    CHECK(*parse_duration("720h") == max_duration);
}

TEST_CASE("bad durations are errors that quote the value") {
    for (const char* bad : {"5", "5x", "s", "-5s", "+5s", "5 s", " 5s", "5s ", "5S", ".s", "1.s",
                            "1m30", "ms5", "5sec", "1d", "250us", "1500us", "1.0005s", "0.5ms"}) {
        CAPTURE(bad);
        auto d = parse_duration(bad);
        REQUIRE_FALSE(d);
        CHECK(d.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
    }
    CHECK(parse_duration("").error().message ==
          "\"\" is not a duration (expected e.g. \"5s\", \"250ms\", \"1m30s\")");
    CHECK_FALSE(parse_duration("99999999999999999999h"));
    CHECK(parse_duration("721h").error().message ==
          "\"721h\" is too long a duration (at most 720h)");
    CHECK(parse_duration("9000h").error().message.find("too long") != std::string::npos);
}

TEST_CASE("durations built by repetition are refused, whatever their length") {
    // "1m" x 50,000 once added up to 3,000,000 s although "1000h" was refused.
    std::string repeated;
    for (int i = 0; i < 50'000; ++i) repeated += "1m";
    auto d = parse_duration(repeated);
    REQUIRE_FALSE(d);
    CHECK(d.error().message.find("longer than 32 characters") != std::string::npos);
    CHECK(d.error().message.size() < 200); // the value is cut short in the message
    for (const char* bad : {"1m1m", "1s1s", "30s1m", "1ms1s", "1h1h1h", "1m30s30s"}) {
        CAPTURE(bad);
        auto r = parse_duration(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("each at most once") != std::string::npos);
    }
}

TEST_CASE("bytes outside printable ASCII are escaped in duration errors") {
    auto d = parse_duration(std::string_view("5\x80s\0", 4));
    REQUIRE_FALSE(d);
    CHECK(d.error().message.starts_with("\"5\\x80s\\x00\" is not a duration"));
}

TEST_CASE("format_duration reads back") {
    for (auto d :
         {0ms, 1ms, 250ms, 1000ms, 90'000ms, 3'600'000ms, 3'661'000ms, 1500ms, 3'723'004ms}) {
        CAPTURE(d.count());
        CHECK(*parse_duration(format_duration(d)) == d);
    }
    CHECK(format_duration(90s) == "1m30s");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(1500ms) == "1s500ms");
    CHECK(format_duration(3'601'000ms) == "1h1s");
    CHECK(format_duration(0ms) == "0");
}

TEST_CASE("IP addresses") {
    auto v4 = parse_ip_address("10.1.2.3");
    REQUIRE(v4);
    CHECK(v4->family == 4);
    CHECK(v4->bytes[0] == 10);
    CHECK(v4->bytes[3] == 3);
    CHECK(to_string(*v4) == "10.1.2.3");
    auto v6 = parse_ip_address("::1");
    REQUIRE(v6);
    CHECK(v6->family == 6);
    CHECK(v6->bytes[15] == 1);
    CHECK(to_string(*v6) == "::1");
    CHECK(to_string(IpAddress{}).empty());
    for (std::string_view bad :
         {"", "10.1.2", "10.0.0.256", "10.0.0.1:80", "[::1]", "localhost", "host"}) {
        CAPTURE(bad);
        auto r = parse_ip_address(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().message == quote(bad) + " is not an IPv4 or IPv6 address");
    }
}

TEST_CASE("an address with a NUL inside is refused, not cut short") {
    auto r = parse_ip_address(std::string_view("10.0.0.1\0junk", 13));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "\"10.0.0.1\\x00junk\" is not an IPv4 or IPv6 address");
    CHECK_FALSE(parse_ip_address(std::string(100, '1')));
}

TEST_CASE("quoted escapes and shortens") {
    CHECK(quote("web") == "\"web\"");
    CHECK(quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(quote("\xff\n") == "\"\\xff\\x0a\"");
    CHECK(quote(std::string(100, 'a'), 4) == "\"aaaa...\"");
}

TEST_CASE("Go durations, as Consul's API sends them") {
    using std::chrono::nanoseconds;
    CHECK(*parse_go_duration("0") == 0ns);
    CHECK(*parse_go_duration("10s") == 10s);
    CHECK(*parse_go_duration("1m30s") == 90s);
    CHECK(*parse_go_duration("30s1m") == 90s);
    CHECK(*parse_go_duration("1.5h") == 90min);
    CHECK(*parse_go_duration("120000ms") == 120s);
    CHECK(*parse_go_duration("500us") == 500us);
    CHECK(*parse_go_duration("500\xC2\xB5s") == 500us);
    CHECK(*parse_go_duration("7ns") == 7ns);
    CHECK(*parse_go_duration("+5s") == 5s);
    CHECK(*parse_go_duration(".5s") == 500ms);
    CHECK(*parse_go_duration("1h2m3s4ms5us6ns") == 3'723'004'005'006ns);
    CHECK(*parse_go_duration("720h") == nanoseconds(max_duration));
    for (const char* bad :
         {"", "5", "5x", "s", "-5s", "5 s", "1d", "721h", ".s", "99999999999999999999s"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_go_duration(bad));
    }
    CHECK(ceil_to_ms(500us) == 1ms);
    CHECK(ceil_to_ms(1500us) == 2ms);
    CHECK(ceil_to_ms(0ns) == 0ms);
}
