#include <array>

#include <doctest/doctest.h>

#include "config/values.hpp"

using namespace cairn::config;
using namespace std::chrono_literals;

TEST_CASE("domains are normalised to lower case with the final dot") {
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

TEST_CASE("addresses and prefixes") {
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

TEST_CASE("base64 keys") {
    // 32 bytes of zeros.
    CHECK(check_base64_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                           std::array<std::size_t, 1>{32}));
    CHECK(check_base64_key("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",
                           std::array<std::size_t, 1>{32}));
    CHECK_FALSE(check_base64_key("AAAA", std::array<std::size_t, 1>{32}));
    CHECK_FALSE(check_base64_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                 std::array<std::size_t, 1>{32}));
    CHECK_FALSE(check_base64_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=",
                                 std::array<std::size_t, 1>{32}));
    CHECK(check_base64_key("AAAA", std::array<std::size_t, 1>{3}));
}
