#pragma once
// The status page (docs/http-api.md, "GET /ui/"): static HTML, CSS and
// JavaScript built into the binary (src/http/ui/, embedded at build time by
// src/http/ui/embed.py), served read-only at /ui/. The page reads the JSON
// API from the browser; nothing here touches the registry.
//
// With [http] token set, the page is behind it as API writes are: a
// browser sends no Authorization header of its own, so `/ui/?token=T` with
// the right token answers with a cookie holding it (HttpOnly, SameSite=Strict,
// Path=/ui) and a redirect to /ui/, and later page loads carry the cookie.

#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace cairn::http {

// The token in the request's `cairn_token` cookie, if any.
[[nodiscard]] std::optional<std::string> ui_cookie_token(const Request& request);

// The answer to a request whose path is /ui or below it (is_ui_path):
// `authorized` says whether it may see the page (no token set, or the right
// one presented); `set_cookie` holds the token to keep in a cookie (it came
// as ?token= and was right), then the answer is a redirect to /ui/.
[[nodiscard]] bool is_ui_path(std::string_view path);
[[nodiscard]] Response ui_response(const Request& request, bool authorized,
                                   std::optional<std::string_view> set_cookie);

} // namespace cairn::http
