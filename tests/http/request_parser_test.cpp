#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/request_parser.hpp"

using namespace cairn::http;

namespace {

struct Fed {
    std::vector<Request> requests;
    std::optional<ParseError> error;
};

Fed feed_all(std::string_view bytes, ParserLimits limits = {}) {
    RequestParser p(limits);
    Fed f;
    if (auto r = p.feed(bytes, f.requests); !r) f.error = r.error();
    return f;
}

} // namespace

TEST_CASE("a simple GET: method, target, path, query, lower-case header names") {
    auto f =
        feed_all("GET /v1/services/web?passing&tag=v2 HTTP/1.1\r\nHost: x\r\nX-Thing: A b\r\n\r\n");
    REQUIRE_FALSE(f.error);
    REQUIRE(f.requests.size() == 1);
    const Request& r = f.requests[0];
    CHECK(r.method == "GET");
    CHECK(r.target == "/v1/services/web?passing&tag=v2");
    CHECK(r.path == "/v1/services/web");
    CHECK(r.query == "passing&tag=v2");
    REQUIRE(r.header("x-thing"));
    CHECK(*r.header("x-thing") == "A b");
    CHECK(r.header("missing") == nullptr);
    CHECK(r.query_param("passing") == std::string{});
    CHECK(r.query_param("tag") == "v2");
    CHECK_FALSE(r.query_param("nope"));
    CHECK(r.keep_alive);
}

TEST_CASE("any split of the stream gives the same request") {
    std::string req = "PUT /v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nLong-Header: "
                      "abcdefgh\r\n\r\n"
                      "{\"a\": true}";
    for (std::size_t cut = 0; cut <= req.size(); ++cut) {
        RequestParser p;
        std::vector<Request> out;
        REQUIRE(p.feed(std::string_view(req).substr(0, cut), out));
        if (cut > 0 && cut < req.size()) CHECK(p.mid_request());
        REQUIRE(p.feed(std::string_view(req).substr(cut), out));
        REQUIRE(out.size() == 1);
        CHECK(out[0].body == "{\"a\": true}");
        CHECK(*out[0].header("long-header") == "abcdefgh");
        CHECK_FALSE(p.mid_request());
    }
}

