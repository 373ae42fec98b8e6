#include "agent/dns_lookup.hpp"

#include <cstdlib>
#include <memory>
#include <string>

#include <netinet/in.h>

#include <ldns/ldns.h>

#include "dns/wire/wire.hpp"

namespace cairn::agent {

namespace {

// ldns hands out malloc'd strings.
std::string take(char* text) {
    std::string out = text ? text : "";
    std::free(text);
    return out;
}

nlohmann::json records(const ldns_rr_list* list) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(list, i);
        std::string data;
        for (std::size_t k = 0; k < ldns_rr_rd_count(rr); ++k) {
            if (k) data += ' ';
            data += take(ldns_rdf2str(ldns_rr_rdf(rr, k)));
        }
        out.push_back({{"name", take(ldns_rdf2str(ldns_rr_owner(rr)))},
                       {"ttl", ldns_rr_ttl(rr)},
                       {"type", take(ldns_rr_type2str(ldns_rr_get_type(rr)))},
                       {"data", data}});
    }
    return out;
}

} // namespace

DnsLookup::DnsLookup(const dns::ResponderFactory& factory)
    : responder_(factory())
    , out_(65535) {}

DnsLookup::~DnsLookup() = default;

Result<nlohmann::json> DnsLookup::lookup(std::string_view name, std::string_view type) {
    auto wire = dns::name_from_text(name, false);
    if (!wire) return fail("name: {}", wire.error().message);
    std::string type_text(type);
    ldns_rr_type qtype = ldns_get_rr_type_by_name(type_text.c_str());
    if (qtype == 0) return fail("type: \"{}\" is not a DNS record type", type_text);

    std::vector<std::uint8_t> query{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}; // id 1, one question
    query.insert(query.end(), wire->bytes.begin(), wire->bytes.begin() + wire->size);
    query.push_back(static_cast<std::uint8_t>(qtype >> 8));
    query.push_back(static_cast<std::uint8_t>(qtype));
    query.push_back(0);
    query.push_back(1); // IN
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dns::Client client{reinterpret_cast<const sockaddr*>(&from), dns::Transport::tcp, nullptr};
    std::size_t size = responder_->respond(query, client, out_);
    if (size == 0 || size == dns::Responder::deferred || size > out_.size())
        return fail("no answer from this agent's DNS");

    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, out_.data(), size) != LDNS_STATUS_OK)
        return fail("this agent's DNS answer could not be read back");
    std::unique_ptr<ldns_pkt, decltype(&ldns_pkt_free)> pkt(raw, &ldns_pkt_free);
    nlohmann::json flags = nlohmann::json::array();
    if (ldns_pkt_aa(pkt.get())) flags.push_back("aa");
    if (ldns_pkt_tc(pkt.get())) flags.push_back("tc");
    if (ldns_pkt_ra(pkt.get())) flags.push_back("ra");
    return nlohmann::json{{"name", dns::name_to_text(wire->name())},
                          {"type", take(ldns_rr_type2str(qtype))},
                          {"rcode", take(ldns_pkt_rcode2str(ldns_pkt_get_rcode(pkt.get())))},
                          {"flags", flags},
                          {"answer", records(ldns_pkt_answer(pkt.get()))},
                          {"authority", records(ldns_pkt_authority(pkt.get()))},
                          {"additional", records(ldns_pkt_additional(pkt.get()))}};
}

} // namespace cairn::agent
