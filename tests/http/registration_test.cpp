#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "http/json_body.hpp"
#include "http/registration.hpp"

using namespace cairn;
using namespace cairn::http;

namespace {

RegistrationDefaults defaults() {
    RegistrationDefaults d;
    d.address = *parse_ip_address("10.0.0.9");
    return d;
}

std::string error_of(std::string_view body) {
    auto r = decode_registration(body, defaults());
    REQUIRE_FALSE(r);
    return r.error().message;
}

} // namespace

TEST_CASE("a minimal registration gets the defaults") {
    auto r = decode_registration(R"({"name": "web", "port": 8080})", defaults());
    REQUIRE(r);
    CHECK(r->id == "web");
    CHECK(r->service == "web");
    CHECK(cairn::to_string(r->address) == "10.0.0.9");
    CHECK(r->port == 8080);
    CHECK(r->weight == 1);
    CHECK(r->policy == registry::Policy::unset);
    CHECK(r->ttl_ms == 0);
    CHECK(r->checks.empty());
}

TEST_CASE("a full registration") {
    auto r = decode_registration(R"({
        "id": "web-1", "name": "web", "address": "2001:db8::1", "port": 443,
        "tags": ["v2", "primary"], "meta": {"version": "2.1.0"}, "weight": 10,
        "policy": "weighted", "ttl": "30s",
        "checks": [
            {"http": "http://127.0.0.1:8080/health", "interval": "5s", "timeout": "2s",
             "method": "HEAD", "headers": {"X-A": "b"}, "tls_skip_verify": true},
            {"tcp": "127.0.0.1:8080", "interval": "1m"},
            {"args": ["/bin/true"], "interval": "500ms", "failures_before_critical": 3},
            {"id": "hb", "ttl": "15s", "deregister_critical_after": "1h"}
        ]})",
                                 defaults());
    REQUIRE(r);
    CHECK(r->id == "web-1");
    CHECK(r->address.family == 6);
    CHECK(r->tags == std::vector<std::string>{"v2", "primary"});
    REQUIRE(r->meta.size() == 1);
    CHECK(r->meta[0] == std::pair<std::string, std::string>{"version", "2.1.0"});
    CHECK(r->weight == 10);
    CHECK(r->policy == registry::Policy::weighted);
    CHECK(r->ttl_ms == 30'000);
    REQUIRE(r->checks.size() == 4);
    const auto& c0 = r->checks[0].definition;
    CHECK(c0.id == "web-1:1");
    CHECK(c0.kind == registry::CheckKind::http);
    CHECK(c0.method == "HEAD");
    CHECK(c0.interval_ms == 5000);
    CHECK(c0.tls_skip_verify);
    CHECK(r->checks[1].definition.id == "web-1:2");
    CHECK(r->checks[1].definition.kind == registry::CheckKind::tcp);
    CHECK(r->checks[1].definition.interval_ms == 60'000);
    CHECK(r->checks[2].definition.kind == registry::CheckKind::script);
    CHECK(r->checks[2].definition.failures_before_critical == 3);
    CHECK(r->checks[3].definition.id == "hb");
    CHECK(r->checks[3].definition.kind == registry::CheckKind::ttl);
    CHECK(r->checks[3].definition.ttl_ms == 15'000);
    CHECK(r->checks[3].definition.deregister_critical_after_ms == 3'600'000);
}

TEST_CASE("encode then decode gives the same instance") {
    auto r = decode_registration(
        R"({"id": "a", "name": "api", "port": 1, "tags": ["x"], "meta": {"k": "v"},
        "weight": 1, "policy": "affinity", "ttl": "2m",
        "checks": [{"http": "https://h/", "interval": "1500ms"}, {"ttl": "10s"}]})",
        defaults());
    REQUIRE(r);
    r->node = "n1";
    r->version = 7;
    auto j = encode_instance(*r);
    CHECK(j["health"] == "critical"); // checks start critical
    CHECK(j["checks"][0]["interval"] == "1s500ms");
    auto back = decode_registration_json(j, defaults());
    REQUIRE(back);
    back->node = "n1";
    back->version = 7;
    CHECK(*back == *r);
}

