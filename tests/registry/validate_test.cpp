#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "registry/txt.hpp"
#include "registry/validate.hpp"
#include "test_util.hpp"

using namespace cairn::registry;
using cairn::registry::test::make_instance;

namespace {

std::string error_of(Instance i) {
    fill_defaults(i);
    auto r = validate(i);
    return r ? std::string() : r.error().message;
}

Check check_of(CheckKind kind, std::string target) {
    Check c;
    c.definition.kind = kind;
    c.definition.target = std::move(target);
    return c;
}

} // namespace

TEST_CASE("a plain instance is valid") {
    CHECK(validate(make_instance("web-1")));
}

TEST_CASE("labels") {
    for (std::string good :
         std::vector<std::string>{"web", "Web-2", "0web", "web-01", std::string(63, 'a')})
        CHECK(check_label(good));
    for (std::string bad : std::vector<std::string>{"", std::string(64, 'a'), "-web", "web-",
                                                    "we b", "web.api", "_web", "w\xc3\xa9"})
        CHECK_FALSE(check_label(bad));
    CHECK(check_label("").error().message == "must not be empty");
    CHECK(check_label("w_b").error().message == "\"w_b\" is not a DNS label (1 to 63 letters, "
                                                "digits and '-', not starting or ending with '-')");
}

TEST_CASE("messages name the field") {
    Instance i = make_instance("web-1", "we.b");
    CHECK(error_of(i).starts_with("name: \"we.b\" is not a DNS label"));
    i.service = "";
    CHECK(error_of(i) == "name: missing");

    i = make_instance("web-1");
    i.port = 0;
    CHECK(error_of(i) == "port: missing");
    CHECK(port_value(70000).error().message == "port: 70000 is out of range (1 to 65535)");
    CHECK(*port_value(65535) == 65535);

    i = make_instance("web-1");
    i.weight = 70000;
    CHECK(error_of(i) == "weight: 70000 is out of range (1 to 65535)");
    i.weight = 0;
    CHECK(error_of(i) == "weight: 0 is out of range (1 to 65535)");

    i = make_instance("web-1");
    i.address = {};
    CHECK(error_of(i).empty()); // the agent's own address, filled in later

    for (std::string bad : {"web 1", "a/b", "a%20b", "a?b", "a#b", "w\xc3\xa9"}) {
        CAPTURE(bad);
        CHECK(error_of(make_instance(bad)).find("may contain only printable ASCII") !=
              std::string::npos);
    }
    CHECK(error_of(make_instance(std::string(129, 'x'))).find("is longer than 128 characters") !=
          std::string::npos);

    i = make_instance("web-1");
    i.tags = {"v2", "bad tag"};
    CHECK(error_of(i).starts_with("tags[1]: \"bad tag\" is not a DNS label"));

    i = make_instance("web-1");
    i.meta = {{"a=b", "x"}};
    CHECK(error_of(i).starts_with("meta.a=b: keys may not contain '='"));
    i.meta = {{"k", std::string(300, 'v')}};
    CHECK(error_of(i).starts_with("meta.k: key=value is longer than 255 bytes"));
    i.meta = {{"k", "1"}, {"k", "2"}};
    CHECK(error_of(i) == "meta.k: appears twice");
    i.meta = {{"k", "a\nb"}};
    CHECK(error_of(i) == "meta.k: the value may not contain control characters");

    i = make_instance("web-1");
    i.ttl_ms = 1500;
    CHECK(error_of(i) == "ttl: 1s500ms is not whole seconds (DNS TTLs are seconds)");
    i.ttl_ms = 8 * 24 * 3600 * 1000;
    CHECK(error_of(i) == "ttl: 192h is out of range (0 to 168h)");

    i = make_instance("web-1");
    i.policy = static_cast<Policy>(9);
    CHECK(error_of(i) == "policy: unknown value");
}

TEST_CASE("one name <-> value mapping for policy and serve_warning") {
    for (Policy p :
         {Policy::random, Policy::round_robin, Policy::weighted, Policy::affinity, Policy::fastest})
        CHECK(*parse_policy(to_string(p)) == p);
    for (ServeWarning s : {ServeWarning::fallback, ServeWarning::always, ServeWarning::never})
        CHECK(*parse_serve_warning(to_string(s)) == s);
    for (const char* bad : {"Random", "", "unset", "fair"}) CHECK_FALSE(parse_policy(bad));
    CHECK(parse_policy("fair").error().message ==
          "\"fair\" is not a policy (expected random, round_robin, weighted, affinity, fastest or "
          "least_loaded)");
    CHECK(parse_serve_warning("sometimes").error().message ==
          "\"sometimes\" is not a serve_warning value (expected fallback, always or never)");
}

