// The client commands' pure parts (src/agent/client.*): arguments, the
// registration built from flags, tables.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/client.hpp"

using namespace cairn::agent;
using nlohmann::json;

namespace {

constexpr std::string_view value_flags[] = {"--name", "--port",       "--tag",
                                            "--meta", "--check-http", "--check-interval",
                                            "--note", "--weight"};

cairn::Result<ClientArgs> parse(std::vector<std::string> args, const char* addr = nullptr) {
    return parse_client_args(args, value_flags, [addr](const char* name) -> const char* {
        return std::string_view(name) == "CAIRN_HTTP_ADDR" ? addr : nullptr;
    });
}

} // namespace

TEST_CASE("client arguments: flags, values, switches, environment") {
    auto a = parse({"web", "--port", "80", "--tag=v1", "--tag", "v2", "--json", "--passing",
                    "--http-addr", "[::1]:9500", "--token", "t"});
    REQUIRE(a);
    CHECK(a->positional == std::vector<std::string>{"web"});
    CHECK(a->flags.count("--tag") == 2);
    CHECK(a->json);
    CHECK(a->switches == std::vector<std::string>{"--passing"});
    CHECK(a->http_addr == "[::1]:9500");
    CHECK(a->token == "t");
    CHECK(base_url(a->http_addr) == "http://[::1]:9500");

    auto d = parse({});
    REQUIRE(d);
    CHECK(d->http_addr == "127.0.0.1:8500");
    auto e = parse({}, "10.0.0.1:1234");
    REQUIRE(e);
    CHECK(e->http_addr == "10.0.0.1:1234");

    CHECK_FALSE(parse({"--port"}));
    CHECK_FALSE(parse({"--json=yes"}));
    CHECK(base_url("http://h:1/") == "http://h:1");
}

TEST_CASE("register flags become a registration") {
    auto a = parse({"--name", "web", "--port", "8080", "--tag", "v2", "--meta", "version=2.1",
                    "--weight", "10", "--check-http", "http://127.0.0.1:8080/health",
                    "--check-interval", "5s"});
    REQUIRE(a);
    auto j = registration_from_flags(*a);
    REQUIRE(j);
    CHECK((*j)["name"] == "web");
    CHECK((*j)["port"] == 8080);
    CHECK((*j)["weight"] == 10);
    CHECK((*j)["tags"] == json::array({"v2"}));
    CHECK((*j)["meta"]["version"] == "2.1");
    CHECK((*j)["checks"][0]["http"] == "http://127.0.0.1:8080/health");
    CHECK((*j)["checks"][0]["interval"] == "5s");

    auto bad_port = parse({"--name", "web", "--port", "80x"});
    REQUIRE(bad_port);
    auto r = registration_from_flags(*bad_port);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "--port: \"80x\" is not a number");
    auto bad_meta = parse({"--name", "web", "--meta", "novalue"});
    CHECK_FALSE(registration_from_flags(*bad_meta));
    auto no_name = parse({"--port", "1"});
    CHECK_FALSE(registration_from_flags(*no_name));
}

TEST_CASE("tables") {
    json services =
        json::parse(R"([{"name": "web", "instances": 3, "passing": 2, "warning": 0, "critical": 1,
                                      "maintenance": 0}])");
    CHECK(format_services(services) == "NAME  INSTANCES  PASSING  WARNING  CRITICAL  MAINTENANCE\n"
                                       "web   3          2        0        1         0\n");
    json instances = json::parse(
        R"([{"id": "web-1", "node": "n1", "address": "10.0.0.1", "port": 80, "weight": 1,
        "health": "critical", "tags": ["a", "b"],
        "checks": [{"id": "web-1:1", "status": "critical", "latency_ms": 1.25, "output": "HTTP 500\nbody"}]}])");
    std::string t = format_instances(instances);
    CHECK(t.find("web-1  n1    10.0.0.1  80    1       critical  a,b\n") != std::string::npos);
    CHECK(t.find("web-1:1  web-1     critical  1.2ms    HTTP 500 body\n") != std::string::npos);
    json members =
        json::parse(R"([{"name": "n1", "address": "10.0.0.1", "state": "alive", "incarnation": 0,
                                     "datacenter": "dc1", "meta": {}}])");
    CHECK(format_members(members).find("n1    10.0.0.1  alive  0            dc1") !=
          std::string::npos);
}

TEST_CASE("keygen makes 32 random bytes in base64") {
    std::string a = make_key(), b = make_key();
    CHECK(a.size() == 44);
    CHECK(a.back() == '=');
    CHECK(a != b);
}

TEST_CASE("the keyring table marks the primary") {
    json keyring = json::parse(R"({"primary": "K2==", "keys": ["K2==", "K1=="]})");
    CHECK(format_keyring(keyring) == "KEY   PRIMARY\nK2==  yes\nK1==\n");
}
