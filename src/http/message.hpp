#pragma once
// HTTP/1.1 requests and responses as plain values. Parsing lives in
// request_parser.hpp, sockets in server.hpp; this file has neither.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::http {

struct Request {
    std::string method;                                      // "GET", "PUT", ...
    std::string target;                                      // as sent: "/v1/services/web?passing"
    std::string path;                                        // percent-decoded, without the query
    std::string query;                                       // raw, without '?'
    std::vector<std::pair<std::string, std::string>> headers; // names lower case
    std::string body;
    bool keep_alive = true;

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

    // {"error": message} with the given status.
    static Response error(int status, std::string_view message);
    static Response json(int status, std::string body);
    static Response text(int status, std::string body);
};

[[nodiscard]] std::string_view status_text(int status);

// The bytes on the wire. `keep_alive` false adds Connection: close.
[[nodiscard]] std::string serialize(const Response& response, bool keep_alive);

// %XX decoding; '+' stays '+' (paths) unless `plus_is_space` (query values).
// Returns nullopt for a malformed escape or a decoded NUL byte.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

} // namespace cairn::http
