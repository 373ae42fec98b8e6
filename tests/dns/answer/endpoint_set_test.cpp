// EndpointSet: first come, first kept, per key, pass after pass.

#include <doctest/doctest.h>

#include <vector>

#include "dns/answer/endpoint_set.hpp"

using cairn::dns::EndpointSet;
using cairn::registry::Endpoint;

namespace {

Endpoint endpoint(std::uint8_t last, std::uint16_t port, std::vector<std::uint8_t> txt = {}) {
    Endpoint e;
    e.address.family = 4;
    e.address.bytes = {10, 0, 0, last};
    e.port = port;
    e.txt = std::move(txt);
    return e;
}

} // namespace

TEST_CASE("each key holds what makes a record the same") {
    Endpoint a = endpoint(1, 80, {3, 'a', '=', 'b'});
    Endpoint a_other_port = endpoint(1, 81, {3, 'a', '=', 'b'});
    Endpoint b = endpoint(2, 80, {3, 'a', '=', 'c'});
    EndpointSet set;

    REQUIRE(set.begin(EndpointSet::Key::address, 3));
    CHECK_FALSE(set.contains_or_insert(a));
    CHECK(set.contains_or_insert(a_other_port));
    CHECK_FALSE(set.contains_or_insert(b));

    REQUIRE(set.begin(EndpointSet::Key::address_port, 3));
    CHECK_FALSE(set.contains_or_insert(a));
    CHECK_FALSE(set.contains_or_insert(a_other_port));
    CHECK(set.contains_or_insert(endpoint(1, 80)));

    REQUIRE(set.begin(EndpointSet::Key::txt, 3));
    CHECK_FALSE(set.contains_or_insert(a));
    CHECK(set.contains_or_insert(a_other_port));
    CHECK_FALSE(set.contains_or_insert(b));
}

TEST_CASE("IPv4 compares its 4 bytes, and v4 never equals v6") {
    Endpoint a = endpoint(1, 80);
    Endpoint junk = a;
    junk.address.bytes[10] = 0xff; // beyond an IPv4 address
    Endpoint v6 = a;
    v6.address.family = 6;
    EndpointSet set;
    REQUIRE(set.begin(EndpointSet::Key::address, 3));
    CHECK_FALSE(set.contains_or_insert(a));
    CHECK(set.contains_or_insert(junk));
    CHECK_FALSE(set.contains_or_insert(v6));
}

TEST_CASE("a new pass forgets the last one, also after the table grew and shrank") {
    std::vector<Endpoint> many;
    for (int i = 0; i < 1000; ++i)
        many.push_back(endpoint(static_cast<std::uint8_t>(i % 250), static_cast<std::uint16_t>(i)));
    EndpointSet set;
    REQUIRE(set.begin(EndpointSet::Key::address_port, many.size()));
    for (const Endpoint& e : many) CHECK_FALSE(set.contains_or_insert(e));
    for (const Endpoint& e : many) CHECK(set.contains_or_insert(e));

    for (int pass = 0; pass < 3; ++pass) {
        REQUIRE(set.begin(EndpointSet::Key::address_port, 2));
        CHECK_FALSE(set.contains_or_insert(many[0]));
        CHECK_FALSE(set.contains_or_insert(many[1]));
        CHECK(set.contains_or_insert(many[0]));
    }
}
