#pragma once
// GET /v1/dns/lookup (docs/http-api.md): a name and type asked of this
// agent's own DNS answers, through a Responder of its own (the one the DNS
// workers use, made once more by the same factory), without a socket; the
// response as JSON for the status page and for people without dig.
//
// Main loop only (the Responder keeps scratch space).

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "dns/responder.hpp"

namespace cairn::agent {

class DnsLookup {
public:
    explicit DnsLookup(const dns::ResponderFactory& factory);
    ~DnsLookup();

    // {"name", "type", "rcode", "flags": ["aa", ...], "answer": [...],
    //  "authority": [...], "additional": [...]}, each record {"name", "ttl",
    // "type", "data"} in presentation form. Asked as over TCP (nothing is cut
    // to 512 bytes), from 127.0.0.1, without recursion desired. An error for
    // a name that is not a domain name or a type that is not known.
    Result<nlohmann::json> lookup(std::string_view name, std::string_view type);

private:
    std::unique_ptr<dns::Responder> responder_;
    std::vector<std::uint8_t> out_;
};

} // namespace cairn::agent
