// The JSON API over a real Registry, without sockets.

#include <doctest/doctest.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/api.hpp"

using namespace cairn;
using namespace cairn::http;
using nlohmann::json;

namespace {

struct Fixture {
    registry::Registry reg{"node-a"};
    int changes = 0;
    Api api;

    explicit Fixture(std::string token = "")
        : api(reg, make_options(std::move(token)), make_hooks(changes)) {}

    static ApiOptions make_options(std::string token) {
        ApiOptions o;
        o.node_name = "node-a";
        o.address = *parse_ip_address("10.1.2.3");
        o.token = std::move(token);
        o.default_policy = "round_robin";
        return o;
    }
    static ApiHooks make_hooks(int& changes) {
        ApiHooks h;
        h.on_change = [&changes](const std::string& id) {
            CHECK_FALSE(id.empty());
            ++changes;
        };
        h.now_ms = [] { return std::int64_t{1'700'000'000'000}; };
        return h;
    }

    Response call(std::string method, std::string target, std::string body = "",
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
        Request r;
        r.method = std::move(method);
        r.target = target;
        auto q = target.find('?');
        r.path = target.substr(0, q);
        if (q != std::string::npos) r.query = target.substr(q + 1);
        r.body = std::move(body);
        r.headers = std::move(headers);
        return api.handle(r);
    }
    json call_json(std::string method, std::string target, std::string body = "",
                   int expect = 200) {
        Response r = call(std::move(method), std::move(target), std::move(body));
        CHECK(r.status == expect);
        return json::parse(r.body);
    }
};

} // namespace

TEST_CASE("register, list, look up, deregister") {
    Fixture f;
    json stored = f.call_json("PUT", "/v1/services",
                              R"({"name": "web", "id": "web-1", "port": 8080, "tags": ["v2"]})");
    CHECK(stored["id"] == "web-1");
    CHECK(stored["node"] == "node-a");
    CHECK(stored["address"] == "10.1.2.3");
    CHECK(stored["weight"] == 1);
    CHECK(stored["policy"] == "round_robin"); // the [dns] default, shown
    CHECK(stored["ttl"] == "5s");
    CHECK(stored["health"] == "passing");
    CHECK(f.changes == 1);
    f.call_json("PUT", "/v1/services", R"({"name": "web", "id": "web-2", "port": 8081,
        "checks": [{"ttl": "30s"}]})");
    f.call_json("PUT", "/v1/services", R"({"name": "db", "port": 5432})");

    json list = f.call_json("GET", "/v1/services");
    REQUIRE(list.size() == 2);
    CHECK(list[0]["name"] == "db");
    CHECK(list[1]["name"] == "web");
    CHECK(list[1]["instances"] == 2);
    CHECK(list[1]["passing"] == 1);
    CHECK(list[1]["critical"] == 1);

    json web = f.call_json("GET", "/v1/services/web");
    REQUIRE(web.size() == 2);
    CHECK(web[1]["checks"][0]["id"] == "web-2:1");
    CHECK(web[1]["checks"][0]["status"] == "critical");
    CHECK(web[1]["checks"][0].contains("output"));
    CHECK(web[1]["checks"][0].contains("last_change"));
    CHECK(web[1]["checks"][0].contains("latency_ms"));
    json passing = f.call_json("GET", "/v1/services/web?passing");
    REQUIRE(passing.size() == 1);
    CHECK(passing[0]["id"] == "web-1");
    CHECK(f.call_json("GET", "/v1/services/web?tag=v2").size() == 1);
    CHECK(f.call_json("GET", "/v1/services/WEB").size() == 2); // names are case-insensitive

    f.call_json("DELETE", "/v1/services/web-1");
    CHECK(f.call_json("GET", "/v1/services/web").size() == 1);
    f.call_json("DELETE", "/v1/services/web-1", "", 404);
    f.call_json("GET", "/v1/services/nothing", "", 404);
}

