// Consul's API on cairn: decoding registrations, the read shapes and
// blocking queries, over a real Registry and without sockets.

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/loop.hpp"
#include "http/api.hpp"
#include "http/blocking.hpp"
#include "http/consul_decode.hpp"

using namespace cairn;
using namespace cairn::http;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

RegistrationDefaults defaults() {
    return {*parse_ip_address("10.1.2.3")};
}

Result<registry::Instance> decode(const std::string& body) {
    return decode_consul_registration(json::parse(body), defaults());
}

std::string error_of(const std::string& body) {
    auto r = decode(body);
    REQUIRE_FALSE(r);
    return r.error().message;
}

Request request(std::string method, std::string target, std::string body = "") {
    Request r;
    r.method = std::move(method);
    r.target = target;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = std::move(body);
    return r;
}

struct Fixture {
    registry::Registry reg{"node-a"};
    Api api{reg, options(), hooks()};

    static ApiOptions options() {
        ApiOptions o;
        o.node_name = "node-a";
        o.address = *parse_ip_address("10.1.2.3");
        return o;
    }
    static ApiHooks hooks() {
        ApiHooks h;
        h.now_ms = [] { return std::int64_t{1'700'000'000'000}; };
        return h;
    }
    Response call(std::string method, std::string target, std::string body = "") {
        return api.handle(request(std::move(method), std::move(target), std::move(body)));
    }
    static std::uint64_t index_of(const Response& r) {
        for (const auto& [k, v] : r.headers)
            if (k == "X-Consul-Index") return std::stoull(v);
        return 0;
    }
};

} // namespace

TEST_CASE("a registration as a Consul user writes it: lowercase keys and a check") {
    auto i = decode(R"({"name": "web", "id": "web-1", "port": 8080, "address": "127.0.0.5",
        "tags": ["v1"], "meta": {"Version": "2"}, "weights": {"passing": 7, "warning": 1},
        "check": {"http": "http://127.0.0.1:8080/health", "interval": "1m30s",
                  "timeout": 2000000000, "header": {"X-A": ["1", "2"]},
                  "tls_skip_verify": true, "deregister_critical_service_after": "90m",
                  "Status": "passing"}})");
    REQUIRE(i);
    CHECK(i->service == "web");
    CHECK(i->id == "web-1");
    CHECK(i->port == 8080);
    CHECK(i->weight == 7);
    CHECK(i->meta == registry::Metadata{{"Version", "2"}}); // user keys kept as sent
    REQUIRE(i->checks.size() == 1);
    const auto& d = i->checks[0].definition;
    CHECK(d.id == "service:web-1");
    CHECK(d.kind == registry::CheckKind::http);
    CHECK(d.interval_ms == 90'000);
    CHECK(d.timeout_ms == 2'000);
    CHECK(d.tls_skip_verify);
    CHECK(d.deregister_critical_after_ms == 90 * 60'000);
    CHECK(d.headers.size() == 2);
    CHECK(i->checks[0].state.status == registry::Health::passing);
}

TEST_CASE("Consul's spellings and defaults") {
    auto i = decode(R"({"Name": "api", "Port": 1, "Checks": [{"TTL": "10s", "Interval": "5s"},
        {"ScriptArgs": ["/bin/true"], "Interval": "10s", "FailuresBeforeCritical": 3},
        {"tcp": "127.0.0.1:1", "interval": "10s", "SuccessBeforePassing": 0, "Name": "n",
         "Notes": "ignored"}],
        "EnableTagOverride": true, "TaggedAddresses": {"lan": {"address": "1.2.3.4", "port": 1}},
        "Kind": "", "Proxy": null})");
    REQUIRE(i);
    CHECK(i->id == "api");
    CHECK(i->address == *parse_ip_address("10.1.2.3")); // the agent's
    REQUIRE(i->checks.size() == 3);
    CHECK(i->checks[0].definition.id == "service:api:1");
    CHECK(i->checks[0].definition.kind == registry::CheckKind::ttl);
    CHECK(i->checks[0].definition.ttl_ms == 10'000);
    CHECK(i->checks[1].definition.args == std::vector<std::string>{"/bin/true"});
    // FailuresBeforeWarning defaults to FailuresBeforeCritical, as in Consul.
    CHECK(i->checks[1].definition.failures_before_warning == 3);
    CHECK(i->checks[1].definition.failures_before_critical == 3);
    CHECK(i->checks[2].definition.success_before_passing == 1);
    CHECK(i->checks[0].state.status == registry::Health::critical);
}

TEST_CASE("bad Consul registrations name the field in Consul's spelling") {
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Check": {"HTTP": "http://a", "Interval": "5x"}})")
              .starts_with("Check.Interval: "));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Checks": [{"TTL": "1s"}, {"TCP": "nope"}]})")
              .starts_with("Checks[1].TCP: "));
    CHECK(error_of(R"({"Name": "web", "Port": 70000})").starts_with("Port: "));
    CHECK(error_of(R"({"Name": "web"})").starts_with("Port: missing"));
    CHECK(error_of(R"({"Name": "web_api", "Port": 1})").starts_with("Name: "));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Tags": ["a.b"]})").starts_with("Tags[0]: "));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Address": "db.example"})")
              .starts_with("Address: "));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Weights": {"Passing": 0}})")
              .starts_with("Weights.Passing: "));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Kind": "connect-proxy"})")
              .starts_with("Kind: not supported"));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Check": {"GRPC": "x:1"}})")
              .starts_with("Check.GRPC: not supported"));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Tag": ["x"]})") == "Tag: unknown field");
    CHECK(error_of(R"({"Name": "web", "name": "x", "Port": 1})").starts_with("Name: given twice"));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Check": {"TTL": "1s", "HTTP": "http://a"}})")
              .starts_with("Check: exactly one of"));
    CHECK(
        error_of(R"({"Name": "web", "Port": 1, "Check": {"TTL": -5}})").starts_with("Check.TTL: "));
    CHECK(error_of(R"({"Name": "web", "Port": 1, "Check": {"TTL": "1s", "Status": "maintenance"}})")
              .starts_with("Check.Status: "));
}

