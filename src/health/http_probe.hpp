#pragma once
// HTTP(S) check through libcurl on the main loop (see curl_multi.hpp).
// `method` to `target` with the given headers; TLS peers verified unless
// tls_skip_verify; redirects are not followed (a 3xx is critical, as in
// Consul); every probe opens a fresh connection, so a server that stopped
// accepting does not look healthy over an old keep-alive one. The whole
// request is bounded by timeout_ms. 2xx is passing, 429 warning, anything
// else, a transport error or the timeout critical. Up to 4 KiB of the body
// is kept as the output; a longer body is cut off there and not read further.

#include "health/curl_multi.hpp"
#include "health/probe.hpp"
#include "registry/types.hpp"

namespace cairn::health {

// Main loop only.
[[nodiscard]] ProbePtr start_http_probe(CurlMulti& multi, Loop& loop,
                                        const registry::CheckDefinition& definition, ProbeDone done);

} // namespace cairn::health
