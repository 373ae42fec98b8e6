// The access list and resolv.conf's nameservers. Pure.

#include <doctest/doctest.h>

#include "dns/forward/access.hpp"
#include "dns/forward/resolv_conf.hpp"

using namespace cairn;
using namespace cairn::dns::forward;

namespace {
SocketAddress at(std::string_view text) {
    auto a = parse_socket_address(text);
    REQUIRE(a);
    return *a;
}
} // namespace

TEST_CASE("access: prefixes of both families, and IPv4-mapped clients") {
    auto list = AccessList::parse({"127.0.0.0/8", "10.1.0.0/17", "::1/128", "fd00::/8"});
    REQUIRE(list);
    CHECK(list->allows(at("127.9.9.9:1").sa()));
    CHECK(list->allows(at("10.1.127.1:1").sa()));
    CHECK_FALSE(list->allows(at("10.1.128.1:1").sa()));
    CHECK_FALSE(list->allows(at("192.0.2.1:1").sa()));
    CHECK(list->allows(at("[::1]:1").sa()));
    CHECK_FALSE(list->allows(at("[::2]:1").sa()));
    CHECK(list->allows(at("[fd12::1]:1").sa()));
    CHECK(list->allows(at("[::ffff:127.0.0.1]:1").sa()));
    CHECK_FALSE(list->allows(at("[::ffff:192.0.2.1]:1").sa()));
    CHECK_FALSE(list->allows(nullptr));
    auto host = AccessList::parse({"192.0.2.7"});
    REQUIRE(host);
    CHECK(host->allows(at("192.0.2.7:53").sa()));
    CHECK_FALSE(host->allows(at("192.0.2.8:53").sa()));
    auto all = AccessList::parse({"0.0.0.0/0"});
    CHECK(all->allows(at("203.0.113.1:1").sa()));
    CHECK_FALSE(all->allows(at("[2001:db8::1]:1").sa()));
    CHECK_FALSE(AccessList::parse({"10.0.0.0/33"}));
    CHECK_FALSE(AccessList::parse({"web"}));
    CHECK(AccessList::parse({})->empty());
}

TEST_CASE("resolv.conf: nameserver lines, in order, port 53") {
    auto ns = resolv_conf_nameservers("# a comment\n"
                                      "search service.cairn\n"
                                      "nameserver 127.0.0.1\n"
                                      "nameserver\t::1   # trailing comment\n"
                                      "  nameserver 192.0.2.53\r\n"
                                      "nameservers 10.0.0.1\n"
                                      "nameserver resolver.example\n"
                                      "; nameserver 10.0.0.2\n"
                                      "options ndots:2\n"
                                      "nameserver 198.51.100.1");
    REQUIRE(ns.size() == 4);
    CHECK(ns[0].to_string() == "127.0.0.1:53");
    CHECK(ns[1].to_string() == "[::1]:53");
    CHECK(ns[2].to_string() == "192.0.2.53:53");
    CHECK(ns[3].to_string() == "198.51.100.1:53");
    CHECK(resolv_conf_nameservers("").empty());
}

TEST_CASE("resolv.conf: cairn's own listen addresses are recognised") {
    std::vector<SocketAddress> listen{at("127.0.0.1:53"), at("[::]:5353")};
    CHECK(is_own_address(at("127.0.0.1:53"), listen));
    CHECK_FALSE(is_own_address(at("127.0.0.2:53"), listen));
    CHECK_FALSE(is_own_address(at("127.0.0.1:5300"), listen));
    CHECK(is_own_address(at("[::1]:5353"), listen)); // the wildcard covers loopback
    CHECK_FALSE(is_own_address(at("[2001:db8::1]:5353"), listen));
    std::vector<SocketAddress> any4{at("0.0.0.0:53")};
    CHECK(is_own_address(at("127.0.0.53:53"), any4));
    CHECK_FALSE(is_own_address(at("192.0.2.1:53"), any4));
}
