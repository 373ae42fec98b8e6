#include "http/request_parser.hpp"

#include <algorithm>
#include <optional>

#include <http_parser.h>

namespace cairn::http {

namespace {

// http-parser calls back through C function pointers; the parser's `data`
// points at the State, and each callback returns -1 to stop on an error.
enum class Last { none, field, value };

std::string lower(std::string_view s) {
    std::string out(s);
    std::ranges::transform(out, out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    });
    return out;
}

} // namespace

struct RequestParser::State {
    ParserLimits limits;
    http_parser parser{};
    Request current;
    std::string field;
    std::string value;
    Last last = Last::none;
    std::size_t header_bytes = 0;
    bool mid = false;
    bool done = false;
    bool expect_continue = false;
    // After a chunk's data: how many bytes of its CRLF are still to be
    // checked (http-parser does not check them unless built strict).
    int crlf_due = 0;
    std::optional<ParseError> error;
    std::vector<Request>* out = nullptr;
    const char* input_end = nullptr; // end of the bytes being parsed

    static State& of(http_parser* p) { return *static_cast<State*>(p->data); }

    int stop(int status, std::string message) {
        error = ParseError{status, std::move(message)};
        return -1;
    }

    // Counts request-line and header bytes against the limit.
    int count_header(std::size_t n) {
        header_bytes += n;
        if (header_bytes > limits.max_header_bytes)
            return stop(431, "request headers are larger than " +
                                 std::to_string(limits.max_header_bytes) + " bytes");
        return 0;
    }

    // RFC 9112 5.1: no whitespace between a field name and its colon.
    int flush_header() {
        if (field.find_first_of(" \t") != std::string::npos)
            return stop(400, "whitespace between a header field name and its colon");
        if (last == Last::value || last == Last::field)
            current.headers.emplace_back(lower(field), std::move(value));
        field.clear();
        value.clear();
        last = Last::none;
        return 0;
    }

    // RFC 9112 7.1: chunk data ends with CRLF; checks the bytes of it found
    // in [at, input_end) and remembers how many are still to come.
    int check_crlf(const char* at) {
        while (crlf_due > 0 && at < input_end) {
            char want = crlf_due == 2 ? '\r' : '\n';
            if (*at++ != want) return stop(400, "chunk data not followed by CRLF");
            --crlf_due;
        }
        return 0;
    }

    static int on_message_begin(http_parser* p) {
        State& s = of(p);
        s.current = Request{};
        s.field.clear();
        s.value.clear();
        s.last = Last::none;
        s.header_bytes = 0;
        s.mid = true;
        return 0;
    }

    static int on_url(http_parser* p, const char* at, std::size_t n) {
        State& s = of(p);
        s.current.target.append(at, n);
        if (s.current.target.size() > s.limits.max_header_bytes)
            return s.stop(414, "request target is longer than " +
                                   std::to_string(s.limits.max_header_bytes) + " bytes");
        return s.count_header(n);
    }

    static int on_header_field(http_parser* p, const char* at, std::size_t n) {
        State& s = of(p);
        if (s.last == Last::value && s.flush_header() != 0) return -1;
        if (s.last != Last::field && s.count_header(4) != 0) // ": " and CRLF
            return -1;
        s.field.append(at, n);
        s.last = Last::field;
        return s.count_header(n);
    }

    static int on_header_value(http_parser* p, const char* at, std::size_t n) {
        State& s = of(p);
        s.value.append(at, n);
        s.last = Last::value;
        return s.count_header(n);
    }

