#pragma once
// Bytes in, requests out: http-parser wrapped with cairn's limits, and no
// sockets, so it is unit-tested and fuzzed on its own. One parser per
// connection; feed() may be called with any split of the stream (pipelined
// requests come out in order).

#include <cstddef>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace cairn::http {

struct ParserLimits {
    std::size_t max_header_bytes =
        16 << 10; // request line + headers; over it: 431 (414 for the URL alone)
    std::size_t max_body_bytes = 1 << 20; // over it: 413, decided before the body is buffered
};

// A broken stream: answer `status` (400, 413, 414, 431, 505) and close.
struct ParseError {
    int status = 400;
    std::string message;
};

class RequestParser {
public:
    explicit RequestParser(ParserLimits limits = {});
    ~RequestParser();
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    // Parses `data`, appending each completed request to `out`. Requests
    // completed before an error are still appended. After an error, or after
    // a request that ends the connection (Connection: close, HTTP/1.0, an
    // Upgrade), further bytes are ignored.
    std::expected<void, ParseError> feed(std::string_view data, std::vector<Request>& out);
    // Like feed(), but stops after the first request it completes: returns
    // how many bytes it used (all of them unless it stopped there). The
    // server answers each request before it parses the next.
    std::expected<std::size_t, ParseError> parse_some(std::string_view data,
                                                      std::vector<Request>& out);

    // Bytes held for the request being received (target, headers, body), for
    // the server's memory budget.
    [[nodiscard]] std::size_t buffered_bytes() const;
    // The request being received: its method, target and headers once they
    // are complete (when take_expect_continue() says so).
    [[nodiscard]] const Request& current() const;

    // True while part of a request has been read but not all of it.
    [[nodiscard]] bool mid_request() const;
    // True when the stream is finished (error or last request seen).
    [[nodiscard]] bool done() const;
    // True once per request whose accepted headers carry Expect: 100-continue
    // and whose body has not arrived yet: the server then sends 100 Continue.
    bool take_expect_continue();

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace cairn::http