TEST_CASE("a rejected registration changes nothing") {
    Fixture f;
    f.call_json("PUT", "/v1/services", R"({"name": "web", "port": 8080, "tags": ["a"]})");
    json before = f.call_json("GET", "/v1/services/web");
    int changes = f.changes;
    for (std::string bad :
         {"{not json", R"({"name": "web", "port": "8080"})", R"({"port": 1})",
          R"({"name": "web", "port": 70000})",
          R"({"name": "web", "port": 1, "checks": [{"http": "http://x/", "interval": "5x"}]})"}) {
        CAPTURE(bad);
        Response r = f.call("PUT", "/v1/services", bad);
        CHECK(r.status == 400);
        CHECK(json::parse(r.body).contains("error"));
    }
    Response r = f.call("PUT", "/v1/services", R"({"name": "web", "port": 70000})");
    CHECK(json::parse(r.body)["error"] == "port: 70000 is out of range (1 to 65535)");
    CHECK(f.call_json("GET", "/v1/services/web") == before);
    CHECK(f.changes == changes);
}

TEST_CASE("404 for unknown paths, 405 with Allow for wrong methods") {
    Fixture f;
    CHECK(f.call("GET", "/nope").status == 404);
    CHECK(f.call("GET", "/v1/nope").status == 404);
    CHECK(f.call("PUT", "/v1/checks/x/maybe").status == 404);
    Response r = f.call("POST", "/v1/members");
    CHECK(r.status == 405);
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0] == std::pair<std::string, std::string>{"Allow", "GET"});
    CHECK(f.call("PATCH", "/v1/services").status == 405);
    CHECK(f.call("GET", "/v1/checks/x/pass").status == 405);
    CHECK(f.call("DELETE", "/health").status == 405);
}

TEST_CASE("the bearer token guards writes only") {
    Fixture f("s3cret");
    const std::string body = R"({"name": "web", "port": 80})";
    Response r = f.call("PUT", "/v1/services", body);
    CHECK(r.status == 401);
    CHECK(f.call("PUT", "/v1/services", body, {{"authorization", "Bearer wrong"}}).status == 401);
    CHECK(f.call("PUT", "/v1/services", body, {{"authorization", "Bearer s3cre"}}).status == 401);
    CHECK(f.call("DELETE", "/v1/services/web").status == 401);
    CHECK(f.call("PUT", "/v1/services", body, {{"authorization", "Bearer s3cret"}}).status == 200);
    CHECK(f.call("DELETE", "/v1/services/web").status == 401);
    CHECK(f.call("GET", "/v1/services").status == 200);
    CHECK(f.call("GET", "/v1/services/web").status == 200);
    CHECK(f.call("DELETE", "/v1/services/web", "", {{"authorization", "bearer s3cret"}}).status ==
          200);
}

TEST_CASE("TTL check reports") {
    Fixture f;
    f.call_json(
        "PUT", "/v1/services",
        R"({"name": "job", "port": 1, "checks": [{"ttl": "30s"}, {"tcp": "127.0.0.1:1"}]})");
    json ok = f.call_json("PUT", "/v1/checks/job:1/pass", R"({"note": "all good"})");
    CHECK(ok["status"] == "passing");
    json inst = f.call_json("GET", "/v1/services/job")[0];
    CHECK(inst["checks"][0]["status"] == "passing");
    CHECK(inst["checks"][0]["output"] == "all good");
    CHECK(inst["checks"][0]["last_change"] == 1'700'000'000'000);
    f.call_json("PUT", "/v1/checks/job:1/warn");
    CHECK(f.call_json("GET", "/v1/services/job")[0]["checks"][0]["status"] == "warning");
    f.call_json("PUT", "/v1/checks/job:2/pass", "", 400); // not a TTL check
    f.call_json("PUT", "/v1/checks/none/pass", "", 404);
    f.call_json("PUT", "/v1/checks/job:1/fail", R"({"note": 5})", 400);
    f.call_json("PUT", "/v1/checks/job:1/fail", R"({"notes": "x"})", 400);
    f.call_json("PUT", "/v1/checks/job:1/fail", R"([])", 400);
    CHECK(f.call_json("GET", "/v1/services/job")[0]["checks"][0]["status"] == "warning");
}