TEST_CASE("a check update body") {
    auto u = decode_consul_check_update(json::parse(R"({"status": "warning", "output": "slow"})"));
    REQUIRE(u);
    CHECK(u->status == registry::Health::warning);
    CHECK(u->output == "slow");
    CHECK_FALSE(decode_consul_check_update(json::parse(R"({"Output": "x"})")));
    CHECK_FALSE(decode_consul_check_update(json::parse(R"({"Status": "up"})")));
}

TEST_CASE("blocking query parameters") {
    auto q = parse_blocking(request("GET", "/v1/health/service/web?index=12&wait=120000ms"));
    REQUIRE(q);
    REQUIRE(*q);
    CHECK((*q)->index == 12);
    CHECK((*q)->wait == 120s);
    CHECK((**parse_blocking(request("GET", "/x?index=3"))).wait == 5min);
    CHECK((**parse_blocking(request("GET", "/x?index=3&wait=1h"))).wait == 10min);
    CHECK_FALSE(*parse_blocking(request("GET", "/x?wait=1s")));
    CHECK_FALSE(*parse_blocking(request("GET", "/x?index=0")));
    CHECK_FALSE(parse_blocking(request("GET", "/x?index=abc")));
    CHECK_FALSE(parse_blocking(request("GET", "/x?index=1&wait=5x")));
    for (std::uint64_t r = 0; r < 10; ++r) {
        Duration w = jittered_wait(5min, r);
        CHECK(w >= 5min);
        CHECK(w <= Duration{5min} + Duration{5min} / 16);
        CHECK(w.count() % 10'000 == 0);
    }
    CHECK(jittered_wait(50ms, 3) == 50ms);
}

TEST_CASE("index book: per service, only growing, above the clock at startup") {
    IndexBook book(1000);
    CHECK(book.of(service_key("web")) == 1000);
    book.service_changed("web", 900); // a clock behind the last index still moves it on
    CHECK(book.of(service_key("web")) == 1001);
    CHECK(book.of(service_key("db")) == 1000);
    CHECK(book.of(any_service_key) == 1001);
    book.nodes_changed(5000);
    CHECK(book.of(nodes_key) == 5000);
    CHECK(book.of(any_service_key) == 5000);
    CHECK(book.of(service_key("web")) == 1001);
}

TEST_CASE("Consul registration through the API is a registry record; reads show it") {
    Fixture f;
    Response r = f.call("PUT", "/v1/agent/service/register",
                        R"({"name": "web", "id": "web-1", "port": 80, "check": {"ttl": "30s"}})");
    CHECK(r.status == 200);
    CHECK(r.body.empty());
    CHECK(Fixture::index_of(r) >= 1);
    const registry::Instance* i = f.reg.find_local("web-1");
    REQUIRE(i);
    CHECK(i->checks.at(0).definition.id == "service:web-1");

    CHECK(f.call("PUT", "/v1/agent/check/pass/service:web-1?note=ok").status == 200);
    CHECK(f.reg.find_local("web-1")->health() == registry::Health::passing);
    CHECK(f.reg.find_local("web-1")->checks[0].state.output == "ok");
    CHECK(
        f.call("PUT", "/v1/agent/check/update/service:web-1", R"({"Status": "warning"})").status ==
        200);
    CHECK(f.reg.find_local("web-1")->health() == registry::Health::warning);

    json health = json::parse(f.call("GET", "/v1/health/service/web").body);
    REQUIRE(health.size() == 1);
    CHECK(health[0]["Service"]["ID"] == "web-1");
    CHECK(health[0]["Node"]["Node"] == "node-a");
    CHECK(health[0]["Checks"][0]["CheckID"] == "serfHealth");
    CHECK(health[0]["Checks"][1]["Status"] == "warning");
    CHECK(json::parse(f.call("GET", "/v1/health/service/web?passing").body).empty());
    json catalog = json::parse(f.call("GET", "/v1/catalog/service/web").body);
    CHECK(catalog[0]["ServiceID"] == "web-1");
    CHECK(catalog[0]["ServiceName"] == "web");

    // python3-consul 0.7 sends these as GET, and enable as "True".
    CHECK(f.call("GET", "/v1/agent/check/fail/service:web-1").status == 200);
    CHECK(f.reg.find_local("web-1")->health() == registry::Health::critical);
    CHECK(f.call("GET", "/v1/agent/service/register").status == 405);
    CHECK(f.call("PUT", "/v1/agent/service/maintenance/web-1?enable=yes").status == 400);
    CHECK(f.call("PUT", "/v1/agent/service/maintenance/web-1?enable=True&reason=r").status == 200);
    json checks = json::parse(f.call("GET", "/v1/agent/checks").body);
    CHECK(checks["_service_maintenance:web-1"]["Status"] == "critical");
    CHECK(checks["_service_maintenance:web-1"]["Notes"] == "r");

    // Re-registering without the check keeps it, unless asked to replace.
    CHECK(
        f.call("PUT", "/v1/agent/service/register", R"({"name": "web", "id": "web-1", "port": 81})")
            .status == 200);
    CHECK(f.reg.find_local("web-1")->checks.size() == 1);
    CHECK(f.reg.find_local("web-1")->maintenance);
    CHECK(f.call("PUT", "/v1/agent/service/register?replace-existing-checks",
                 R"({"name": "web", "id": "web-1", "port": 81})")
              .status == 200);
    CHECK(f.reg.find_local("web-1")->checks.empty());

    // A bad registration changes nothing.
    Response bad =
        f.call("PUT", "/v1/agent/service/register", R"({"name": "web", "id": "web-1", "port": 0})");
    CHECK(bad.status == 400);
    CHECK(bad.body.starts_with("Port: "));
    CHECK(f.reg.find_local("web-1")->port == 81);

    CHECK(f.call("PUT", "/v1/agent/service/deregister/web-1").status == 200);
    CHECK_FALSE(f.reg.find_local("web-1"));
    Response missing = f.call("GET", "/v1/nope/x");
    CHECK(missing.status == 404);
    Response unknown = f.call("GET", "/v1/catalog/nope");
    CHECK(unknown.status == 404);
    CHECK(Fixture::index_of(unknown) >= 1);
}

TEST_CASE("writes need the token as X-Consul-Token or ?token=") {
    registry::Registry reg{"node-a"};
    ApiOptions o = Fixture::options();
    o.token = "s3cret";
    Api api(reg, o, Fixture::hooks());
    std::string body = R"({"name": "web", "port": 80})";
    CHECK(api.handle(request("PUT", "/v1/agent/service/register", body)).status == 403);
    Request with_header = request("PUT", "/v1/agent/service/register", body);
    with_header.headers.emplace_back("x-consul-token", "s3cret");
    CHECK(api.handle(with_header).status == 200);
    CHECK(api.handle(request("PUT", "/v1/agent/service/deregister/web?token=s3cret")).status ==
          200);
    CHECK(api.handle(request("GET", "/v1/agent/services")).status == 200);
}

TEST_CASE("a blocking query waits for a change to its own service, or for its wait") {
    Loop loop;
    registry::Registry reg{"node-a"};
    std::int64_t clock_ms = 1'700'000'000'000;
    ApiHooks h;
    h.now_ms = [&clock_ms] { return clock_ms; };
    Api api(reg, Fixture::options(), h);
    api.enable_blocking(loop);
    auto reg_web = [&](int port) {
        registry::Instance i;
        i.service = "web";
        i.id = "web-1";
        i.port = static_cast<std::uint16_t>(port);
        i.address = *parse_ip_address("10.0.0.1");
        CHECK(reg.upsert_local(i, clock_ms));
    };
    reg_web(80);
    std::uint64_t index = Fixture::index_of(api.handle(request("GET", "/v1/health/service/web")));

    std::optional<Response> answer;
    std::uint64_t answered_at = 0;
    api.handle(request("GET", "/v1/health/service/web?index=" + std::to_string(index) + "&wait=5s"),
               [&](Response r) {
                   answer = std::move(r);
                   answered_at = loop.now_ms();
               });
    CHECK_FALSE(answer);
    CHECK(api.parked_queries() == 1);

    // Another service changes: no answer. Then web changes: answered.
    Timer other(loop), mine(loop);
    std::uint64_t started = loop.now_ms();
    other.start(10ms, 0ms, [&] {
        registry::Instance db;
        db.service = "db";
        db.port = 5432;
        db.address = *parse_ip_address("10.0.0.2");
        CHECK(reg.upsert_local(db, clock_ms));
    });
    bool parked_after_other = false;
    mine.start(40ms, 0ms, [&] {
        parked_after_other = !answer.has_value();
        reg_web(81);
    });
    loop.run();
    CHECK(parked_after_other);
    REQUIRE(answer);
    CHECK(answer->status == 200);
    CHECK(Fixture::index_of(*answer) > index);
    CHECK(answered_at - started >= 40);
    CHECK(json::parse(answer->body)[0]["Service"]["Port"] == 81);
    CHECK(api.parked_queries() == 0);

    // Nothing changes: answered when the wait is over, with the same index.
    index = Fixture::index_of(*answer);
    answer.reset();
    started = loop.now_ms();
    api.handle(
        request("GET", "/v1/health/service/web?index=" + std::to_string(index) + "&wait=50ms"),
        [&](Response r) {
            answer = std::move(r);
            answered_at = loop.now_ms();
        });
    loop.run();
    REQUIRE(answer);
    CHECK(answered_at - started >= 50);
    CHECK(Fixture::index_of(*answer) == index);

    // An index ahead of the server's, or behind it, is answered at once.
    answer.reset();
    api.handle(request("GET", "/v1/health/service/web?index=" + std::to_string(index + 100)),
               [&](Response r) { answer = std::move(r); });
    CHECK(answer);
    answer.reset();
    api.handle(request("GET", "/v1/health/service/web?index=1"),
               [&](Response r) { answer = std::move(r); });
    CHECK(answer);
}
