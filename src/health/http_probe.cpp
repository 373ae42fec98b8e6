#include "health/http_probe.hpp"

#include <algorithm>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <strings.h>

#include "registry/load.hpp"

namespace cairn::health {

std::optional<std::uint32_t> load_in_json_body(std::string_view body) {
    std::size_t first = body.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || body[first] != '{') return std::nullopt;
    auto json = nlohmann::json::parse(body, nullptr, false); // no exceptions; discarded if bad
    if (!json.is_object()) return std::nullopt;
    auto it = json.find("load");
    if (it == json.end() || !it->is_number_integer()) return std::nullopt;
    auto value = it->is_number_unsigned()
                     ? static_cast<std::int64_t>(std::min<std::uint64_t>(
                           it->get<std::uint64_t>(), std::uint64_t{registry::max_load} + 1))
                     : it->get<std::int64_t>();
    auto load = registry::load_value(value);
    return load ? std::optional<std::uint32_t>(*load) : std::nullopt;
}

namespace {

using registry::Health;

// Gives the easy handle back to the multi's pool (which outlives every probe).
struct CurlEasyRelease {
    CurlMulti* multi;
    void operator()(CURL* easy) const { multi->release(easy); }
};

// curl's transfer is stopped synchronously (CurlMulti::remove), so unlike the
// libuv probes this op is deleted as soon as it finishes or is cancelled. The
// one timer is for reporting a failure that happened before the start.
struct HttpOp {
    OpProbe<HttpOp>* owner = nullptr;
    const HttpRequest* request = nullptr;
    std::unique_ptr<CURL, CurlEasyRelease> easy{nullptr, CurlEasyRelease{nullptr}};
    std::unique_ptr<Timer> early_timer;
    ProbeDone done;
    std::string body;
    bool truncated = false;
    char error[CURL_ERROR_SIZE] = {};

    void cancel() {
        delete this; // releasing the easy handle removes an unfinished transfer
    }

    void finish(ProbeResult result) {
        ProbeDone cb = std::move(done);
        if (owner != nullptr) owner->detach();
        delete this;
        cb(std::move(result));
    }

    void report_early(std::string message) {
        early_timer->start(std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                           [this, message = std::move(message)] {
                               finish({Health::critical, message, std::nullopt});
                           });
    }

    ProbeResult interpret(CURLcode code) {
        const std::string& method = request->method;
        const std::string& url = request->url;
        if (code == CURLE_OPERATION_TIMEDOUT)
            return {
                Health::critical,
                fmt::format("HTTP {} {}: timed out after {} ms", method, url, request->timeout_ms),
                std::nullopt};
        if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && truncated))
            return {Health::critical,
                    fmt::format("HTTP {} {}: {}", method, url,
                                error[0] != 0 ? error : curl_easy_strerror(code)),
                    std::nullopt};
        long status = 0;
        curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
        curl_off_t total_us = 0;
        curl_easy_getinfo(easy.get(), CURLINFO_TOTAL_TIME_T, &total_us);
        Health health = status >= 200 && status < 300 ? Health::passing
                        : status == 429               ? Health::warning
                                                      : Health::critical;
        std::optional<std::uint32_t> load = load_in_json_body(body);
        std::string output = fmt::format("HTTP {} {}: {}", method, url, status);
        if (!body.empty()) {
            output += '\n';
            output += body;
        }
        truncate_output(output);
        return {health, std::move(output),
                static_cast<std::uint32_t>(std::max<curl_off_t>(total_us, 0)), load};
    }
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* userp) noexcept {
    auto* op = static_cast<HttpOp*>(userp);
    std::size_t n = size * count;
    std::size_t room = max_output_bytes - std::min(op->body.size(), max_output_bytes);
    if (n > room) {
        op->body.append(data, room);
        op->truncated = true;
        return 0; // enough: stop reading (curl ends with CURLE_WRITE_ERROR)
    }
    op->body.append(data, n);
    return n;
}

bool configure(HttpOp& op) {
    const HttpRequest& r = *op.request;
    CURL* e = op.easy.get();
    bool ok = r.parsed_url ? curl_easy_setopt(e, CURLOPT_CURLU, r.parsed_url.get()) == CURLE_OK
                           : curl_easy_setopt(e, CURLOPT_URL, r.url.c_str()) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    curl_easy_setopt(e, CURLOPT_PRIVATE, &op);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op.error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout_ms));
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    // Checks go straight to the instance, never through the agent's
    // http_proxy/https_proxy environment (as Kubernetes' probes do).
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    // A request without a body goes out in one write: Nagle cannot delay it,
    // and the setsockopt per probe is saved.
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r.tls_skip_verify ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r.tls_skip_verify ? 0L : 2L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &op);
    // The handle may come from a probe with another method (see
    // CurlMulti::acquire), so both are always set.
    bool head = r.method == "HEAD";
    curl_easy_setopt(e, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     head || r.method == "GET" ? nullptr : r.method.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r.headers.get());
    return ok;
}

} // namespace

HttpRequest::HttpRequest(const registry::CheckDefinition& d)
    : method(d.method.empty() ? std::string("GET") : d.method)
    , url(d.target)
    , timeout_ms(d.timeout_ms)
    , tls_skip_verify(d.tls_skip_verify) {
    // The flags curl itself parses CURLOPT_URL with.
    parsed_url.reset(curl_url());
    if (parsed_url && curl_url_set(parsed_url.get(), CURLUPART_URL, url.c_str(),
                                   CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        parsed_url.reset();
    bool has_user_agent = false, has_connection = false;
    curl_slist* list = nullptr;
    for (const auto& [name, value] : d.headers) {
        has_user_agent = has_user_agent || strcasecmp(name.c_str(), "user-agent") == 0;
        has_connection = has_connection || strcasecmp(name.c_str(), "connection") == 0;
        list = curl_slist_append(list, fmt::format("{}: {}", name, value).c_str());
    }
    if (!has_user_agent)
        list = curl_slist_append(list, "User-Agent: cairn-health-check/" CAIRN_VERSION);
    // The server closes first, so the TIME_WAIT state is on its side: an
    // agent probing 1,000 times a second would otherwise hold some 60,000
    // sockets in TIME_WAIT and could run out of local ports towards one
    // address (as Consul's checks do, with Go's DisableKeepAlives).
    if (!has_connection) list = curl_slist_append(list, "Connection: close");
    list = curl_slist_append(list, "Accept: text/plain, text/*, */*");
    headers.reset(list);
}

ProbePtr start_http_probe(CurlMulti& multi, Loop& loop, const HttpRequest& request,
                          ProbeDone done) {
    auto* op = new HttpOp;
    op->request = &request;
    op->done = std::move(done);
    op->easy = std::unique_ptr<CURL, CurlEasyRelease>(multi.acquire(), CurlEasyRelease{&multi});
    auto probe = std::make_unique<OpProbe<HttpOp>>(op);

    std::string problem;
    if (!op->easy)
        problem = "curl_easy_init failed";
    else if (!configure(*op))
        problem = fmt::format("HTTP {}: not an http(s) URL curl accepts: {}", request.url,
                              op->error[0] != 0 ? op->error : "bad URL");
    else if (!multi.add(op->easy.get(),
                        [op](CURL*, CURLcode code) { op->finish(op->interpret(code)); }))
        problem = fmt::format("HTTP {} {}: curl refused the transfer", request.method, request.url);
    if (!problem.empty()) {
        op->early_timer = std::make_unique<Timer>(loop);
        op->report_early(std::move(problem));
    }
    return probe;
}

} // namespace cairn::health