TEST_CASE("TTL reports carry a load as a leading load=N word") {
    Fixture f;
    f.call_json(
        "PUT", "/v1/services",
        R"({"name": "job", "port": 1, "policy": "least_loaded", "checks": [{"ttl": "30s"}]})");
    f.call_json("PUT", "/v1/checks/job:1/pass", R"({"load": 17})");
    json check = f.call_json("GET", "/v1/services/job")[0]["checks"][0];
    CHECK(check["output"] == "load=17");
    CHECK(check["load"] == 17);
    CHECK(f.call_json("GET", "/v1/services/job")[0]["policy"] == "least_loaded");
    f.call_json("PUT", "/v1/checks/job:1/pass", R"({"note": "busy", "load": 0})");
    check = f.call_json("GET", "/v1/services/job")[0]["checks"][0];
    CHECK(check["output"] == "load=0 busy");
    CHECK(check["load"] == 0);
    f.call_json("PUT", "/v1/checks/job:1/pass", R"({"note": "ok load=9"})");
    CHECK(f.call_json("GET", "/v1/services/job")[0]["checks"][0]["load"] == 9);
    Response bad = f.call("PUT", "/v1/checks/job:1/pass", R"({"load": -1})");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("load: -1 is out of range (0 to 1000000000)") != std::string::npos);
    CHECK(f.call("PUT", "/v1/checks/job:1/pass", R"({"load": 2.5})").status == 400);
    CHECK(f.call("PUT", "/v1/checks/job:1/pass", R"({"load": "3"})").status == 400);
    CHECK(f.call("PUT", "/v1/checks/job:1/pass", R"({"load": 18446744073709551615})").status ==
          400);
    CHECK(f.call_json("GET", "/v1/services/job")[0]["checks"][0]["load"] == 9); // unchanged
}

TEST_CASE("GET /v1/prometheus/sd: a target group per servable instance") {
    Fixture f;
    f.call_json("PUT", "/v1/services",
                R"({"id": "w1", "name": "web", "address": "10.0.0.1", "port": 80, "tags": ["v2"],
                    "meta": {"build-id": "7"}})");
    f.call_json("PUT", "/v1/services",
                R"({"id": "w2", "name": "web", "address": "fd00::2", "port": 81})");
    f.call_json("PUT", "/v1/services",
                R"({"id": "db", "name": "db", "port": 5432, "checks": [{"ttl": "30s"}]})");
    json all = f.call_json("GET", "/v1/prometheus/sd");
    REQUIRE(all.size() == 2); // db's check has not passed: critical, not a target
    CHECK(all[0]["targets"] == json::array({"10.0.0.1:80"}));
    CHECK(all[1]["targets"] == json::array({"[fd00::2]:81"}));
    CHECK(all[0]["labels"]["__meta_cairn_service_id"] == "w1");
    CHECK(all[0]["labels"]["__meta_cairn_tags"] == ",v2,");
    CHECK(all[1]["labels"]["__meta_cairn_tags"] == ",");
    CHECK(all[0]["labels"]["__meta_cairn_service_metadata_build_id"] == "7");
    CHECK(f.call_json("GET", "/v1/prometheus/sd?tag=V2").size() == 1);
    CHECK(f.call_json("GET", "/v1/prometheus/sd?service=db").empty());
    f.call_json("PUT", "/v1/checks/db:1/pass");
    CHECK(f.call_json("GET", "/v1/prometheus/sd?service=db")[0]["targets"] ==
          json::array({"10.1.2.3:5432"}));
    CHECK(f.call_json("GET", "/v1/prometheus/sd?service=db&service=web").size() == 3);
    CHECK(f.call_json("GET", "/v1/prometheus/sd?service=web&tag=v2&tag=v3").empty());
    CHECK(f.call("PUT", "/v1/prometheus/sd").status == 405);
}

