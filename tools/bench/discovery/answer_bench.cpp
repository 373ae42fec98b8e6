// The answer path alone, without sockets: nanoseconds per query through a
// Catalog Responder for discovery names under each policy and for a static
// zone holding the same records, in one process, on one thread. Built and run
// by `run --only answer` (it links the build's static libraries).
//
// answer_bench SERVICES ENDPOINTS QUERIES
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <netinet/in.h>

#include "dns/answer/catalog.hpp"
#include "dns/wire/wire.hpp"
#include "dns/zone/zone.hpp"
#include "registry/registry.hpp"

using namespace cairn;

namespace {

std::vector<std::uint8_t> query(const std::string& name, std::uint16_t type, std::uint16_t id) {
    std::vector<std::uint8_t> q{static_cast<std::uint8_t>(id >> 8),
                                static_cast<std::uint8_t>(id),
                                1,
                                0,
                                0,
                                1,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0};
    auto wire = dns::name_from_text(name, false);
    q.insert(q.end(), wire->bytes.begin(), wire->bytes.begin() + wire->size);
    q.push_back(static_cast<std::uint8_t>(type >> 8));
    q.push_back(static_cast<std::uint8_t>(type));
    q.push_back(0);
    q.push_back(1);
    return q;
}

std::string ip(int i, int k) {
    return "10." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255) + "." +
           std::to_string(k + 1);
}

std::string hex_label(int i, int k) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0a%02x%02x%02x", (i >> 8) & 255, i & 255, k + 1);
    return buf;
}

// The same mix as tools/bench/discovery/run: A, SRV, TXT, 10% NXDOMAIN.
std::vector<std::vector<std::uint8_t>>
queries(const std::string& origin, const std::string& srv_prefix_suffix, int services, int count) {
    std::mt19937 rng(7);
    std::vector<std::vector<std::uint8_t>> out;
    for (int n = 0; n < count; ++n) {
        if (rng() % 10 == 0) {
            out.push_back(query("missing" + std::to_string(rng() % 1000000) + "." + origin,
                                dns::rrtype::a, 1));
            continue;
        }
        int i = static_cast<int>(rng() % static_cast<unsigned>(services));
        switch (rng() % 3) {
        case 0:
            out.push_back(query("svc" + std::to_string(i) + "." + origin, dns::rrtype::a, 1));
            break;
        case 1:
            out.push_back(query("_svc" + std::to_string(i) + "._tcp." + srv_prefix_suffix,
                                dns::rrtype::srv, 1));
            break;
        default:
            out.push_back(query("svc" + std::to_string(i) + "." + origin, dns::rrtype::txt, 1));
            break;
        }
    }
    return out;
}

double ns_per_query(dns::Responder& responder, const std::vector<std::vector<std::uint8_t>>& qs,
                    int rounds) {
    std::vector<std::uint8_t> out(65535);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(0x7f000001);
    dns::Client client{reinterpret_cast<const sockaddr*>(&peer), dns::Transport::udp};
    std::size_t sink = 0;
    for (const auto& q : qs) // warm up
        sink += responder.respond(q, client, out);
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < rounds; ++r)
        for (const auto& q : qs) sink += responder.respond(q, client, out);
    auto t1 = std::chrono::steady_clock::now();
    if (sink == 0) std::abort();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() /
           (static_cast<double>(qs.size()) * rounds);
}

} // namespace

int main(int argc, char** argv) {
    int services = argc > 1 ? std::atoi(argv[1]) : 1000;
    int endpoints = argc > 2 ? std::atoi(argv[2]) : 3;
    int count = argc > 3 ? std::atoi(argv[3]) : 20000;
    int rounds = 20;

    std::string zone = "$ORIGIN bench.test.\n$TTL 5\n@ IN SOA ns hostmaster 1 3600 600 86400 5\n@ "
                       "IN NS ns\nns IN A 127.0.0.1\n";
    registry::Registry reg("bench");
    for (int i = 0; i < services; ++i)
        for (int k = 0; k < endpoints; ++k) {
            zone += "svc" + std::to_string(i) + " IN A " + ip(i, k) + "\n";
            zone += "_svc" + std::to_string(i) + "._tcp IN SRV 1 1 " + std::to_string(8000 + k) +
                    " " + hex_label(i, k) + ".addr\n";
            zone += hex_label(i, k) + ".addr IN A " + ip(i, k) + "\n";
            zone +=
                "svc" + std::to_string(i) + " IN TXT \"version=2.1." + std::to_string(k) + "\"\n";
            registry::Instance inst;
            inst.id = "svc" + std::to_string(i) + "-" + std::to_string(k);
            inst.service = "svc" + std::to_string(i);
            inst.address.family = 4;
            inst.address.bytes = {10, static_cast<std::uint8_t>((i >> 8) & 255),
                                  static_cast<std::uint8_t>(i & 255),
                                  static_cast<std::uint8_t>(k + 1)};
            inst.port = static_cast<std::uint16_t>(8000 + k);
            inst.meta = {{"version", "2.1." + std::to_string(k)}};
            if (!reg.upsert_local(inst, 0)) return 1;
        }
    auto zones = dns::load_zone_text(zone, "bench.test.");
    if (!zones) {
        std::fprintf(stderr, "zone: %s\n", zones.error().message.c_str());
        return 1;
    }
    registry::SnapshotSlot slot;
    slot.store(reg.publish());

    auto static_q = queries("bench.test.", "bench.test.", services, count);
    auto disco_q = queries("service.cairn.", "service.cairn.", services, count);
    std::printf(
        "| policy | static zone ns/query | discovery ns/query | ratio |\n|---|---|---|---|\n");
    for (registry::Policy p :
         {registry::Policy::random, registry::Policy::round_robin, registry::Policy::weighted,
          registry::Policy::affinity, registry::Policy::fastest}) {
        dns::Catalog catalog(slot);
        catalog.set_zones(*zones);
        dns::Settings s;
        s.node_name = "bench";
        s.node_address.family = 4;
        s.node_address.bytes = {127, 0, 0, 1};
        s.policy = p;
        catalog.set_settings(s);
        auto responder = catalog.responder_factory()();
        double st = ns_per_query(*responder, static_q, rounds);
        double di = ns_per_query(*responder, disco_q, rounds);
        std::printf("| %s | %.0f | %.0f | %.2f |\n", std::string(registry::to_string(p)).c_str(),
                    st, di, di / st);
    }
    return 0;
}
