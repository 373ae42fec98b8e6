#pragma once
// HTTP/1.1 requests and responses as plain values. Parsing lives in
// request_parser.hpp, sockets in server.hpp; this file has neither.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::http {

struct Request {
    std::string method;                                       // "GET", "PUT", ...
    std::string target;                                       // as sent: "/v1/services/web?passing"
    std::string path;                                         // percent-decoded, without the query
    std::string query;                                        // raw, without '?'
    std::vector<std::pair<std::string, std::string>> headers; // names lower case
    std::string body;
    bool keep_alive = true;
    bool http_1_1 = true; // false for HTTP/1.0 (no chunked responses)

    // The first header with this (lower-case) name.
    [[nodiscard]] const std::string* header(std::string_view lower_name) const;
    // The value of a query parameter, percent-decoded; "" for a bare `?passing`.
    [[nodiscard]] std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers; // extra headers
    std::string body;
    bool close = false; // send Connection: close and close after writing
    // A body too large to build at once (thousands of instances): each call
    // appends the next piece to `out` and returns false once it appended the
    // last. The server calls it as the connection drains, so neither memory
    // nor the main loop's time grows with the body, and sends the pieces
    // chunked (or, to an HTTP/1.0 client, until it closes). `body` is unused.
    std::function<bool(std::string& out)> body_stream;

    // {"error": message} with the given status.
    static Response error(int status, std::string_view message);
    static Response json(int status, std::string body);
    static Response text(int status, std::string body);
};

[[nodiscard]] std::string_view status_text(int status);

// The bytes on the wire. `keep_alive` false adds Connection: close.
[[nodiscard]] std::string serialize(const Response& response, bool keep_alive);
// The status line and headers alone (HEAD, and streamed bodies): with a
// body_stream, Transfer-Encoding: chunked when `chunked`, else no length.
[[nodiscard]] std::string serialize_head(const Response& response, bool keep_alive,
                                         bool chunked = true);

// %XX decoding; '+' stays '+' (paths) unless `plus_is_space` (query values).
// Returns nullopt for a malformed escape or a decoded NUL byte.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

} // namespace cairn::http