TEST_CASE("TTL reports go to the health engine's hook when it is set") {
    registry::Registry reg("n");
    std::string seen;
    ApiOptions o;
    o.address = *parse_ip_address("127.0.0.1");
    ApiHooks h;
    h.ttl_report = [&](const std::string& id, registry::Health s,
                       const std::string& note) -> Result<void> {
        seen = id + "/" + std::string(registry::to_string(s)) + "/" + note;
        if (note == "refuse") return fail("refused");
        return {};
    };
    Api api(reg, o, h);
    Request put;
    put.method = "PUT";
    put.path = "/v1/services";
    put.body = R"({"name": "job", "port": 1, "checks": [{"ttl": "30s"}]})";
    REQUIRE(api.handle(put).status == 200);
    Request rep;
    rep.method = "PUT";
    rep.path = "/v1/checks/job:1/fail";
    rep.body = R"({"note": "bad"})";
    CHECK(api.handle(rep).status == 200);
    CHECK(seen == "job:1/critical/bad");
    rep.body = R"({"note": "refuse"})";
    CHECK(api.handle(rep).status == 400);
}

TEST_CASE("maintenance mode") {
    Fixture f;
    f.call_json("PUT", "/v1/services", R"({"name": "web", "port": 80})");
    f.call_json("PUT", "/v1/services/web/maintenance", "", 400);
    f.call_json("PUT", "/v1/services/web/maintenance?enable=maybe", "", 400);
    f.call_json("PUT", "/v1/services/nope/maintenance?enable=true", "", 404);
    json on = f.call_json("PUT", "/v1/services/web/maintenance?enable=true&reason=disk+full");
    CHECK(on["health"] == "maintenance");
    CHECK(on["maintenance_reason"] == "disk full");
    json off = f.call_json("PUT", "/v1/services/web/maintenance?enable=false");
    CHECK(off["health"] == "passing");
}

TEST_CASE("members, agent, health, metrics") {
    Fixture f;
    json members = f.call_json("GET", "/v1/members");
    REQUIRE(members.size() == 1);
    CHECK(members[0]["name"] == "node-a");
    CHECK(members[0]["state"] == "alive");
    CHECK(members[0]["incarnation"] == 0);
    json agent = f.call_json("GET", "/v1/agent");
    CHECK(agent["name"] == "node-a");
    CHECK(agent["datacenter"] == "dc1");
    CHECK(agent["version"] == CAIRN_VERSION);
    CHECK(f.call("GET", "/health").status == 200);

    f.call_json("PUT", "/v1/services", R"({"name": "web", "port": 80})");
    f.call_json("PUT", "/v1/services",
                R"({"name": "web", "id": "w2", "port": 80, "checks": [{"ttl": "1s"}]})");
    Response m = f.call("GET", "/metrics");
    CHECK(m.status == 200);
    CHECK(m.content_type.starts_with("text/plain; version=0.0.4"));
    CHECK(m.body.find("cairn_services 1\n") != std::string::npos);
    CHECK(m.body.find("cairn_instances{health=\"passing\"} 1\n") != std::string::npos);
    CHECK(m.body.find("cairn_instances{health=\"critical\"} 1\n") != std::string::npos);
    CHECK(m.body.find("cairn_local_instances 2\n") != std::string::npos);
}

