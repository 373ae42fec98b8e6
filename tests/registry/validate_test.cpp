#include <doctest/doctest.h>

#include "registry/validate.hpp"
#include "test_util.hpp"

using namespace cairn::registry;
using cairn::registry::test::make_instance;

namespace {

std::string error_of(const Instance& i)
{
    auto r = validate(i);
    return r ? std::string() : r.error();
}

} // namespace

TEST_CASE("a plain instance is valid")
{
    CHECK(validate(make_instance("web-1")));
}

TEST_CASE("service names must be one DNS label")
{
    CHECK(is_label_safe("web"));
    CHECK(is_label_safe("Web-2"));
    CHECK(is_label_safe("0web"));
    CHECK(is_label_safe(std::string(63, 'a')));
    CHECK_FALSE(is_label_safe(std::string(64, 'a')));
    CHECK_FALSE(is_label_safe(""));
    CHECK_FALSE(is_label_safe("-web"));
    CHECK_FALSE(is_label_safe("web-"));
    CHECK_FALSE(is_label_safe("we b"));
    CHECK_FALSE(is_label_safe("web.api"));
    CHECK_FALSE(is_label_safe("_web"));

    Instance i = make_instance("web-1", "we.b");
    CHECK(error_of(i).starts_with("name: \"we.b\" is not DNS-label-safe"));
    i.service = "";
    CHECK(error_of(i) == "name: is required");
}

TEST_CASE("messages name the field")
{
    Instance i = make_instance("web-1");
    i.port = 0;
    CHECK(error_of(i) == "port: 0 is out of range 1-65535");
    CHECK(check_port(70000) == "port: 70000 is out of range 1-65535");
    CHECK(check_port(65535).empty());

    i = make_instance("web-1");
    i.weight = 70000;
    CHECK(error_of(i) == "weight: 70000 is out of range 1-65535");
    i.weight = 0;
    CHECK(error_of(i) == "weight: 0 is out of range 1-65535");

    i = make_instance("web-1");
    i.address = {};
    CHECK(error_of(i).starts_with("address: is not set"));

    i = make_instance("web 1");
    CHECK(error_of(i).starts_with("id: \"web 1\" may not contain spaces"));
    i = make_instance("a/b");
    CHECK(error_of(i).starts_with("id:"));
    i = make_instance(std::string(129, 'x'));
    CHECK(error_of(i) == "id: is longer than 128 characters");

    i = make_instance("web-1");
    i.tags = {"v2", "bad tag"};
    CHECK(error_of(i).starts_with("tags[1]: \"bad tag\" is not DNS-label-safe"));

    i = make_instance("web-1");
    i.meta = {{"a=b", "x"}};
    CHECK(error_of(i).starts_with("meta.a=b: keys may not contain '='"));
    i.meta = {{"k", std::string(300, 'v')}};
    CHECK(error_of(i).starts_with("meta.k: key=value is longer than 255 bytes"));
    i.meta = {{"k", "1"}, {"k", "2"}};
    CHECK(error_of(i) == "meta.k: appears twice");

    i = make_instance("web-1");
    i.policy = static_cast<Policy>(9);
    CHECK(error_of(i) == "policy: unknown value");
}

TEST_CASE("checks are validated by position")
{
    Instance i = make_instance("web-1");
    Check http;
    http.definition.id = "web-1:1";
    http.definition.kind = CheckKind::http;
    i.checks = {http};
    CHECK(error_of(i) == "checks[0].http: the URL must not be empty");
    i.checks[0].definition.target = "http://127.0.0.1/health";
    CHECK(error_of(i).empty());
    i.checks[0].definition.interval_ms = 0;
    CHECK(error_of(i) == "checks[0].interval: must be more than 0");

    Check ttl = cairn::registry::test::ttl_check("t", Health::passing);
    ttl.definition.ttl_ms = 0;
    i.checks = {ttl};
    CHECK(error_of(i) == "checks[0].ttl: must be more than 0");

    i.checks = {cairn::registry::test::ttl_check("t", Health::passing),
                cairn::registry::test::ttl_check("t", Health::passing)};
    CHECK(error_of(i) == "checks[1].id: \"t\" is used twice");

    Check script;
    script.definition.id = "s";
    script.definition.kind = CheckKind::script;
    i.checks = {script};
    CHECK(error_of(i) == "checks[0].args: the command must not be empty");
}

TEST_CASE("a long bad value is cut short in the message")
{
    Instance i = make_instance("web-1", std::string(1000, '!'));
    CHECK(error_of(i).size() < 250);
}