TEST_CASE("pipelined requests come out in order") {
    auto f = feed_all("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPUT /b HTTP/1.1\r\nHost: "
                      "x\r\nContent-Length: 2\r\n\r\nhiDELETE /c HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE_FALSE(f.error);
    REQUIRE(f.requests.size() == 3);
    CHECK(f.requests[0].path == "/a");
    CHECK(f.requests[1].method == "PUT");
    CHECK(f.requests[1].body == "hi");
    CHECK(f.requests[2].method == "DELETE");
}

TEST_CASE("chunked bodies are reassembled") {
    auto f = feed_all("PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                      "chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    REQUIRE_FALSE(f.error);
    REQUIRE(f.requests.size() == 1);
    CHECK(f.requests[0].body == "hello world");
}

TEST_CASE("headers over the limit: 431") {
    std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17000, 'a') + "\r\n\r\n";
    auto f = feed_all(big);
    REQUIRE(f.error);
    CHECK(f.error->status == 431);
    // Many small headers count too.
    std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 2000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    f = feed_all(many + "\r\n");
    REQUIRE(f.error);
    CHECK(f.error->status == 431);
}

TEST_CASE("a request target over the limit: 414") {
    auto f = feed_all("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(f.error);
    CHECK(f.error->status == 414);
}

TEST_CASE("a Content-Length over the body limit: 413 before any body byte") {
    RequestParser p;
    std::vector<Request> out;
    auto r = p.feed("PUT /v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n", out);
    REQUIRE_FALSE(r);
    CHECK(r.error().status == 413);
    CHECK(out.empty());
    // The stream is finished: later bytes give the same error and nothing else.
    auto again = p.feed("xxxx", out);
    REQUIRE_FALSE(again);
    CHECK(again.error().status == 413);
    CHECK(p.done());
}

TEST_CASE("a chunked body that grows over the limit: 413") {
    ParserLimits limits;
    limits.max_body_bytes = 10;
    auto f = feed_all("PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                      "chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
                      limits);
    REQUIRE(f.error);
    CHECK(f.error->status == 413);
}

TEST_CASE("malformed requests: 400") {
    for (std::string_view bad :
         {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",
          "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
          "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", "GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
          "GET  HTTP/1.1\r\nHost: x\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}) {
        CAPTURE(bad);
        auto f = feed_all(bad);
        REQUIRE(f.error);
        CHECK(f.error->status == 400);
        CHECK_FALSE(f.error->message.empty());
    }
}

TEST_CASE("HTTP/2 framing is refused with 505 or 400") {
    auto f = feed_all("GET / HTTP/2.0\r\n\r\n");
    REQUIRE(f.error);
    CHECK((f.error->status == 505 || f.error->status == 400));
}

TEST_CASE("Connection: close and HTTP/1.0 end the stream; later bytes are ignored") {
    auto f = feed_all("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b "
                      "HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE_FALSE(f.error);
    REQUIRE(f.requests.size() == 1);
    CHECK_FALSE(f.requests[0].keep_alive);

    f = feed_all("GET /a HTTP/1.0\r\n\r\n");
    REQUIRE(f.requests.size() == 1);
    CHECK_FALSE(f.requests[0].keep_alive);

    f = feed_all("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    REQUIRE(f.requests.size() == 1);
    CHECK(f.requests[0].keep_alive);
}

TEST_CASE("Expect: 100-continue is reported once, only for a body still to come") {
    RequestParser p;
    std::vector<Request> out;
    REQUIRE(p.feed(
        "PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", out));
    CHECK(p.take_expect_continue());
    CHECK_FALSE(p.take_expect_continue());
    REQUIRE(p.feed("abc", out));
    REQUIRE(out.size() == 1);

    RequestParser q;
    REQUIRE(q.feed("GET /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", out));
    CHECK_FALSE(q.take_expect_continue());
}

TEST_CASE("percent-decoding") {
    CHECK(percent_decode("a%2Fb+c", false) == "a/b+c");
    CHECK(percent_decode("a%2fb+c", true) == "a/b c");
    CHECK_FALSE(percent_decode("%", false));
    CHECK_FALSE(percent_decode("%4", false));
    CHECK_FALSE(percent_decode("%g0", false));
    CHECK_FALSE(percent_decode("%00", false));
    auto f = feed_all("GET /v1/services/my%20svc?reason=disk+full%21 HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(f.requests.size() == 1);
    CHECK(f.requests[0].path == "/v1/services/my svc");
    CHECK(f.requests[0].query_param("reason") == "disk full!");
}

TEST_CASE("responses serialize with length and connection headers") {
    Response r = Response::error(405, "nope");
    r.headers.emplace_back("Allow", "GET");
    std::string wire = serialize(r, false);
    CHECK(wire.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    CHECK(wire.find("Allow: GET\r\n") != std::string::npos);
    CHECK(wire.find("Connection: close\r\n") != std::string::npos);
    CHECK(wire.find("Content-Length: " + std::to_string(r.body.size()) + "\r\n") !=
          std::string::npos);
    CHECK(wire.ends_with("\r\n\r\n" + r.body));
    CHECK(serialize(r, true).find("Connection: close") == std::string::npos);
}

TEST_CASE("RFC 9112: HTTP/1.1 needs one Host, no space before a colon, CRLF after chunk data") {
    struct Case {
        std::string_view bytes;
        std::string_view message;
    };
    for (auto [bad, message] : {
             Case{"GET / HTTP/1.1\r\n\r\n", "without Host"},
             Case{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"},
             Case{"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"},
             Case{"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "whitespace"},
             Case{"GET / HTTP/1.1\r\nHost: x\r\nX-A\t: y\r\n\r\n", "character"},
             Case{"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
                  "CRLF"},
             Case{"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n",
                  "CRLF"},
         }) {
        CAPTURE(bad);
        // Split anywhere, the verdict is the same.
        for (std::size_t cut = 0; cut <= bad.size(); ++cut) {
            CAPTURE(cut);
            RequestParser p;
            std::vector<Request> out;
            auto first = p.feed(bad.substr(0, cut), out);
            auto second = first ? p.feed(bad.substr(cut), out) : first;
            REQUIRE_FALSE(second);
            CHECK(second.error().status == 400);
            CHECK(second.error().message.find(message) != std::string::npos);
            CHECK(out.empty());
        }
    }
    // HTTP/1.0 may leave Host out; a well-formed chunked body passes at any split.
    CHECK(feed_all("GET / HTTP/1.0\r\n\r\n").requests.size() == 1);
    std::string_view good = "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                            "chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
    for (std::size_t cut = 0; cut <= good.size(); ++cut) {
        RequestParser p;
        std::vector<Request> out;
        REQUIRE(p.feed(good.substr(0, cut), out));
        REQUIRE(p.feed(good.substr(cut), out));
        REQUIRE(out.size() == 1);
        CHECK(out[0].body == "helloabc");
    }
}

TEST_CASE("parse_some stops after each request, so the caller answers one at a time") {
    RequestParser p;
    std::vector<Request> out;
    std::string_view two =
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c";
    auto used = p.parse_some(two, out);
    REQUIRE(used);
    CHECK(*used == 28);
    REQUIRE(out.size() == 1);
    CHECK(out[0].path == "/a");
    two.remove_prefix(*used);
    used = p.parse_some(two, out);
    REQUIRE(out.size() == 2);
    CHECK(out[1].path == "/b");
    two.remove_prefix(*used);
    used = p.parse_some(two, out);
    CHECK(*used == two.size());
    CHECK(out.size() == 2);
    CHECK(p.mid_request());
    CHECK(p.buffered_bytes() > 0);
}