TEST_CASE("defaults: the id is the name, check ids count from 1, ttl checks have no interval") {
    Instance i = make_instance("", "api");
    i.checks = {cairn::registry::test::ttl_check("", Health::passing),
                check_of(CheckKind::tcp, "127.0.0.1:1")};
    fill_defaults(i);
    CHECK(i.id == "api");
    CHECK(i.checks[0].definition.id == "api:1");
    CHECK(i.checks[0].definition.interval_ms == 0);
    CHECK(i.checks[1].definition.id == "api:2");
    CHECK(i.checks[1].definition.interval_ms == 10'000);
    CHECK(validate(i));
}

TEST_CASE("checks are validated by position") {
    Instance i = make_instance("web-1");
    i.checks = {check_of(CheckKind::http, "")};
    CHECK(error_of(i) == "checks[0].http: \"\" is not an http:// or https:// URL");
    i.checks[0].definition.target = "http://127.0.0.1/health";
    CHECK(error_of(i).empty());
    i.checks[0].definition.interval_ms = 50;
    CHECK(error_of(i) == "checks[0].interval: 50ms is out of range (100ms to 24h)");
    i.checks[0].definition.interval_ms = 1000;
    i.checks[0].definition.timeout_ms = 0;
    CHECK(error_of(i) == "checks[0].timeout: 0 is out of range (10ms to 1h)");

    Check ttl = cairn::registry::test::ttl_check("t", Health::passing);
    ttl.definition.ttl_ms = 0;
    i.checks = {ttl};
    CHECK(error_of(i) == "checks[0].ttl: must be more than 0");

    i.checks = {cairn::registry::test::ttl_check("t", Health::passing),
                cairn::registry::test::ttl_check("t", Health::passing)};
    CHECK(error_of(i) == "checks[1].id: \"t\" is used twice");

    i.checks = {check_of(CheckKind::script, "")};
    CHECK(error_of(i) == "checks[0].args: the command must not be empty");

    i.checks = {check_of(CheckKind::tcp, "example.com:80")};
    CHECK(error_of(i).starts_with("checks[0].tcp: \"example.com:80\" is not host:port"));
    i.checks = {check_of(CheckKind::tcp, "localhost:80")};
    CHECK(error_of(i).empty());
}

TEST_CASE("counters: 1 to 100, and warning before critical") {
    CHECK(*counter_value("checks[0].success_before_passing", 100) == 100);
    CHECK(counter_value("checks[0].success_before_passing", 101).error().message ==
          "checks[0].success_before_passing: 101 is out of range (1 to 100)");
    CHECK(counter_value("x", 0).error().message == "x: 0 is out of range (1 to 100)");
    Instance i = make_instance("web-1");
    i.checks = {check_of(CheckKind::tcp, "127.0.0.1:1")};
    i.checks[0].definition.failures_before_warning = 3;
    i.checks[0].definition.failures_before_critical = 2;
    CHECK(error_of(i) ==
          "checks[0].failures_before_warning: 3 must not exceed failures_before_critical (2)");
}

TEST_CASE("a check's kind comes from exactly one key, and other kinds' keys are refused") {
    auto kind_of = [](std::initializer_list<std::string_view> keys) {
        return check_kind("checks[0]", [&](std::string_view k) {
            return std::ranges::find(keys, k) != keys.end();
        });
    };
    CHECK(*kind_of({"http", "method"}) == CheckKind::http);
    CHECK(*kind_of({"tcp"}) == CheckKind::tcp);
    CHECK(*kind_of({"args"}) == CheckKind::script);
    CHECK(*kind_of({"ttl", "timeout"}) == CheckKind::ttl);
    CHECK(kind_of({}).error().message ==
          "checks[0]: exactly one of http, tcp, args or ttl must be set (found 0)");
    CHECK(kind_of({"http", "tcp"}).error().message ==
          "checks[0]: exactly one of http, tcp, args or ttl must be set (found 2)");
    CHECK(kind_of({"tcp", "headers"}).error().message == "checks[0].headers: only for http checks");
    CHECK(kind_of({"ttl", "interval"}).error().message ==
          "checks[0].interval: not used by ttl checks (the application reports)");
}

TEST_CASE("what reaches a probe holds no NUL, CR or LF") {
    Instance i = make_instance("web-1");
    i.checks = {check_of(CheckKind::http, "http://127.0.0.1/")};
    i.checks[0].definition.headers = {{"X-A", "1\r\nX-Injected: 1"}};
    CHECK(error_of(i) ==
          "checks[0].headers.X-A: \"1\\x0d\\x0aX-Injected: 1\" contains CR, LF or another control "
          "character");
    i.checks[0].definition.headers = {{"X-A\n", "1"}};
    CHECK(error_of(i) == "checks[0].headers: \"X-A\\x0a\" is not a header name");
    i.checks[0].definition.headers = {{"X-A", "a\tb"}};
    CHECK(error_of(i).empty());
    i.checks[0].definition.headers = {};
    i.checks[0].definition.method = "GET\r\n";
    CHECK(error_of(i) == "checks[0].method: \"GET\\x0d\\x0a\" is not an HTTP method");
    i.checks[0].definition.method = "GET";
    i.checks[0].definition.target = std::string("http://127.0.0.1/\0x", 19);
    CHECK(error_of(i).starts_with(
        "checks[0].http: \"http://127.0.0.1/\\x00x\" contains spaces or control"));

    i.checks = {check_of(CheckKind::script, "")};
    i.checks[0].definition.args = {"/bin/echo", std::string("a\0b", 3)};
    CHECK(error_of(i) == "checks[0].args[1]: contains a NUL byte");

    i.checks = {check_of(CheckKind::tcp, std::string("127.0.0.1\0:80", 13))};
    CHECK(error_of(i).starts_with("checks[0].tcp:"));
}

TEST_CASE("a long bad value is cut short in the message") {
    Instance i = make_instance("web-1", std::string(1000, '!'));
    CHECK(error_of(i).size() < 250);
}

TEST_CASE("TXT from metadata: one string per entry, cut to 255 bytes") {
    Metadata meta = {{"a", "1"}, {"key", std::string(300, 'v')}};
    auto rdata = txt_rdata(meta);
    REQUIRE(rdata.size() == 4 + 256);
    CHECK(rdata[0] == 3);
    CHECK(std::string(rdata.begin() + 1, rdata.begin() + 4) == "a=1");
    CHECK(rdata[4] == 255);
    CHECK(std::string(rdata.begin() + 5, rdata.begin() + 9) == "key=");
    std::array<std::uint8_t, 6> small{};
    CHECK(write_txt_rdata(meta, small) == 4); // the second entry does not fit: left out
    CHECK(txt_rdata({}).empty());
}
