// The answer path alone, without sockets: nanoseconds per query through a
// Catalog Responder for discovery names under each policy and for a static
// zone holding the same records, in one process, on one thread. Built by hand
// against the build's static libraries (see `run --only answer`).
//
// answer_bench SERVICES ENDPOINTS QUERIES
// answer_bench size SIZES [QUERIES [POLICY]]   e.g. answer_bench size 3,2000,20000
//
// The second form serves one service of each size (weights 1 to 4, every
// instance with a measured latency, all passing) and prints nanoseconds per
// A query over UDP (no EDNS: a 512-byte answer) per policy and size, with
// the ratio to the first size, and the time of one TCP A answer (every
// instance that fits in 65,535 bytes).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <time.h>

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

double thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

std::vector<int> parse_sizes(const char* text) {
    std::vector<int> out;
    for (const char* p = text; *p;) {
        out.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
    }
    return out;
}

double ns_per_query(dns::Responder& responder, const std::vector<std::uint8_t>& q,
                    dns::Transport transport, int count) {
    std::vector<std::uint8_t> out(65535);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(0x7f000001);
    std::size_t sink = 0;
    // CPU time of this thread, so that a busy machine slows the figures less.
    double t0 = thread_cpu_ns();
    for (int n = 0; n < count; ++n) {
        // A client per query, as a resolver population would be (affinity
        // hashes it; the other policies ignore it).
        peer.sin_addr.s_addr = htonl(0x0a000000u + static_cast<std::uint32_t>(n % 4096));
        dns::Client client{reinterpret_cast<const sockaddr*>(&peer), transport};
        sink += responder.respond(q, client, out);
    }
    double t1 = thread_cpu_ns();
    if (sink == 0) std::abort();
    return (t1 - t0) / count;
}

int size_bench(const std::vector<int>& sizes, int count, const std::string& only) {
    registry::Registry reg("bench");
    for (std::size_t s = 0; s < sizes.size(); ++s)
        for (int k = 0; k < sizes[s]; ++k) {
            registry::Instance inst;
            inst.id = "size" + std::to_string(sizes[s]) + "-" + std::to_string(k);
            inst.service = "size" + std::to_string(sizes[s]);
            inst.address.family = 4;
            inst.address.bytes = {10, static_cast<std::uint8_t>(100 + s),
                                  static_cast<std::uint8_t>((k >> 8) & 255),
                                  static_cast<std::uint8_t>(k & 255)};
            inst.port = 80;
            inst.weight = static_cast<std::uint32_t>(1 + k % 4);
            registry::Check check;
            check.definition.kind = registry::CheckKind::ttl;
            check.definition.ttl_ms = 60'000;
            inst.checks.push_back(check);
            if (!reg.upsert_local(inst, 0)) return 1;
            registry::CheckState state;
            state.status = registry::Health::passing;
            state.latency_us = static_cast<std::uint32_t>(100 + (k * 7919) % 5000);
            if (!reg.update_check(inst.id + ":1", state)) return 1;
        }
    registry::SnapshotSlot slot;
    slot.store(reg.publish());
    std::printf("| policy | instances | UDP A ns/query | ratio | TCP A us/answer |\n"
                "|---|---|---|---|---|\n");
    for (registry::Policy p :
         {registry::Policy::random, registry::Policy::round_robin, registry::Policy::weighted,
          registry::Policy::affinity, registry::Policy::fastest}) {
        if (!only.empty() && only != registry::to_string(p)) continue;
        dns::Catalog catalog(slot);
        dns::Settings settings;
        settings.node_name = "bench";
        settings.node_address.family = 4;
        settings.node_address.bytes = {127, 0, 0, 1};
        settings.policy = p;
        catalog.set_settings(settings);
        auto responder = catalog.responder_factory()();
        double base = 0;
        for (int n : sizes) {
            auto q = query("size" + std::to_string(n) + ".service.cairn.", dns::rrtype::a, 1);
            ns_per_query(*responder, q, dns::Transport::udp, count / 10); // warm up
            double udp = ns_per_query(*responder, q, dns::Transport::udp, count);
            double tcp = ns_per_query(*responder, q, dns::Transport::tcp, 200);
            if (base == 0) base = udp;
            std::printf("| %s | %d | %.0f | %.2f | %.1f |\n",
                        std::string(registry::to_string(p)).c_str(), n, udp, udp / base,
                        tcp / 1000);
        }
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 2 && std::string(argv[1]) == "size")
        return size_bench(parse_sizes(argv[2]), argc > 3 ? std::atoi(argv[3]) : 200'000,
                          argc > 4 ? argv[4] : "");
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