TEST_CASE("a large service is streamed in pieces; the pieces make the same JSON, filters apply") {
    Fixture f;
    for (int i = 0; i < 600; ++i)
        REQUIRE(f.call("PUT", "/v1/services",
                       json{{"name", "big"},
                            {"id", "big-" + std::to_string(i)},
                            {"port", 1000 + i},
                            {"tags", i % 2 == 0 ? json::array({"even"}) : json::array()}}
                           .dump())
                    .status == 200);
    auto collect = [](Response r) {
        REQUIRE(r.body_stream);
        std::string body;
        int pieces = 0;
        while (r.body_stream(body)) REQUIRE(++pieces < 100);
        return std::pair{json::parse(body), pieces + 1};
    };
    auto [all, pieces] = collect(f.call("GET", "/v1/services/big"));
    CHECK(all.size() == 600);
    CHECK(pieces > 1);
    CHECK(all[0]["policy"] == "round_robin");
    auto [even, _] = collect(f.call("GET", "/v1/services/big?tag=even"));
    CHECK(even.size() == 300);
    // Deregistered while being sent: left out, the JSON stays whole.
    Response r = f.call("GET", "/v1/services/big");
    std::string body;
    REQUIRE(r.body_stream(body));
    CHECK(f.call("DELETE", "/v1/services/big-599").status == 200);
    while (r.body_stream(body)) {
    }
    CHECK(json::parse(body).size() == 599);
    // A small service is answered whole, with a Content-Length.
    REQUIRE(f.call("PUT", "/v1/services", R"({"name": "small", "port": 1})").status == 200);
    CHECK_FALSE(f.call("GET", "/v1/services/small").body_stream);
}

namespace {

// An API whose writes wait for a commit that the test completes by hand.
struct Durable {
    registry::Registry reg{"node-a"};
    std::vector<std::pair<DurableWrite, std::function<void(Result<void>)>>> pending;
    std::string fault;
    Api api;

    Durable()
        : api(reg, Fixture::make_options(""), hooks()) {}

    ApiHooks hooks() {
        ApiHooks h;
        h.persist = [this](DurableWrite w, std::function<void(Result<void>)> done) {
            pending.emplace_back(std::move(w), std::move(done));
        };
        h.storage_fault = [this] { return fault; };
        h.now_ms = [] { return std::int64_t{1'700'000'000'000}; };
        return h;
    }

    // The response, once there is one.
    std::optional<Response> answer;
    void call(std::string method, std::string target, std::string body = "") {
        Request r;
        r.method = std::move(method);
        auto q = target.find('?');
        r.path = target.substr(0, q);
        if (q != std::string::npos) r.query = target.substr(q + 1);
        r.target = std::move(target);
        r.body = std::move(body);
        answer.reset();
        api.handle(r, [this](Response resp) { answer = std::move(resp); });
    }
    void commit(Result<void> result) {
        REQUIRE(pending.size() == 1);
        auto [write, done] = std::move(pending.front());
        pending.clear();
        done(std::move(result));
    }
};

} // namespace

TEST_CASE(
    "durable writes: answered 200 and seen only after their commit; 503 and unseen when it fails") {
    Durable d;
    d.call("PUT", "/v1/services", R"({"name": "web", "id": "web-1", "port": 80})");
    CHECK_FALSE(d.answer);
    CHECK(d.reg.find_local("web-1") == nullptr);
    REQUIRE(d.pending.size() == 1);
    REQUIRE(d.pending[0].first.instance);
    CHECK(d.pending[0].first.instance->version == 1);
    d.commit({});
    REQUIRE(d.answer);
    CHECK(d.answer->status == 200);
    REQUIRE(d.reg.find_local("web-1") != nullptr);

    // The same registration again is stored already: answered at once.
    d.call("PUT", "/v1/services", R"({"name": "web", "id": "web-1", "port": 80})");
    REQUIRE(d.answer);
    CHECK(d.answer->status == 200);
    CHECK(d.pending.empty());

    d.call("PUT", "/v1/services", R"({"name": "web", "id": "web-1", "port": 81})");
    d.commit(fail("cannot write state.db: database or disk is full"));
    REQUIRE(d.answer);
    CHECK(d.answer->status == 503);
    CHECK(d.answer->body.find("database or disk is full") != std::string::npos);
    CHECK(d.reg.find_local("web-1")->port == 80);

    d.call("PUT", "/v1/services/web-1/maintenance?enable=true");
    d.commit(fail("read-only"));
    CHECK(d.answer->status == 503);
    CHECK_FALSE(d.reg.find_local("web-1")->maintenance);

    d.call("DELETE", "/v1/services/web-1");
    CHECK_FALSE(d.answer);
    CHECK(d.reg.find_local("web-1") != nullptr);
    d.commit(fail("read-only"));
    CHECK(d.answer->status == 503);
    CHECK(d.reg.find_local("web-1") != nullptr);

    d.call("DELETE", "/v1/services/web-1");
    d.commit({});
    CHECK(d.answer->status == 200);
    CHECK(d.reg.find_local("web-1") == nullptr);
    CHECK(d.reg.find_local_tombstone("web-1") != nullptr);
}

