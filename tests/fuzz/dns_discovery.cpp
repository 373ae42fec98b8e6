// libFuzzer harness: a DNS query as it arrives on a socket, answered by a
// Catalog Responder whose registry snapshot holds services under every
// policy (random, round_robin, weighted, affinity, fastest, least_loaded),
// with tags, metadata, IPv4 and IPv6 instances, warning ones (serve_warning
// = always, answer_limit 0) and remote nodes, so the discovery answers
// (service, tag, RFC 2782, .addr., .node.) and EDNS Client Subnet echo run
// on arbitrary input. Checks what must hold for every response: within the size limit,
// the id echoed, QR set.

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "dns_respond.hpp"
#include "registry/registry.hpp"

namespace {

using cairn::registry::Instance;
using cairn::registry::Policy;

struct State {
    cairn::registry::SnapshotSlot slot;
    cairn::registry::Registry registry{"fuzz-node"};
    std::unique_ptr<FuzzResponder> target;

    void add(const std::string& service, Policy policy, int count) {
        for (int i = 0; i < count; ++i) {
            Instance inst;
            inst.id = service + "-" + std::to_string(i);
            inst.service = service;
            inst.port = static_cast<std::uint16_t>(8000 + i);
            inst.weight = static_cast<std::uint32_t>(1 + i * 7);
            inst.policy = policy;
            inst.address.family = (i % 3 == 2) ? 6 : 4;
            inst.address.bytes = {10, 0, static_cast<std::uint8_t>(i >> 8),
                                  static_cast<std::uint8_t>(i)};
            if (inst.address.family == 6) inst.address.bytes[15] = static_cast<std::uint8_t>(i);
            inst.tags = {i % 2 ? "v1" : "v2", "all"};
            inst.meta = {{"version", "1." + std::to_string(i)}, {"zone", i % 2 ? "a" : "b"}};
            if (i % 4 == 3) {
                cairn::registry::Check c;
                c.definition.id = inst.id + ":1";
                c.definition.ttl_ms = 1000;
                c.state.status = cairn::registry::Health::warning;
                c.state.latency_us = static_cast<std::uint32_t>(100 * i);
                inst.checks.push_back(c);
            } else if (policy == Policy::least_loaded && i % 4 != 1) {
                cairn::registry::Check c; // passing, with a load (none for i % 4 == 1)
                c.definition.id = inst.id + ":1";
                c.definition.ttl_ms = 1000;
                c.state.status = cairn::registry::Health::passing;
                c.state.load = static_cast<std::uint32_t>(i % 3);
                inst.checks.push_back(c);
            }
            if (!registry.upsert_local(inst, 0)) std::abort();
        }
    }

    State() {
        add("web", Policy::unset, 5);
        add("rr", Policy::round_robin, 4);
        add("w", Policy::weighted, 7);
        add("a", Policy::affinity, 6);
        add("f", Policy::fastest, 5);
        add("ll", Policy::least_loaded, 9);
        add("big", Policy::random, 120);
        Instance sick;
        sick.id = "sick";
        sick.service = "sick";
        sick.port = 1;
        sick.address.family = 4;
        cairn::registry::Check c;
        c.definition.id = "sick:1";
        c.definition.ttl_ms = 1000;
        sick.checks.push_back(c); // critical
        if (!registry.upsert_local(sick, 0)) std::abort();
        registry.set_node({"peer", "dc1", {4, {10, 1, 1, 1}}, {{"rack", "r1"}}, true});
        registry.set_node({"dead", "dc1", {6, {0x20, 1}}, {}, false});
        slot.store(registry.publish());

        cairn::dns::Settings settings;
        settings.node_name = "fuzz-node";
        settings.serve_warning = cairn::dns::ServeWarning::always;
        target = std::make_unique<FuzzResponder>(slot, settings);
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static State state;
    state.target->respond(data, size);
    return 0;
}