TEST_CASE("every field error names the field") {
    CHECK(error_of("").starts_with("body: invalid JSON"));
    CHECK(error_of("{\"name\": ").starts_with("body: invalid JSON at byte"));
    CHECK(error_of("[1]") == "body: expected a JSON object, got an array");
    CHECK(error_of("{}") == "name: missing");
    CHECK(error_of(R"({"name": 5, "port": 1})") == "name: expected a string, got an integer");
    CHECK(error_of(R"({"name": "we b", "port": 1})")
              .starts_with("name: \"we b\" is not a DNS label"));
    CHECK(error_of(R"({"name": "-web", "port": 1})").starts_with("name: \"-web\""));
    CHECK(error_of(R"({"name": "web"})") == "port: missing");
    CHECK(error_of(R"({"name": "web", "port": 70000})") ==
          "port: 70000 is out of range (1 to 65535)");
    CHECK(error_of(R"({"name": "web", "port": -1})") == "port: -1 is out of range (1 to 65535)");
    CHECK(error_of(R"({"name": "web", "port": 0})") == "port: 0 is out of range (1 to 65535)");
    CHECK(error_of(R"({"name": "web", "port": "80"})") ==
          "port: expected an integer, got a string");
    CHECK(error_of(R"({"name": "web", "port": 80.5})") ==
          "port: expected an integer, got a number");
    CHECK(error_of(R"({"name": "web", "port": 80, "id": "a/b"})")
              .starts_with("id: \"a/b\" may contain only printable ASCII"));
    CHECK(decode_registration(R"({"name": "web", "port": 80, "id": ""})", defaults())->id ==
          "web"); // as in config
    CHECK(error_of(R"({"name": "web", "port": 80, "address": "example.com"})") ==
          "address: \"example.com\" is not an IPv4 or IPv6 address");
    CHECK(error_of(R"({"name": "web", "port": 80, "tags": "v2"})") ==
          "tags: expected an array of strings, got a string");
    CHECK(error_of(R"({"name": "web", "port": 80, "tags": ["ok", 3]})") ==
          "tags[1]: expected a string, got an integer");
    CHECK(error_of(R"({"name": "web", "port": 80, "tags": ["a.b"]})")
              .starts_with("tags[0]: \"a.b\" is not a DNS label"));
    CHECK(error_of(R"({"name": "web", "port": 80, "meta": []})") ==
          "meta: expected an object of strings, got an array");
    CHECK(error_of(R"({"name": "web", "port": 80, "meta": {"k": 1}})") ==
          "meta.k: expected a string, got an integer");
    CHECK(error_of(R"({"name": "web", "port": 80, "meta": {"a=b": "c"}})")
              .starts_with("meta.a=b: keys may not contain '='"));
    CHECK(
        error_of(R"({"name": "web", "port": 80, "meta": {"k": ")" + std::string(300, 'v') + "\"}}")
            .starts_with("meta.k: key=value is longer than 255 bytes"));
    CHECK(error_of(R"({"name": "web", "port": 80, "weight": 70000})") ==
          "weight: 70000 is out of range (1 to 65535)");
    CHECK(error_of(R"({"name": "web", "port": 80, "weight": 0})") ==
          "weight: 0 is out of range (1 to 65535)");
    CHECK(error_of(R"({"name": "web", "port": 80, "policy": "fair"})") ==
          "policy: \"fair\" is not a policy (expected random, round_robin, weighted, affinity, "
          "fastest or least_loaded)");
    CHECK(error_of(R"({"name": "web", "port": 80, "ttl": "5x"})") ==
          "ttl: \"5x\" is not a duration (each number needs a unit: h, m, s or ms)");
    CHECK(error_of(R"({"name": "web", "port": 80, "ttl": 5})")
              .starts_with("ttl: expected a duration string"));
    CHECK(error_of(R"({"name": "web", "port": 80, "ttl": "1500ms"})")
              .starts_with("ttl: 1s500ms is not whole seconds"));
    CHECK(error_of(R"({"name": "web", "port": 80, "tag": ["x"]})") == "tag: unknown field");
    CHECK(error_of(R"({"name": "web", "port": 80, "maintenance": "yes"})") ==
          "maintenance: expected true or false, got a string");
}

