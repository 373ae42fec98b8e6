// Fuzzes the HTTP request parser: any bytes, split anywhere, must give
// requests or a ParseError with a 4xx/5xx status, never a crash or a hang.
// The first byte picks where the stream is split, so the fuzzer also
// explores partial reads.

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "http/request_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    cairn::http::ParserLimits limits;
    limits.max_header_bytes = 4096;
    limits.max_body_bytes = 8192;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::size_t cut = bytes.empty() ? 0 : data[0] % (bytes.size() + 1);

    cairn::http::RequestParser parser(limits);
    std::vector<cairn::http::Request> out;
    auto first = parser.feed(bytes.substr(0, cut), out);
    auto second = parser.feed(bytes.substr(cut), out);
    for (const auto* r : {&first, &second})
        if (!*r &&
            (r->error().status < 400 || r->error().status > 599 || r->error().message.empty()))
            std::abort();
    for (const auto& request : out) {
        if (request.body.size() > limits.max_body_bytes) std::abort();
        (void)request.query_param("passing");
        (void)request.header("host");
    }
    return 0;
}