    static int on_headers_complete(http_parser* p) {
        State& s = of(p);
        if (s.flush_header() != 0) return -1;
        if (p->http_major != 1) return s.stop(505, "only HTTP/1.x is supported");
        // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host.
        auto hosts = std::ranges::count_if(s.current.headers,
                                           [](const auto& h) { return h.first == "host"; });
        if (p->http_minor >= 1 && hosts != 1)
            return s.stop(400, hosts == 0 ? "HTTP/1.1 request without Host"
                                          : "more than one Host header");
        if (hosts > 1) return s.stop(400, "more than one Host header");
        s.current.http_1_1 = p->http_minor >= 1;
        if ((p->flags & F_CONTENTLENGTH) && p->content_length > s.limits.max_body_bytes)
            return s.stop(413, "request body is larger than " +
                                   std::to_string(s.limits.max_body_bytes) + " bytes");
        if (int rc = s.split_target(p); rc != 0) return rc;
        s.current.method = http_method_str(static_cast<http_method>(p->method));
        const std::string* expect = s.current.header("expect");
        bool has_body =
            (p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
        s.expect_continue =
            expect && lower(*expect) == "100-continue" && has_body && p->http_minor >= 1;
        return 0;
    }

    int split_target(http_parser* p) {
        http_parser_url url;
        http_parser_url_init(&url);
        const std::string& t = current.target;
        if (t.empty() ||
            http_parser_parse_url(t.data(), t.size(), p->method == HTTP_CONNECT, &url) != 0)
            return stop(400, "malformed request target");
        if (!(url.field_set & (1 << UF_PATH))) return stop(400, "request target has no path");
        std::string_view raw_path(t.data() + url.field_data[UF_PATH].off,
                                  url.field_data[UF_PATH].len);
        auto path = percent_decode(raw_path, false);
        if (!path) return stop(400, "malformed percent-escape in the path");
        current.path = std::move(*path);
        if (url.field_set & (1 << UF_QUERY))
            current.query.assign(t.data() + url.field_data[UF_QUERY].off,
                                 url.field_data[UF_QUERY].len);
        return 0;
    }

    static int on_body(http_parser* p, const char* at, std::size_t n) {
        State& s = of(p);
        // Chunked bodies have no length up front: stop as soon as they pass it.
        if (s.current.body.size() + n > s.limits.max_body_bytes)
            return s.stop(413, "request body is larger than " +
                                   std::to_string(s.limits.max_body_bytes) + " bytes");
        s.current.body.append(at, n);
        if ((p->flags & F_CHUNKED) && p->content_length == 0) {
            // This chunk's data is complete; the next bytes must be CRLF.
            s.crlf_due = 2;
            return s.check_crlf(at + n);
        }
        return 0;
    }

    static int on_message_complete(http_parser* p) {
        State& s = of(p);
        s.current.keep_alive = http_should_keep_alive(p) != 0;
        s.mid = false;
        s.expect_continue = false;
        bool last_one = !s.current.keep_alive;
        s.out->push_back(std::move(s.current));
        s.current = Request{};
        if (last_one) s.done = true;
        // One request per parse_some(): the caller answers it before the
        // next is parsed (and may stop parsing while its answers queue up).
        http_parser_pause(p, 1);
        return 0;
    }

    static const http_parser_settings& settings() {
        static const http_parser_settings s = [] {
            http_parser_settings x;
            http_parser_settings_init(&x);
            x.on_message_begin = on_message_begin;
            x.on_url = on_url;
            x.on_header_field = on_header_field;
            x.on_header_value = on_header_value;
            x.on_headers_complete = on_headers_complete;
            x.on_body = on_body;
            x.on_message_complete = on_message_complete;
            return x;
        }();
        return s;
    }
};

RequestParser::RequestParser(ParserLimits limits)
    : state_(std::make_unique<State>()) {
    state_->limits = limits;
    http_parser_init(&state_->parser, HTTP_REQUEST);
    state_->parser.data = state_.get();
}

RequestParser::~RequestParser() = default;

std::expected<std::size_t, ParseError> RequestParser::parse_some(std::string_view data,
                                                                 std::vector<Request>& out) {
    State& s = *state_;
    if (s.error) return std::unexpected(*s.error);
    if (s.done || data.empty()) return data.size();
    s.input_end = data.data() + data.size();
    if (s.crlf_due > 0 && s.check_crlf(data.data()) != 0) {
        s.done = true;
        return std::unexpected(*s.error);
    }
    s.out = &out;
    http_parser_pause(&s.parser, 0);
    std::size_t used = http_parser_execute(&s.parser, &State::settings(), data.data(), data.size());
    s.out = nullptr;
    auto err = static_cast<http_errno>(s.parser.http_errno);
    if (s.done) return data.size(); // paused after the last request: the rest is ignored
    if (s.error) {
        s.done = true;
        return std::unexpected(*s.error);
    }
    if (err == HPE_PAUSED) return used;
    if (err != HPE_OK) {
        int status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
        s.error =
            ParseError{status, std::string("malformed request: ") + http_errno_description(err)};
        s.done = true;
        return std::unexpected(*s.error);
    }
    if (s.parser.upgrade) {
        // Protocol switches are not offered; what follows is not HTTP/1.1.
        s.done = true;
        if (!out.empty()) out.back().keep_alive = false;
        return data.size();
    }
    return used;
}

std::expected<void, ParseError> RequestParser::feed(std::string_view data,
                                                    std::vector<Request>& out) {
    // Bounded: each round consumes at least one byte or ends the stream.
    while (true) {
        auto used = parse_some(data, out);
        if (!used) return std::unexpected(used.error());
        if (*used == 0 || *used >= data.size() || state_->done) return {};
        data.remove_prefix(*used);
    }
}

std::size_t RequestParser::buffered_bytes() const {
    const Request& r = state_->current;
    return r.target.size() + r.body.size() + state_->field.size() + state_->value.size() +
           r.headers.size() * 32;
}

const Request& RequestParser::current() const {
    return state_->current;
}

bool RequestParser::mid_request() const {
    return state_->mid;
}

bool RequestParser::done() const {
    return state_->done;
}

bool RequestParser::take_expect_continue() {
    bool e = state_->expect_continue;
    state_->expect_continue = false;
    return e;
}

} // namespace cairn::http