TEST_CASE("every check error names the check and field") {
    auto with_check = [](std::string check) {
        return error_of(R"({"name": "web", "port": 80, "checks": [)" + check + "]}");
    };
    CHECK(error_of(R"({"name": "web", "port": 80, "checks": {}})") ==
          "checks: expected an array, got an object");
    CHECK(with_check("3") == "checks[0]: expected an object, got an integer");
    CHECK(with_check("{}") ==
          "checks[0]: exactly one of http, tcp, args or ttl must be set (found 0)");
    CHECK(with_check(R"({"http": "http://x/", "tcp": "x:1"})") ==
          "checks[0]: exactly one of http, tcp, args or ttl must be set (found 2)");
    CHECK(with_check(R"({"http": "http://x/", "interval": "5x"})") ==
          "checks[0].interval: \"5x\" is not a duration (each number needs a unit: h, m, s or ms)");
    CHECK(with_check(R"({"http": "ftp://x/"})") ==
          "checks[0].http: \"ftp://x/\" is not an http:// or https:// URL");
    CHECK(with_check(R"({"tcp": "nohost"})") == "checks[0].tcp: \"nohost\" is not host:port (an IP "
                                                "address or localhost, and a port 1 to 65535)");
    CHECK(with_check(R"({"tcp": "127.0.0.1:99999"})")
              .starts_with("checks[0].tcp: \"127.0.0.1:99999\" is not host:port"));
    CHECK(with_check(R"({"tcp": "example.com:80"})")
              .starts_with("checks[0].tcp: \"example.com:80\" is not host:port"));
    CHECK(with_check(R"({"args": []})") == "checks[0].args: the command must not be empty");
    CHECK(with_check(R"({"args": [1]})") == "checks[0].args[0]: expected a string, got an integer");
    CHECK(with_check(R"({"ttl": "0"})") == "checks[0].ttl: must be more than 0");
    CHECK(with_check(R"({"ttl": "10s", "interval": "1s"})")
              .starts_with("checks[0].interval: not used by ttl checks"));
    CHECK(with_check(R"({"tcp": "127.0.0.1:1", "method": "GET"})") ==
          "checks[0].method: only for http checks");
    CHECK(with_check(R"({"tcp": "127.0.0.1:1", "headers": {"a": "b"}})") ==
          "checks[0].headers: only for http checks");
    CHECK(with_check(R"({"http": "http://x/", "method": "G T"})").starts_with("checks[0].method:"));
    CHECK(with_check(R"({"http": "http://x/", "interval": "10ms"})") ==
          "checks[0].interval: 10ms is out of range (100ms to 24h)");
    CHECK(with_check(R"({"http": "http://x/", "timeout": "0"})") ==
          "checks[0].timeout: 0 is out of range (10ms to 1h)");
    CHECK(with_check(R"({"http": "http://x/", "success_before_passing": 0})") ==
          "checks[0].success_before_passing: 0 is out of range (1 to 100)");
    CHECK(with_check(R"({"http": "http://x/", "tls_skip_verify": 1})") ==
          "checks[0].tls_skip_verify: expected true or false, got an integer");
    CHECK(with_check(R"({"http": "http://x/", "intervall": "1s"})") ==
          "checks[0].intervall: unknown field");
    CHECK(with_check(R"({"ttl": "1s", "id": "x"}, {"ttl": "1s", "id": "x"})") ==
          "checks[1].id: \"x\" is used twice");
    CHECK(with_check(R"({"ttl": "1s"}, {"http": "http://x/", "interval": "5x"})") ==
          "checks[1].interval: \"5x\" is not a duration (each number needs a unit: h, m, s or ms)");
}

TEST_CASE("no agent address and none given") {
    auto r = decode_registration(R"({"name": "web", "port": 80})", RegistrationDefaults{});
    REQUIRE_FALSE(r);
    CHECK(r.error().message.starts_with("address: missing"));
}

TEST_CASE("JSON bodies: depth limit and errors without exceptions") {
    CHECK(parse_json_body(R"({"a": [1, 2, {"b": null}]})"));
    std::string deep(100, '[');
    auto r = parse_json_body(deep);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "body: JSON nested deeper than 32 levels");
    CHECK_FALSE(parse_json_body("{\"a\": 1} trailing"));
    CHECK_FALSE(parse_json_body("\"\xff\""));
}
