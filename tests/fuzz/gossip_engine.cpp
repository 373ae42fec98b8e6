// Fuzzes the membership engine (src/gossip/memberlist.hpp) with hostile
// messages that decode: the input goes in as a packet from a known peer, as
// an inbound stream, and as the answer to our own push-pull, with time
// moving on in between. The engine must keep its invariants: we stay in our
// own member table, alive, and every call returns.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/log.hpp"
#include "gossip/codec.hpp"
#include "gossip/memberlist.hpp"

using namespace cairn::gossip;

namespace {

struct NullTransport final : Transport {
    StreamId last_stream = 0;
    void send_packet(const Address&, Bytes) override {}
    void open_stream(StreamId id, const Address&, Bytes, TimePoint) override { last_stream = id; }
    void send_stream(const Address&, Bytes, TimePoint) override {}
};

void check(bool ok) {
    if (!ok) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    cairn::log::set_level(cairn::log::Level::error);
    const std::span<const std::uint8_t> input(data, size);
    NullTransport transport;
    Config cfg = lan_config();
    cfg.name = "self";
    cfg.advertise_addr = {10, 0, 0, 1};
    TimePoint now{std::chrono::seconds(1000)};
    Memberlist ml(cfg, transport, Delegates{}, 1, now);

    // Two known peers, so that suspect, dead and probes have someone to be about.
    const Address a{{10, 0, 0, 2}, 7946, "a"};
    for (const char* name : {"a", "b"}) {
        const Bytes addr{10, 0, 0, static_cast<std::uint8_t>(name[0] == 'a' ? 2 : 3)};
        ml.on_packet(a, encode(Alive{1, name, addr, 7946, {}, cfg.vsn()}), now);
    }
    check(ml.num_members() == 3);

    ml.on_packet(a, input, now);
    for (int i = 0; i < 4; ++i) {
        now += std::chrono::seconds(7);
        ml.tick(now);
    }
    (void)ml.on_stream(a, input, now);
    ml.join(std::span(&a, 1), now);
    (void)ml.on_stream_response(transport.last_stream, input, now);
    now += std::chrono::seconds(60);
    ml.tick(now);

    const NodeRecord* me = ml.find("self");
    check(me != nullptr && me->state() == NodeState::alive);
    check(ml.num_members() >= 1 && ml.num_members() <= ml.all_nodes().size());
    check(ml.next_deadline() > now);
    return 0;
}
