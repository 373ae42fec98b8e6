#include "http/ui.hpp"

#include <cctype>
#include <string>

#include "http/ui_files.hpp" // generated from src/http/ui/

namespace cairn::http {

namespace {

constexpr std::string_view cookie_name = "cairn_token";

Response redirect(std::string location) {
    Response r = Response::text(303, "see " + location + "\n");
    r.headers.emplace_back("Location", std::move(location));
    return r;
}

// Shown instead of the page without the right token: a form that sends it
// as ?token=.
Response login_page() {
    Response r = Response::text(401, R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cairn</title></head><body>
<p>This agent's status page needs its API token ([http] token).</p>
<form method="get" action="/ui/"><input type="password" name="token" autofocus>
<button type="submit">Open</button></form>
</body></html>
)");
    r.content_type = "text/html; charset=utf-8";
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"cairn\"");
    return r;
}

// Percent-encoded but for letters, digits, '-', '_' and '.': a cookie value
// holds no ';', ',', space or quote.
std::string cookie_value(std::string_view token) {
    std::string out;
    for (unsigned char c : token) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
            out += static_cast<char>(c);
        } else {
            constexpr char hex[] = "0123456789ABCDEF";
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

} // namespace

bool is_ui_path(std::string_view path) {
    return path == "/ui" || path.starts_with("/ui/");
}

std::optional<std::string> ui_cookie_token(const Request& request) {
    if (const std::string* cookies = request.header("cookie")) {
        // "a=1; cairn_token=...; b=2"
        std::string_view rest = *cookies;
        while (!rest.empty()) {
            std::size_t end = rest.find(';');
            std::string_view pair = rest.substr(0, end);
            rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
            while (pair.starts_with(' ')) pair.remove_prefix(1);
            if (pair.starts_with(cookie_name) && pair.size() > cookie_name.size() &&
                pair[cookie_name.size()] == '=')
                return percent_decode(pair.substr(cookie_name.size() + 1), false);
        }
    }
    return std::nullopt;
}

Response ui_response(const Request& request, bool authorized,
                     std::optional<std::string_view> set_cookie) {
    if (request.method != "GET") {
        Response r = Response::error(405, "the status page is read-only (use GET)");
        r.headers.emplace_back("Allow", "GET");
        return r;
    }
    if (request.path == "/ui") return redirect("/ui/");
    if (!authorized) return login_page();
    if (set_cookie) {
        Response r = redirect("/ui/");
        r.headers.emplace_back("Set-Cookie", std::string(cookie_name) + "=" +
                                                 cookie_value(*set_cookie) +
                                                 "; Path=/ui; HttpOnly; SameSite=Strict");
        return r;
    }
    std::string_view name = std::string_view(request.path).substr(4); // after "/ui/"
    if (name.empty()) name = "index.html";
    for (const ui_files::File& f : ui_files::files)
        if (f.name == name) {
            Response r = Response::text(200, std::string(f.body));
            r.content_type = std::string(f.content_type);
            r.headers.emplace_back("Cache-Control", "no-cache");
            return r;
        }
    return Response::error(404, "no such file of the status page");
}

} // namespace cairn::http
