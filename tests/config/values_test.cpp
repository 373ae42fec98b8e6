#include <doctest/doctest.h>

#include "config/values.hpp"

using namespace cairn::config;
using namespace std::chrono_literals;

TEST_CASE("durations in the forms the docs promise")
{
    CHECK(*parse_duration("0") == 0ms);
    CHECK(*parse_duration("250ms") == 250ms);
    CHECK(*parse_duration("5s") == 5s);
    CHECK(*parse_duration("1m") == 60s);
    CHECK(*parse_duration("1h") == 3600s);
    CHECK(*parse_duration("1m30s") == 90s);
    CHECK(*parse_duration("1.5s") == 1500ms);
    CHECK(*parse_duration("0.25h") == 900s);
    CHECK(*parse_duration("2h45m") == 165min);
}

TEST_CASE("bad durations are errors that quote the value")
{
    for (const char* bad : {"", "5", "5x", "s", "-5s", "5 s", "5S", ".s", "1.s", "1m30", "ms5", "5sec", "1d"}) {
        CAPTURE(bad);
        auto d = parse_duration(bad);
        REQUIRE_FALSE(d);
        CHECK(d.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
    }
    CHECK_FALSE(parse_duration("99999999999999999999h"));
    CHECK_FALSE(parse_duration("367d"));
    CHECK(parse_duration("9000h").error().message.find("too long") != std::string::npos);
}

TEST_CASE("format_duration reads back")
{
    for (auto d : {0ms, 1ms, 250ms, 1000ms, 90'000ms, 3'600'000ms, 3'661'000ms, 1500ms}) {
        CAPTURE(d.count());
        CHECK(*parse_duration(format_duration(d)) == d);
    }
    CHECK(format_duration(90s) == "1m30s");
    CHECK(format_duration(250ms) == "250ms");
}

TEST_CASE("labels")
{
    CHECK(check_label("web-01"));
    CHECK(check_label("a"));
    CHECK(check_label(std::string(63, 'a')));
    CHECK_FALSE(check_label(""));
    CHECK_FALSE(check_label(std::string(64, 'a')));
    CHECK_FALSE(check_label("-web"));
    CHECK_FALSE(check_label("web-"));
    CHECK_FALSE(check_label("web.01"));
    CHECK_FALSE(check_label("web_01"));
    CHECK_FALSE(check_label("wéb"));
}

TEST_CASE("domains are normalised to lower case with the final dot")
{
    CHECK(*normalize_domain("cairn") == "cairn.");
    CHECK(*normalize_domain("Cairn.") == "cairn.");
    CHECK(*normalize_domain("Service.Example.COM") == "service.example.com.");
    CHECK_FALSE(normalize_domain(""));
    CHECK_FALSE(normalize_domain("."));
    CHECK_FALSE(normalize_domain("a..b"));
    CHECK_FALSE(normalize_domain(".a"));
    CHECK_FALSE(normalize_domain("a b"));
    CHECK_FALSE(normalize_domain(std::string(300, 'a')));
}

TEST_CASE("addresses and prefixes")
{
    CHECK(check_ip_address("10.0.0.1"));
    CHECK(check_ip_address("::1"));
    CHECK(check_ip_address("fe80::1"));
    CHECK_FALSE(check_ip_address("10.0.0.256"));
    CHECK_FALSE(check_ip_address("10.0.0.1:80"));
    CHECK_FALSE(check_ip_address("localhost"));
    CHECK_FALSE(check_ip_address(""));

    CHECK(check_cidr("127.0.0.0/8"));
    CHECK(check_cidr("::1/128"));
    CHECK(check_cidr("10.1.2.3"));
    CHECK(check_cidr("0.0.0.0/0"));
    CHECK_FALSE(check_cidr("10.0.0.0/33"));
    CHECK_FALSE(check_cidr("::/129"));
    CHECK_FALSE(check_cidr("10.0.0.0/"));
    CHECK_FALSE(check_cidr("10.0.0.0/x"));
    CHECK_FALSE(check_cidr("ten/8"));
}

TEST_CASE("base64 keys")
{
    // 32 bytes of zeros.
    CHECK(check_base64_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 32));
    CHECK(check_base64_key("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=", 32));
    CHECK_FALSE(check_base64_key("AAAA", 32));
    CHECK_FALSE(check_base64_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 32));
    CHECK_FALSE(check_base64_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=", 32));
    CHECK(check_base64_key("AAAA", 3));
}