TEST_CASE("durable writes: a TTL report that changes the status waits for its commit; a storage "
          "fault refuses it") {
    Durable d;
    d.call("PUT", "/v1/services",
           R"({"name": "web", "id": "web-1", "port": 80, "checks": [{"ttl": "30s"}]})");
    d.commit({});
    d.call("PUT", "/v1/checks/web-1:1/pass");
    CHECK_FALSE(d.answer);
    REQUIRE(d.pending.size() == 1);
    CHECK(d.pending[0].first.applied);
    d.commit({});
    CHECK(d.answer->status == 200);
    // No change of status: nothing to store.
    d.call("PUT", "/v1/checks/web-1:1/pass");
    REQUIRE(d.answer);
    CHECK(d.answer->status == 200);
    CHECK(d.pending.empty());

    d.fault = "cannot write state.db: disk I/O error";
    d.call("PUT", "/v1/checks/web-1:1/fail");
    REQUIRE(d.answer);
    CHECK(d.answer->status == 503);
    CHECK(d.reg.find_local("web-1")->checks[0].state.status == registry::Health::passing);
    d.call("GET", "/health");
    REQUIRE(d.answer);
    CHECK(d.answer->status == 503);
    CHECK(d.answer->body.find("disk I/O error") != std::string::npos);
    d.fault.clear();
    d.call("GET", "/health");
    CHECK(d.answer->status == 200);
}

TEST_CASE("a registry whose version counter is at 2^64-1 refuses writes with 503") {
    Fixture f;
    registry::Instance top;
    top.id = "web-1";
    top.service = "web";
    top.address = *parse_ip_address("10.0.0.1");
    top.port = 80;
    top.version = std::numeric_limits<std::uint64_t>::max();
    f.reg.apply(top);
    Response r = f.call("PUT", "/v1/services", R"({"name": "web", "id": "web-1", "port": 81})");
    CHECK(r.status == 503);
    CHECK(r.body.find("2^64-1") != std::string::npos);
    CHECK(f.call("DELETE", "/v1/services/web-1").status == 503);
    CHECK(f.reg.find_local("web-1")->port == 80);
}

