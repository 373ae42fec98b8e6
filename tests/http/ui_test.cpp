// The status page's routes and GET /v1/dns/lookup through the Api, without
// sockets: the files built into the binary, the token, the lookup hook.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ip_address.hpp"
#include "http/api.hpp"

using namespace cairn;
using namespace cairn::http;

namespace {

struct Page {
    registry::Registry reg{"node-a"};
    Api api;

    explicit Page(std::string token = "", ApiHooks hooks = {})
        : api(reg, options(std::move(token)), std::move(hooks)) {}

    static ApiOptions options(std::string token) {
        ApiOptions o;
        o.node_name = "node-a";
        o.address = *parse_ip_address("10.1.2.3");
        o.token = std::move(token);
        return o;
    }

    Response get(std::string target, std::vector<std::pair<std::string, std::string>> headers = {},
                 std::string method = "GET") {
        Request r;
        r.method = std::move(method);
        r.target = target;
        auto q = target.find('?');
        r.path = target.substr(0, q);
        if (q != std::string::npos) r.query = target.substr(q + 1);
        r.headers = std::move(headers);
        return api.handle(r);
    }
};

const std::string* header(const Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return &v;
    return nullptr;
}

} // namespace

TEST_CASE("the status page: /ui redirects, /ui/ is the page, its files have their types") {
    Page p;
    Response moved = p.get("/ui");
    CHECK(moved.status == 303);
    REQUIRE(header(moved, "Location"));
    CHECK(*header(moved, "Location") == "/ui/");

    Response page = p.get("/ui/");
    CHECK(page.status == 200);
    CHECK(page.content_type == "text/html; charset=utf-8");
    CHECK(page.body.starts_with("<!DOCTYPE html>"));
    CHECK(page.body.find("ui.js") != std::string::npos);
    CHECK(p.get("/ui/index.html").body == page.body);

    Response js = p.get("/ui/ui.js");
    CHECK(js.status == 200);
    CHECK(js.content_type == "text/javascript; charset=utf-8");
    CHECK(js.body.find("/v1/services") != std::string::npos);
    CHECK(p.get("/ui/ui.css").content_type == "text/css; charset=utf-8");

    CHECK(p.get("/ui/missing.js").status == 404);
    CHECK(p.get("/ui/../v1/agent").status == 404);
    CHECK(p.get("/ui/", {}, "POST").status == 405);
}

TEST_CASE("with a token the page needs it: bearer header, or ?token= that sets a cookie") {
    Page p("a;b c");
    CHECK(p.get("/ui/").status == 401);
    CHECK(p.get("/ui/ui.js").status == 401);
    CHECK(p.get("/ui/?token=wrong").status == 401);
    CHECK(p.get("/ui/", {{"authorization", "Bearer a;b c"}}).status == 200);

    Response login = p.get("/ui/?token=a%3Bb%20c");
    CHECK(login.status == 303);
    REQUIRE(header(login, "Set-Cookie"));
    std::string cookie = *header(login, "Set-Cookie");
    // The value percent-encoded: ';' and ' ' cannot stand in a cookie.
    CHECK(cookie.starts_with("cairn_token=a%3Bb%20c;"));
    CHECK(cookie.find("HttpOnly") != std::string::npos);
    CHECK(cookie.find("SameSite=Strict") != std::string::npos);

    CHECK(p.get("/ui/", {{"cookie", "x=1; cairn_token=a%3Bb%20c"}}).status == 200);
    CHECK(p.get("/ui/", {{"cookie", "cairn_token=a"}}).status == 401);
    CHECK(p.get("/ui/", {{"cookie", "cairn_tokens=a%3Bb%20c"}}).status == 401);
}

TEST_CASE("GET /v1/dns/lookup: the hook's answer, 400 for what it refuses, 409 without it") {
    CHECK(Page().get("/v1/dns/lookup?name=web.service.cairn").status == 409);

    ApiHooks hooks;
    std::vector<std::pair<std::string, std::string>> asked;
    hooks.dns_lookup = [&asked](std::string_view name,
                                std::string_view type) -> Result<nlohmann::json> {
        asked.emplace_back(name, type);
        if (type == "BOGUS") return fail("type: \"BOGUS\" is not a DNS record type");
        return nlohmann::json{{"rcode", "NOERROR"}};
    };
    Page p("", std::move(hooks));
    Response ok = p.get("/v1/dns/lookup?name=web.service.cairn&type=SRV");
    CHECK(ok.status == 200);
    CHECK(nlohmann::json::parse(ok.body)["rcode"] == "NOERROR");
    CHECK(p.get("/v1/dns/lookup?name=web.service.cairn").status == 200); // type A by default
    Response bad = p.get("/v1/dns/lookup?name=x&type=BOGUS");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("BOGUS") != std::string::npos);
    CHECK(p.get("/v1/dns/lookup").status == 400);
    CHECK(p.get("/v1/dns/lookup?name=x", {}, "DELETE").status == 405);
    REQUIRE(asked.size() == 3);
    CHECK(asked[0] == std::pair<std::string, std::string>{"web.service.cairn", "SRV"});
    CHECK(asked[1].second == "A");
}
