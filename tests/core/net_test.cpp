#include <doctest/doctest.h>

#include "core/net.hpp"

using namespace cairn;

TEST_CASE("socket addresses parse in both families") {
    auto v4 = parse_socket_address("127.0.0.1:8600");
    REQUIRE(v4);
    CHECK(v4->family() == AF_INET);
    CHECK(v4->port() == 8600);
    CHECK(v4->to_string() == "127.0.0.1:8600");

    auto v6 = parse_socket_address("[::1]:53");
    REQUIRE(v6);
    CHECK(v6->family() == AF_INET6);
    CHECK(v6->to_string() == "[::1]:53");

    auto bare = parse_socket_address("::1", 8600);
    REQUIRE(bare);
    CHECK(bare->port() == 8600);
}

TEST_CASE("bad addresses are errors that quote the input") {
    for (auto text :
         {"127.0.0.1", "127.0.0.1:99999", "localhost:53", "[::1", "[::1]x", "1.2.3.4:"}) {
        auto r = parse_socket_address(text);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find(text) != std::string::npos);
    }
}
