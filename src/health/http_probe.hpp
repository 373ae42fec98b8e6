#pragma once
// HTTP(S) check through libcurl on the main loop (see curl_multi.hpp).
// `method` to `target` with the given headers; TLS peers verified unless
// tls_skip_verify; redirects are not followed (a 3xx is critical, as in
// Consul); every probe opens a fresh connection, so a server that stopped
// accepting does not look healthy over an old keep-alive one. The whole
// request is bounded by timeout_ms. 2xx is passing, 429 warning, anything
// else, a transport error or the timeout critical. Up to 4 KiB of the body
// is kept as the output (a JSON body's "load" is the reported load); a longer body is cut off there
// and not read further.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "health/curl_multi.hpp"
#include "health/probe.hpp"
#include "registry/types.hpp"

namespace cairn::health {

// What one HTTP check sends, prepared once per check rather than on every
// probe (the header list is a handful of allocations).
struct HttpRequest {
    explicit HttpRequest(const registry::CheckDefinition& definition);

    struct SlistFree {
        void operator()(curl_slist* list) const { curl_slist_free_all(list); }
    };
    struct UrlFree {
        void operator()(CURLU* handle) const { curl_url_cleanup(handle); }
    };

    std::string method;
    std::string url;
    // `url` parsed once (null if curl's parser refuses it: the probe then
    // hands curl the string and reports curl's own complaint). Parsing and
    // normalising a URL is about a tenth of what curl does per probe.
    std::unique_ptr<CURLU, UrlFree> parsed_url;
    std::unique_ptr<curl_slist, SlistFree> headers;
    std::uint32_t timeout_ms;
    bool tls_skip_verify;
};

// The load in a JSON body such as {"load": 12} (a whole number from 0 to
// registry::max_load under the top-level key "load"); none for any other
// body. A `load=N` word in a plain body is found by the check machine.
[[nodiscard]] std::optional<std::uint32_t> load_in_json_body(std::string_view body);

// Main loop only. `request` must outlive the probe.
[[nodiscard]] ProbePtr start_http_probe(CurlMulti& multi, Loop& loop, const HttpRequest& request,
                                        ProbeDone done);

} // namespace cairn::health
