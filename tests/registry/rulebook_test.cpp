// One rulebook, two doors: every rule of registry/validate.hpp (and of
// core's duration and address parsers, which the rulebook relies on) is fed
// the same bad value through a config [[service]] table and through an HTTP
// registration body. Both must refuse it with the rulebook's message: the
// API returns it as is, config puts "agent.toml:<line>: service[0]." before
// it and reports nothing else.

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "config/config.hpp"
#include "core/ip_address.hpp"
#include "http/registration.hpp"
#include "registry/types.hpp"
#include "registry/validate.hpp"

using namespace cairn;

namespace {

// One rule: the same value written as TOML keys of a [[service]] table and
// as JSON fields of a registration. Either may end with one check or more
// ("[[service.checks]]" tables, a "checks" array). name = "web" and
// port = 80 are added where the row does not set them or leave them out.
struct Row {
    std::string rule;
    std::string toml;
    std::string json;
    std::string message;   // the rulebook's, exactly as the API returns it
    std::string omit = {}; // "name" or "port": left out of both
};

bool sets(std::string_view text, std::string_view key_start) {
    return text.starts_with(key_start) || text.find(fmt::format("\n{}", key_start)) != text.npos;
}

std::string toml_document(const Row& row) {
    std::string doc = "[[service]]\n";
    if (!sets(row.toml, "name =") && row.omit != "name") doc += "name = \"web\"\n";
    if (!sets(row.toml, "port =") && row.omit != "port") doc += "port = 80\n";
    return doc + row.toml + "\n";
}

std::string json_document(const Row& row) {
    std::vector<std::string> fields;
    if (row.json.find("\"name\":") == std::string::npos && row.omit != "name")
        fields.emplace_back("\"name\": \"web\"");
    if (row.json.find("\"port\":") == std::string::npos && row.omit != "port")
        fields.emplace_back("\"port\": 80");
    if (!row.json.empty()) fields.push_back(row.json);
    return fmt::format("{{{}}}", fmt::join(fields, ", "));
}

// `n` items made by `item(i)`, joined with `separator`.
template <class Item>
std::string repeat(std::size_t n, std::string_view separator, Item&& item) {
    std::vector<std::string> items;
    for (std::size_t i = 0; i < n; ++i) items.push_back(item(i));
    return fmt::format("{}", fmt::join(items, separator));
}

std::string toml_check(std::string_view keys) {
    return fmt::format("[[service.checks]]\n{}", keys);
}

std::string json_check(std::string_view fields) {
    return fmt::format("\"checks\": [{{{}}}]", fields);
}

// A row about one check: the check's keys in TOML and its fields in JSON.
Row check_row(std::string rule, std::string_view toml, std::string_view json, std::string message) {
    return {std::move(rule), toml_check(toml), json_check(json), std::move(message)};
}

// A row about one duration of a check that has an interval (a tcp check).
Row interval_row(std::string rule, std::string_view key, std::string_view text,
                 std::string message) {
    return check_row(std::move(rule), fmt::format("tcp = \"127.0.0.1:80\"\n{} = \"{}\"", key, text),
                     fmt::format(R"("tcp": "127.0.0.1:80", "{}": "{}")", key, text),
                     std::move(message));
}

constexpr std::string_view label_rule =
    "is not a DNS label (1 to 63 letters, digits and '-', not starting or ending with '-')";
constexpr std::string_view id_rule =
    "may contain only printable ASCII, without spaces or any of / ? # %";

std::vector<Row> identity_rows() {
    std::string long_id(129, 'a');
    std::string long_label(64, 'a');
    std::string quoted_long = fmt::format("\"{}...\"", std::string(64, 'a'));
    return {
        {"id with %", "id = \"a%b\"", R"("id": "a%b")", fmt::format("id: \"a%b\" {}", id_rule)},
        {"id with a space", "id = \"a b\"", R"("id": "a b")",
         fmt::format("id: \"a b\" {}", id_rule)},
        {"id with /", "id = \"a/b\"", R"("id": "a/b")", fmt::format("id: \"a/b\" {}", id_rule)},
        {"id with ?", "id = \"a?b\"", R"("id": "a?b")", fmt::format("id: \"a?b\" {}", id_rule)},
        {"id with #", "id = \"a#b\"", R"("id": "a#b")", fmt::format("id: \"a#b\" {}", id_rule)},
        {"id with a non-ASCII byte", "id = \"a\\u00e9\"", R"("id": "a\u00e9")",
         fmt::format("id: \"a\\xc3\\xa9\" {}", id_rule)},
        {"id too long", fmt::format("id = \"{}\"", long_id), fmt::format(R"("id": "{}")", long_id),
         fmt::format("id: {} is longer than 128 characters", quoted_long)},
        {"name left out", "", "", "name: missing", "name"},
        {"name empty", "name = \"\"", R"("name": "")", "name: missing"},
        {"name with _", "name = \"w_b\"", R"("name": "w_b")",
         fmt::format("name: \"w_b\" {}", label_rule)},
        {"name with .", "name = \"w.b\"", R"("name": "w.b")",
         fmt::format("name: \"w.b\" {}", label_rule)},
        {"name starting with -", "name = \"-web\"", R"("name": "-web")",
         fmt::format("name: \"-web\" {}", label_rule)},
        {"name ending with -", "name = \"web-\"", R"("name": "web-")",
         fmt::format("name: \"web-\" {}", label_rule)},
        {"name too long", fmt::format("name = \"{}\"", long_label),
         fmt::format(R"("name": "{}")", long_label),
         fmt::format("name: \"{}\" {}", long_label, label_rule)},
        {"port left out", "", "", "port: missing", "port"},
        {"port 0", "port = 0", R"("port": 0)", "port: 0 is out of range (1 to 65535)"},
        {"port negative", "port = -1", R"("port": -1)", "port: -1 is out of range (1 to 65535)"},
        {"port too large", "port = 65536", R"("port": 65536)",
         "port: 65536 is out of range (1 to 65535)"},
        {"address not an address", "address = \"10.0.0.256\"", R"("address": "10.0.0.256")",
         "address: \"10.0.0.256\" is not an IPv4 or IPv6 address"},
        {"address a host name", "address = \"example.com\"", R"("address": "example.com")",
         "address: \"example.com\" is not an IPv4 or IPv6 address"},
        {"address with a port", "address = \"10.0.0.1:80\"", R"("address": "10.0.0.1:80")",
         "address: \"10.0.0.1:80\" is not an IPv4 or IPv6 address"},
        {"address empty", "address = \"\"", R"("address": "")",
         "address: \"\" is not an IPv4 or IPv6 address"},
        {"weight 0", "weight = 0", R"("weight": 0)", "weight: 0 is out of range (1 to 65535)"},
        {"weight too large", "weight = 65536", R"("weight": 65536)",
         "weight: 65536 is out of range (1 to 65535)"},
    };
}

constexpr std::string_view policy_names =
    "is not a policy (expected random, round_robin, weighted, affinity, fastest or least_loaded)";

std::vector<Row> dns_rows() {
    std::string many_tags =
        repeat(65, ", ", [](std::size_t i) { return fmt::format("\"t{}\"", i); });
    std::string toml_meta =
        repeat(65, ", ", [](std::size_t i) { return fmt::format("k{} = \"v\"", i); });
    std::string json_meta =
        repeat(65, ", ", [](std::size_t i) { return fmt::format("\"k{}\": \"v\"", i); });
    std::string long_value(254, 'v');
    return {
        {"policy unknown", "policy = \"fast\"", R"("policy": "fast")",
         fmt::format("policy: \"fast\" {}", policy_names)},
        {"policy empty", "policy = \"\"", R"("policy": "")",
         fmt::format("policy: \"\" {}", policy_names)},
        {"policy unset", "policy = \"unset\"", R"("policy": "unset")",
         fmt::format("policy: \"unset\" {}", policy_names)},
        {"ttl not whole seconds", "ttl = \"1500ms\"", R"("ttl": "1500ms")",
         "ttl: 1s500ms is not whole seconds (DNS TTLs are seconds)"},
        {"ttl over a week", "ttl = \"169h\"", R"("ttl": "169h")",
         "ttl: 169h is out of range (0 to 168h)"},
        {"ttl not a duration", "ttl = \"5x\"", R"("ttl": "5x")",
         "ttl: \"5x\" is not a duration (each number needs a unit: h, m, s or ms)"},
        {"tag not a label", "tags = [\"ok\", \"a_b\"]", R"("tags": ["ok", "a_b"])",
         fmt::format("tags[1]: \"a_b\" {}", label_rule)},
        {"tag empty", "tags = [\"\"]", R"("tags": [""])", "tags[0]: must not be empty"},
        {"tags too many", fmt::format("tags = [{}]", many_tags),
         fmt::format(R"("tags": [{}])", many_tags), "tags: more than 64 entries"},
        {"meta key with =", "meta = { \"a=b\" = \"x\" }", R"("meta": {"a=b": "x"})",
         "meta.a=b: keys may not contain '=' or control characters"},
        {"meta key with a control character", "meta = { \"a\\tb\" = \"x\" }",
         R"("meta": {"a\tb": "x"})",
         "meta.a\\x09b: keys may not contain '=' or control characters"},
        {"meta key empty", "meta = { \"\" = \"x\" }", R"("meta": {"": "x"})",
         "meta: keys must not be empty"},
        {"meta value with a newline", "meta = { k = \"a\\nb\" }", R"("meta": {"k": "a\nb"})",
         "meta.k: the value may not contain control characters"},
        {"meta key=value over 255 bytes", fmt::format("meta = {{ k = \"{}\" }}", long_value),
         fmt::format(R"("meta": {{"k": "{}"}})", long_value),
         "meta.k: key=value is longer than 255 bytes (one DNS TXT string)"},
        {"meta too many", fmt::format("meta = {{ {} }}", toml_meta),
         fmt::format(R"("meta": {{{}}})", json_meta), "meta: more than 64 entries"},
    };
}

std::vector<Row> check_shape_rows() {
    std::string toml_checks =
        repeat(33, "\n", [](std::size_t) { return toml_check("ttl = \"10s\""); });
    std::string json_checks = repeat(33, ", ", [](std::size_t) { return R"({"ttl": "10s"})"; });
    return {
        {"too many checks", toml_checks, fmt::format(R"("checks": [{}])", json_checks),
         "checks: more than 32 entries"},
        check_row("check of no kind", "interval = \"10s\"", R"("interval": "10s")",
                  "checks[0]: exactly one of http, tcp, args or ttl must be set (found 0)"),
        check_row("check of two kinds", "http = \"http://127.0.0.1/\"\ntcp = \"127.0.0.1:80\"",
                  R"("http": "http://127.0.0.1/", "tcp": "127.0.0.1:80")",
                  "checks[0]: exactly one of http, tcp, args or ttl must be set (found 2)"),
        check_row("method on a tcp check", "tcp = \"127.0.0.1:80\"\nmethod = \"GET\"",
                  R"("tcp": "127.0.0.1:80", "method": "GET")",
                  "checks[0].method: only for http checks"),
        check_row("headers on a script check", "args = [\"/bin/true\"]\nheaders = { A = \"b\" }",
                  R"("args": ["/bin/true"], "headers": {"A": "b"})",
                  "checks[0].headers: only for http checks"),
        check_row("tls_skip_verify on a ttl check", "ttl = \"10s\"\ntls_skip_verify = true",
                  R"("ttl": "10s", "tls_skip_verify": true)",
                  "checks[0].tls_skip_verify: only for http checks"),
        check_row("interval on a ttl check", "ttl = \"10s\"\ninterval = \"5s\"",
                  R"("ttl": "10s", "interval": "5s")",
                  "checks[0].interval: not used by ttl checks (the application reports)"),
        check_row("check id with %", "ttl = \"10s\"\nid = \"c%1\"", R"("ttl": "10s", "id": "c%1")",
                  fmt::format("checks[0].id: \"c%1\" {}", id_rule)),
        {"check id used twice",
         toml_check("ttl = \"10s\"\nid = \"x\"\n") + toml_check("ttl = \"20s\"\nid = \"x\""),
         R"("checks": [{"ttl": "10s", "id": "x"}, {"ttl": "20s", "id": "x"}])",
         "checks[1].id: \"x\" is used twice"},
    };
}

std::vector<Row> http_check_rows() {
    std::string long_url = "http://" + std::string(2042, 'a');
    std::string long_value(1025, 'v');
    std::string toml_headers =
        repeat(33, ", ", [](std::size_t i) { return fmt::format("H{} = \"v\"", i); });
    std::string json_headers =
        repeat(33, ", ", [](std::size_t i) { return fmt::format("\"H{}\": \"v\"", i); });
    auto http = [](std::string rule, std::string_view toml, std::string_view json,
                   std::string message) {
        return check_row(std::move(rule), fmt::format("http = \"http://127.0.0.1/\"\n{}", toml),
                         fmt::format(R"("http": "http://127.0.0.1/", {})", json),
                         std::move(message));
    };
    return {
        check_row("http URL of another scheme", "http = \"ftp://127.0.0.1/\"",
                  R"("http": "ftp://127.0.0.1/")",
                  "checks[0].http: \"ftp://127.0.0.1/\" is not an http:// or https:// URL"),
        check_row("http URL with a space", "http = \"http://a b/\"", R"("http": "http://a b/")",
                  "checks[0].http: \"http://a b/\" contains spaces or control characters"),
        check_row("http URL too long", fmt::format("http = \"{}\"", long_url),
                  fmt::format(R"("http": "{}")", long_url),
                  "checks[0].http: the URL is longer than 2048 bytes"),
        http("method not a token", "method = \"GE T\"", R"("method": "GE T")",
             "checks[0].method: \"GE T\" is not an HTTP method"),
        http("method empty", "method = \"\"", R"("method": "")",
             "checks[0].method: \"\" is not an HTTP method"),
        http("header name not a token", "headers = { \"X Y\" = \"v\" }",
             R"("headers": {"X Y": "v"})", "checks[0].headers: \"X Y\" is not a header name"),
        http("header value with CR LF", "headers = { X-A = \"a\\r\\nX-B: 1\" }",
             R"("headers": {"X-A": "a\r\nX-B: 1"})",
             "checks[0].headers.X-A: \"a\\x0d\\x0aX-B: 1\" contains CR, LF or another control "
             "character"),
        http("header value with LF", "headers = { X-A = \"a\\nb\" }",
             R"("headers": {"X-A": "a\nb"})",
             "checks[0].headers.X-A: \"a\\x0ab\" contains CR, LF or another control character"),
        http("header value too long", fmt::format("headers = {{ X-A = \"{}\" }}", long_value),
             fmt::format(R"("headers": {{"X-A": "{}"}})", long_value),
             "checks[0].headers.X-A: longer than 1024 bytes"),
        http("headers too many", fmt::format("headers = {{ {} }}", toml_headers),
             fmt::format(R"("headers": {{{}}})", json_headers),
             "checks[0].headers: more than 32 entries"),
    };
}

constexpr std::string_view tcp_rule =
    "is not host:port (an IP address or localhost, and a port 1 to 65535)";

std::vector<Row> tcp_and_script_rows() {
    std::string many_args =
        repeat(65, ", ", [](std::size_t i) { return fmt::format("\"a{}\"", i); });
    std::string long_arg(4097, 'a');
    std::vector<Row> rows;
    for (std::string_view target :
         {"nohost", "127.0.0.1:0", "localhost:70000", "example.com:80", "127.0.0.1", "[::1]:x"})
        rows.push_back(check_row(fmt::format("tcp target {}", target),
                                 fmt::format("tcp = \"{}\"", target),
                                 fmt::format(R"("tcp": "{}")", target),
                                 fmt::format("checks[0].tcp: \"{}\" {}", target, tcp_rule)));
    std::vector<Row> script = {
        check_row("script with no command", "args = []", R"("args": [])",
                  "checks[0].args: the command must not be empty"),
        check_row("script with an empty command", "args = [\"\"]", R"("args": [""])",
                  "checks[0].args: the command must not be empty"),
        check_row("script argument with NUL", "args = [\"/bin/echo\", \"a\\u0000b\"]",
                  R"("args": ["/bin/echo", "a\u0000b"])", "checks[0].args[1]: contains a NUL byte"),
        check_row("script with too many arguments", fmt::format("args = [{}]", many_args),
                  fmt::format(R"("args": [{}])", many_args),
                  "checks[0].args: more than 64 entries"),
        check_row("script argument too long", fmt::format("args = [\"{}\"]", long_arg),
                  fmt::format(R"("args": ["{}"])", long_arg),
                  "checks[0].args[0]: longer than 4096 bytes"),
    };
    rows.insert(rows.end(), script.begin(), script.end());
    return rows;
}

std::vector<Row> timing_rows() {
    std::string repeated = repeat(20, "", [](std::size_t) { return "1m"; });
    return {
        check_row("check ttl 0", "ttl = \"0s\"", R"("ttl": "0s")",
                  "checks[0].ttl: must be more than 0"),
        check_row("check ttl over a week", "ttl = \"169h\"", R"("ttl": "169h")",
                  "checks[0].ttl: 169h is out of range (1ms to 168h)"),
        interval_row("interval too short", "interval", "50ms",
                     "checks[0].interval: 50ms is out of range (100ms to 24h)"),
        interval_row("interval too long", "interval", "25h",
                     "checks[0].interval: 25h is out of range (100ms to 24h)"),
        interval_row("timeout too short", "timeout", "5ms",
                     "checks[0].timeout: 5ms is out of range (10ms to 1h)"),
        interval_row("timeout too long", "timeout", "1h1ms",
                     "checks[0].timeout: 1h1ms is out of range (10ms to 1h)"),
        interval_row("deregister_critical_after over a week", "deregister_critical_after", "169h",
                     "checks[0].deregister_critical_after: 169h is out of range (0 to 168h)"),
        interval_row("duration with a unit twice", "interval", "1m1m",
                     "checks[0].interval: \"1m1m\" is not a duration (units must go from h to m, "
                     "s and ms, each at most once)"),
        interval_row("duration \"1m\" 20 times", "interval", repeated,
                     fmt::format("checks[0].interval: \"{}\" is not a duration (longer than 32 "
                                 "characters)",
                                 repeated)),
        interval_row("duration units out of order", "interval", "1s1m",
                     "checks[0].interval: \"1s1m\" is not a duration (units must go from h to m, "
                     "s and ms, each at most once)"),
        interval_row("duration over the limit", "interval", "721h",
                     "checks[0].interval: \"721h\" is too long a duration (at most 720h)"),
        interval_row("duration with huge digits", "timeout", "99999999999999999999ms",
                     "checks[0].timeout: \"99999999999999999999ms\" is too long a duration (at "
                     "most 720h)"),
        interval_row("duration in microseconds", "interval", "250us",
                     "checks[0].interval: \"250us\" is not a duration (each number needs a unit: "
                     "h, m, s or ms)"),
        interval_row("duration below a millisecond", "timeout", "1.5ms",
                     "checks[0].timeout: \"1.5ms\" is not a whole number of milliseconds"),
        interval_row("duration without a number", "interval", "s",
                     "checks[0].interval: \"s\" is not a duration (expected a number before each "
                     "unit, e.g. \"5s\", \"1m30s\")"),
        interval_row("duration with a bare dot", "interval", "1.s",
                     "checks[0].interval: \"1.s\" is not a duration (a '.' must be followed by "
                     "digits)"),
        interval_row("duration empty", "interval", "",
                     "checks[0].interval: \"\" is not a duration (expected e.g. \"5s\", "
                     "\"250ms\", \"1m30s\")"),
    };
}

std::vector<Row> counter_rows() {
    std::vector<Row> rows;
    for (std::string_view key :
         {"success_before_passing", "failures_before_warning", "failures_before_critical"})
        for (int n : {0, 101, -1})
            rows.push_back(
                check_row(fmt::format("{} = {}", key, n),
                          fmt::format("tcp = \"127.0.0.1:80\"\n{} = {}", key, n),
                          fmt::format(R"("tcp": "127.0.0.1:80", "{}": {})", key, n),
                          fmt::format("checks[0].{}: {} is out of range (1 to 100)", key, n)));
    rows.push_back(check_row(
        "warning after critical",
        "tcp = \"127.0.0.1:80\"\nfailures_before_warning = 3\nfailures_before_critical = 2",
        R"("tcp": "127.0.0.1:80", "failures_before_warning": 3, "failures_before_critical": 2)",
        "checks[0].failures_before_warning: 3 must not exceed failures_before_critical (2)"));
    rows.push_back(check_row(
        "warning after the default critical", "tcp = \"127.0.0.1:80\"\nfailures_before_warning = 2",
        R"("tcp": "127.0.0.1:80", "failures_before_warning": 2)",
        "checks[0].failures_before_warning: 2 must not exceed failures_before_critical (1)"));
    return rows;
}

std::vector<Row> all_rows() {
    std::vector<Row> rows;
    for (auto part : {identity_rows(), dns_rows(), check_shape_rows(), http_check_rows(),
                      tcp_and_script_rows(), timing_rows(), counter_rows()})
        rows.insert(rows.end(), part.begin(), part.end());
    return rows;
}

http::RegistrationDefaults api_defaults() {
    return {.address = *parse_ip_address("10.0.0.9")};
}

} // namespace

TEST_CASE("each rule gives the same verdict and message through config and through the API") {
    auto rows = all_rows();
    CHECK(rows.size() > 90);
    for (const Row& row : rows) {
        std::string toml = toml_document(row);
        std::string json = json_document(row);
        INFO("rule: ", row.rule);
        INFO("toml:\n", toml.substr(0, 400));
        INFO("json: ", json.substr(0, 400));

        auto api = http::decode_registration(json, api_defaults());
        REQUIRE_FALSE(api);
        CHECK(api.error().message == row.message);

        auto config = config::parse_config(toml, "agent.toml");
        REQUIRE_FALSE(config);
        const std::string& text = config.error().message;
        // One error, located: "agent.toml:<line>: service[0].<the rulebook's message>".
        CHECK(text.find('\n') == std::string::npos);
        CHECK(text.starts_with("agent.toml:"));
        CHECK(text.ends_with("service[0]." + row.message));
    }
}

TEST_CASE("the rows' documents are valid once the bad value is left out") {
    // The harness itself: the base documents are accepted by both, so a
    // refusal above is the row's value and nothing else.
    Row base{"none", "", "", ""};
    CHECK(http::decode_registration(json_document(base), api_defaults()));
    CHECK(config::parse_config(toml_document(base), "agent.toml"));
    Row with_check{"one check", toml_check("tcp = \"127.0.0.1:80\"\ninterval = \"1.5s\""),
                   json_check(R"("tcp": "127.0.0.1:80", "interval": "1.5s")"), ""};
    auto api = http::decode_registration(json_document(with_check), api_defaults());
    REQUIRE(api);
    auto config = config::parse_config(toml_document(with_check), "agent.toml");
    REQUIRE(config);
    REQUIRE(config->services.size() == 1);
    // The same value reads as the same instance.
    registry::Instance from_config = config->services[0];
    from_config.address = api->address; // config leaves it to the agent
    CHECK(from_config == *api);
    CHECK(api->checks.at(0).definition.interval_ms == 1500);
}

TEST_CASE("config-only values follow the same rules") {
    // [dns].serve_warning and the node's names have no API field: config
    // gives the rulebook's own message after the key.
    auto serve = registry::parse_serve_warning("sometimes");
    REQUIRE_FALSE(serve);
    auto config = config::parse_config("[dns]\nserve_warning = \"sometimes\"\n", "agent.toml");
    REQUIRE_FALSE(config);
    CHECK(config.error().message == "agent.toml:2: dns.serve_warning: " + serve.error().message);

    for (std::string_view key : {"node_name", "datacenter"}) {
        auto label = registry::check_label("w_b");
        REQUIRE_FALSE(label);
        auto c = config::parse_config(fmt::format("{} = \"w_b\"\n", key), "agent.toml");
        REQUIRE_FALSE(c);
        CHECK(c.error().message == fmt::format("agent.toml:1: {}: {}", key, label.error().message));
    }
}