TEST_CASE("the keyring: list and changes through the hooks, body rules, token on reads too") {
    registry::Registry reg{"node-a"};
    std::vector<std::string> keys{"K1"};
    std::vector<std::pair<std::string, std::string>> calls;
    ApiHooks h;
    h.keyring_list = [&keys] { return json{{"primary", keys.front()}, {"keys", keys}}; };
    std::vector<ApiHooks::KeyringDone> later; // answered after the durable write
    h.keyring_change = [&](std::string_view op, std::string key, ApiHooks::KeyringDone done) {
        calls.emplace_back(std::string(op), key);
        if (key == "bad") return done(std::unexpected(ApiRefusal{400, "key: too short"}));
        if (key == "slow") return later.push_back(std::move(done));
        if (op == "install") keys.push_back(key);
        done(json{{"primary", keys.front()}, {"keys", keys}});
    };
    ApiOptions o;
    o.node_name = "node-a";
    o.token = "secret";
    Api api(reg, o, h);
    auto call = [&api](std::string method, std::string path, std::string body = "",
                       bool token = true) {
        Request r;
        r.method = std::move(method);
        r.target = r.path = std::move(path);
        r.body = std::move(body);
        if (token) r.headers = {{"authorization", "Bearer secret"}};
        return api.handle(r);
    };

    Response listed = call("GET", "/v1/keyring");
    CHECK(listed.status == 200);
    CHECK(json::parse(listed.body) == json{{"primary", "K1"}, {"keys", {"K1"}}});
    // The keys are the cluster's secret: reading them needs the token.
    CHECK(call("GET", "/v1/keyring", "", false).status == 401);
    CHECK(call("PUT", "/v1/keyring/install", R"({"key": "K2"})", false).status == 401);
    CHECK(calls.empty());

    Response installed = call("PUT", "/v1/keyring/install", R"({"key": "K2"})");
    CHECK(installed.status == 200);
    CHECK(json::parse(installed.body)["keys"] == json{"K1", "K2"});
    CHECK(call("POST", "/v1/keyring/use", R"({"key": "K2"})").status == 200);
    CHECK(call("PUT", "/v1/keyring/remove", R"({"key": "K1"})").status == 200);
    CHECK(calls == std::vector<std::pair<std::string, std::string>>{
                       {"install", "K2"}, {"use", "K2"}, {"remove", "K1"}});

    Response refused = call("PUT", "/v1/keyring/install", R"({"key": "bad"})");
    CHECK(refused.status == 400);
    CHECK(json::parse(refused.body)["error"] == "key: too short");
    calls.clear();
    CHECK(json::parse(call("PUT", "/v1/keyring/use", "{}").body)["error"] == "key: missing");
    CHECK(json::parse(call("PUT", "/v1/keyring/use", R"({"key": 1})").body)["error"] ==
          "key: expected a base64 string");
    CHECK(json::parse(call("PUT", "/v1/keyring/use", R"({"key": "K2", "x": 1})").body)["error"] ==
          "x: unknown field");
    CHECK(call("PUT", "/v1/keyring/use", "[]").status == 400);
    CHECK(calls.empty());
    CHECK(call("DELETE", "/v1/keyring/use").status == 405);
    CHECK(call("PUT", "/v1/keyring").status == 405);
    CHECK(call("PUT", "/v1/keyring/rotate", R"({"key": "K2"})").status == 404);

    // The answer waits for the hook's done (the keyring file's write).
    Request slow;
    slow.method = "PUT";
    slow.target = slow.path = "/v1/keyring/install";
    slow.body = R"({"key": "slow"})";
    slow.headers = {{"authorization", "Bearer secret"}};
    std::optional<Response> answer;
    api.handle(slow, [&answer](Response resp) { answer = std::move(resp); });
    CHECK_FALSE(answer);
    REQUIRE(later.size() == 1);
    later[0](std::unexpected(ApiRefusal{503, "not stored, so not applied: disk full"}));
    REQUIRE(answer);
    CHECK(answer->status == 503);

    // Without the hooks (no gossip keyring): 409.
    Api bare(reg, ApiOptions{});
    Request r;
    r.method = "GET";
    r.target = r.path = "/v1/keyring";
    CHECK(bare.handle(r).status == 409);
}

TEST_CASE("DELETE /v1/dns/cache: one name or all through the hook; 409 without forwarding") {
    registry::Registry reg{"node-a"};
    std::vector<std::optional<std::string>> calls;
    ApiHooks h;
    h.flush_dns_cache = [&calls](std::optional<std::string_view> name) -> Result<std::size_t> {
        calls.emplace_back(name ? std::optional<std::string>(*name) : std::nullopt);
        if (name && *name == "bad..name") return fail("name: empty label in {}", *name);
        return name ? 2 : 7;
    };
    ApiOptions o;
    o.token = "secret";
    Api api(reg, o, h);
    auto call = [&api](std::string method, std::string target, bool token = true) {
        Request r;
        r.method = std::move(method);
        r.target = target;
        auto q = target.find('?');
        r.path = target.substr(0, q);
        if (q != std::string::npos) r.query = target.substr(q + 1);
        if (token) r.headers = {{"authorization", "Bearer secret"}};
        return api.handle(r);
    };
    Response all = call("DELETE", "/v1/dns/cache");
    CHECK(all.status == 200);
    CHECK(json::parse(all.body) == json{{"removed", 7}});
    Response one = call("DELETE", "/v1/dns/cache?name=www.example.org.");
    CHECK(one.status == 200);
    CHECK(json::parse(one.body) == json{{"removed", 2}});
    CHECK(call("DELETE", "/v1/dns/cache?name=bad..name").status == 400);
    CHECK(call("DELETE", "/v1/dns/cache?name=").status == 400);
    CHECK(calls ==
          std::vector<std::optional<std::string>>{std::nullopt, "www.example.org.", "bad..name"});
    // A write: the token is needed; other methods are 405.
    CHECK(call("DELETE", "/v1/dns/cache", false).status == 401);
    CHECK(call("GET", "/v1/dns/cache").status == 405);
    CHECK(calls.size() == 3);

    Api off(reg, ApiOptions{}, ApiHooks{});
    Request r;
    r.method = "DELETE";
    r.target = r.path = "/v1/dns/cache";
    CHECK(off.handle(r).status == 409);
}

