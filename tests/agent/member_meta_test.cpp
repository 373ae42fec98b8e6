// A cairn agent's gossip metadata: short on the wire, whole when shown.
#include <doctest/doctest.h>

#include <string>

#include "agent/member_meta.hpp"

using namespace cairn;
using Pairs = std::vector<std::pair<std::string, std::string>>;

namespace {

std::string text(const gossip::Bytes& b) {
    return std::string(b.begin(), b.end());
}

gossip::Bytes bytes(std::string_view s) {
    return gossip::Bytes(s.begin(), s.end());
}

} // namespace

TEST_CASE("an agent's metadata is its version in three bytes and a datacenter other than dc1") {
    CHECK(agent::encode_agent_meta("dc1", "0.1.0") == gossip::Bytes{1, 1, 0});
    CHECK(agent::encode_agent_meta("eu-west", "2.10.255") == bytes("\x03\x0a\xff"
                                                                   "eu-west"));
    CHECK(agent::encode_agent_meta("dc1", "30.0.1") == gossip::Bytes{31, 0, 1});
    CHECK(agent::member_meta(agent::encode_agent_meta("dc1", "0.1.0")) ==
          Pairs{{"dc", "dc1"}, {"version", "0.1.0"}});
    CHECK(agent::member_meta(agent::encode_agent_meta("eu-west", "2.10.255")) ==
          Pairs{{"dc", "eu-west"}, {"version", "2.10.255"}});
}

TEST_CASE("a version that does not fit in three bytes is sent as text, and read back") {
    for (const char* version :
         {"31.0.0", "1.256.0", "1.2", "1.2.3.4", "1.2.3-rc1", "", "x.1.2", "01.2.3", "1.2.03"}) {
        CAPTURE(version);
        const auto meta = agent::encode_agent_meta("dc1", version);
        CHECK(text(meta) == std::string("v=") + version);
        CHECK(agent::member_meta(meta) == Pairs{{"dc", "dc1"}, {"version", version}});
    }
    CHECK(text(agent::encode_agent_meta("eu-west", "1.2.3-rc1")) == "dc=eu-west\nv=1.2.3-rc1");
}

TEST_CASE("cairn 0.1.0's text metadata still reads as an agent's") {
    CHECK(agent::member_meta(bytes("v=0.1.0")) == Pairs{{"dc", "dc1"}, {"version", "0.1.0"}});
    CHECK(agent::member_meta(bytes("dc=eu-west\nv=0.1.0")) ==
          Pairs{{"dc", "eu-west"}, {"version", "0.1.0"}});
}

TEST_CASE("a memberlist node's metadata is shown as it is, with no datacenter made up") {
    CHECK(agent::member_meta({}).empty());
    CHECK(agent::member_meta(bytes("role=db\nzone=b")) == Pairs{{"role", "db"}, {"zone", "b"}});
    CHECK(agent::member_meta(bytes("not pairs")).empty());
    // Binary metadata of another kind: a first byte of 32 or more, or too short.
    CHECK(agent::member_meta(bytes("\x81\xa4"
                                   "role\xa2"
                                   "db"))
              .empty());
    CHECK(agent::member_meta(gossip::Bytes{1, 1}).empty());
}
