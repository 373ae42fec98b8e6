// A cairn agent's gossip metadata: short on the wire, whole when shown.
#include <doctest/doctest.h>

#include <string>

#include "agent/membership.hpp"

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

TEST_CASE("an agent's metadata leaves out the default datacenter, and reads back whole") {
    CHECK(text(agent::encode_agent_meta("dc1", "0.1.0")) == "v=0.1.0");
    CHECK(text(agent::encode_agent_meta("eu-west", "0.1.0")) == "dc=eu-west\nv=0.1.0");
    CHECK(agent::member_meta(agent::encode_agent_meta("dc1", "0.1.0")) ==
          Pairs{{"dc", "dc1"}, {"version", "0.1.0"}});
    CHECK(agent::member_meta(agent::encode_agent_meta("eu-west", "0.2.0")) ==
          Pairs{{"dc", "eu-west"}, {"version", "0.2.0"}});
}

TEST_CASE("a memberlist node's metadata is shown as it is, with no datacenter made up") {
    CHECK(agent::member_meta({}).empty());
    CHECK(agent::member_meta(bytes("role=db\nzone=b")) == Pairs{{"role", "db"}, {"zone", "b"}});
    CHECK(agent::member_meta(bytes("not pairs")).empty());
}
