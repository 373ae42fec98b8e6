#include "http/message.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/hex.hpp"

namespace cairn::http {

const std::string* Request::header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers)
        if (name == lower_name) return &value;
    return nullptr;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
    std::string_view rest = query;
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        if (!key || *key != name) continue;
        if (eq == std::string_view::npos) return std::string{};
        if (auto value = percent_decode(pair.substr(eq + 1), true)) return value;
        return std::nullopt;
    }
    return std::nullopt;
}

Response Response::error(int status, std::string_view message) {
    // Messages quote outside bytes escaped; replacing what is still not
    // UTF-8 keeps a missed one from turning the error into an exception.
    nlohmann::json j = {{"error", std::string(message)}};
    return json(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Response Response::json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

Response Response::text(int status, std::string body) {
    Response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
}

std::string_view status_text(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

std::string serialize(const Response& response, bool keep_alive) {
    std::string out = serialize_head(response, keep_alive);
    out += response.body;
    return out;
}

std::string serialize_head(const Response& response, bool keep_alive, bool chunked) {
    std::string out =
        fmt::format("HTTP/1.1 {} {}\r\n", response.status, status_text(response.status));
    if (!response.content_type.empty())
        out += fmt::format("Content-Type: {}\r\n", response.content_type);
    if (!response.body_stream)
        out += fmt::format("Content-Length: {}\r\n", response.body.size());
    else if (chunked)
        out += "Transfer-Encoding: chunked\r\n";
    for (const auto& [name, value] : response.headers)
        out += fmt::format("{}: {}\r\n", name, value);
    if (!keep_alive) out += "Connection: close\r\n";
    out += "\r\n";
    return out;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            int hi = hex_value(text[i + 1]);
            int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            char decoded = static_cast<char>(hi * 16 + lo);
            if (decoded == '\0') return std::nullopt;
            out.push_back(decoded);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

} // namespace cairn::http
