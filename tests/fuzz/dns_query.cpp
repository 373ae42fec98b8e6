// libFuzzer harness: the input is a DNS query as it would arrive on a socket;
// it goes through parse + answer + write exactly as a DNS worker runs them
// (the Catalog's Responder), over UDP and over TCP, against a small fixed
// zone that has every lookup path (wildcards, CNAME chains and loops, empty
// non-terminals, delegations with glue, a large RRset) and the discovery
// domain. Besides crashes and sanitizer findings it checks what must hold
// for every response: within the size limit, the id echoed, QR set.

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "dns/zone/zone.hpp"
#include "dns_respond.hpp"

namespace {

const char* const zone_text = R"($ORIGIN fuzz.test.
$TTL 300
@        IN SOA ns1 hostmaster 1 7200 3600 1209600 60
@        IN NS  ns1
@        IN NS  ns2.elsewhere.example.
@        IN MX  10 mail
@        IN TXT "v=spf1 -all"
@        IN CAA 0 issue "ca.example"
ns1      IN A   192.0.2.53
ns1      IN AAAA 2001:db8::53
www      IN A   192.0.2.10
www      IN AAAA 2001:db8::10
mail     IN A   192.0.2.25
alias    IN CNAME www
chain1   IN CNAME chain2
chain2   IN CNAME chain3
chain3   IN CNAME www
loop1    IN CNAME loop2
loop2    IN CNAME loop1
self     IN CNAME self
out      IN CNAME www.example.org.
dangling IN CNAME missing
into-sub IN CNAME host.sub
_s._tcp  IN SRV 0 5 80 www
_s._tcp  IN SRV 1 5 80 mail
*.wild   IN A   192.0.2.100
*.wild   IN MX  10 mail
exists.wild IN TXT "x"
*.wc     IN CNAME www
a.b.c    IN A   192.0.2.30
sub      IN NS  ns.sub
sub      IN NS  ns.elsewhere.example.
sub      IN DS  1 13 2 AABBCCDD
ns.sub   IN A   192.0.2.200
u        IN TYPE65534 \# 3 010203
)";

struct State {
    cairn::registry::SnapshotSlot slot;
    std::unique_ptr<FuzzResponder> target;

    State() {
        std::string text = zone_text;
        for (int i = 0; i < 60; ++i) text += "big IN A 198.51.100." + std::to_string(i) + "\n";
        auto zones = cairn::dns::load_zone_text(text, "fuzz.test.");
        if (!zones) std::abort();
        target = std::make_unique<FuzzResponder>(slot, cairn::dns::Settings{}, *zones);
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static State state;
    state.target->respond(data, size);
    return 0;
}