TEST_CASE("route_of names a path by its pattern; anything unmatched is 'other'") {
    using cairn::http::method_label;
    using cairn::http::route_of;
    CHECK(route_of("/health") == "/health");
    CHECK(route_of("/metrics") == "/metrics");
    CHECK(route_of("/v1/services") == "/v1/services");
    CHECK(route_of("/v1/services/web") == "/v1/services/:key");
    CHECK(route_of("/v1/services/web-1/maintenance") == "/v1/services/:id/maintenance");
    CHECK(route_of("/v1/checks/web-1:1/pass") == "/v1/checks/:id/:status");
    CHECK(route_of("/v1/members") == "/v1/members");
    CHECK(route_of("/v1/keyring") == "/v1/keyring");
    CHECK(route_of("/v1/keyring/install") == "/v1/keyring/:op");
    CHECK(route_of("/v1/agent") == "/v1/agent");
    CHECK(route_of("/v1/dns/cache") == "/v1/dns/cache");
    CHECK(route_of("/v1/dns/lookup") == "/v1/dns/lookup");
    CHECK(route_of("/v1/prometheus/sd") == "/v1/prometheus/sd");
    CHECK(route_of("/ui/") == "/ui/");
    CHECK(route_of("/ui/app.js") == "/ui/");
    CHECK(route_of("/v1/catalog/service/web") == "/v1/catalog/*");
    CHECK(route_of("/v1/health/service/web") == "/v1/health/*");
    CHECK(route_of("/v1/agent/service/register") == "/v1/agent/*");
    CHECK(route_of("/") == "other");
    CHECK(route_of("/v1/services/a/b/c/d/e/f") == "other");
    CHECK(route_of("/random/thing/" + std::string(100, 'x')) == "other");
    CHECK(method_label("GET") == "GET");
    CHECK(method_label("BREW") == "other");
}

TEST_CASE("/metrics counts API answers by route pattern, method and status") {
    Fixture f;
    f.call_json("PUT", "/v1/services", R"({"name": "web", "port": 80})");
    f.call("GET", "/v1/services/web");
    f.call("GET", "/v1/services/nothing-here");
    f.call("GET", "/nope/1");
    f.call("GET", "/nope/2");
    Response m = f.call("GET", "/metrics");
    CHECK(m.body.find("# TYPE cairn_http_route_requests_total counter\n") != std::string::npos);
    CHECK(m.body.find(
              "cairn_http_route_requests_total{route=\"/v1/services\",method=\"PUT\",code=\"200\"} "
              "1\n") != std::string::npos);
    CHECK(m.body.find("cairn_http_route_requests_total{route=\"/v1/services/:key\",method=\"GET\","
                      "code=\"200\"} 1\n") != std::string::npos);
    CHECK(m.body.find("cairn_http_route_requests_total{route=\"/v1/services/:key\",method=\"GET\","
                      "code=\"404\"} 1\n") != std::string::npos);
    CHECK(m.body.find(
              "cairn_http_route_requests_total{route=\"other\",method=\"GET\",code=\"404\"} 2\n") !=
          std::string::npos);
    CHECK(m.body.find("/nope") == std::string::npos); // never the raw path
}
