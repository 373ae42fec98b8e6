// The transmit-limited broadcast queue, with memberlist's queue_test cases.
#include <doctest/doctest.h>

#include <string>

#include "gossip/broadcast.hpp"
#include "gossip/queue.hpp"
#include "gossip/util.hpp"

using namespace cairn::gossip;

namespace {

std::unique_ptr<Broadcast> named(const std::string& node, const std::string& msg = {},
                                 std::function<void()> done = {}) {
    return std::make_unique<MemberlistBroadcast>(node, Bytes(msg.begin(), msg.end()),
                                                 std::move(done));
}

std::string text(const Bytes& b) {
    return std::string(b.begin(), b.end());
}

// A plain (unnamed) broadcast that invalidates others with the same key.
class Keyed final : public Broadcast {
public:
    Keyed(int key, std::string msg)
        : key_(key)
        , msg_(msg.begin(), msg.end()) {}
    bool invalidates(const Broadcast& other) const override {
        auto* k = dynamic_cast<const Keyed*>(&other);
        return k != nullptr && k->key_ == key_;
    }
    std::span<const std::uint8_t> message() const override { return msg_; }

private:
    int key_;
    Bytes msg_;
};

} // namespace

TEST_CASE("a newer broadcast about a node replaces the older one") {
    TransmitLimitedQueue q(1, [] { return 1; });
    int finished = 0;
    q.queue_broadcast(named("test", "a", [&] { ++finished; }));
    q.queue_broadcast(named("foo", "b"));
    q.queue_broadcast(named("bar", "c"));
    CHECK(q.num_queued() == 3);
    q.queue_broadcast(named("test", "d"));
    CHECK(q.num_queued() == 3);
    CHECK(finished == 1);
    // Same tier, same length: newest first.
    const auto out = q.get_broadcasts(0, 1400);
    REQUIRE(out.size() == 3);
    CHECK(text(out[0]) == "d");
    CHECK(text(out[1]) == "c");
    CHECK(text(out[2]) == "b");
}

TEST_CASE("plain broadcasts invalidate by their own rule") {
    TransmitLimitedQueue q(1, [] { return 1; });
    q.queue_broadcast(std::make_unique<Keyed>(1, "x"));
    q.queue_broadcast(std::make_unique<Keyed>(2, "y"));
    q.queue_broadcast(named("n", "z"));
    q.queue_broadcast(std::make_unique<Keyed>(1, "w"));
    CHECK(q.num_queued() == 3);
}

TEST_CASE("broadcasts fill the space given, overhead included") {
    TransmitLimitedQueue q(3, [] { return 10; });
    // 18 bytes each
    q.queue_broadcast(named("test", "1. this is a test."));
    q.queue_broadcast(named("foo", "2. this is a test."));
    q.queue_broadcast(named("bar", "3. this is a test."));
    q.queue_broadcast(named("baz", "4. this is a test."));
    CHECK(q.get_broadcasts(2, 80).size() == 4); // 4 * 20 = 80
    CHECK(q.get_broadcasts(3, 80).size() == 3); // 4 * 21 > 80
}

TEST_CASE("each broadcast is sent retransmit_limit times, fresher ones first") {
    TransmitLimitedQueue q(1, [] { return 10; });
    REQUIRE(retransmit_limit(1, 10) == 2);
    int finished = 0;
    auto done = [&] { ++finished; };
    q.queue_broadcast(named("test", "1. this is a test.", done));
    q.queue_broadcast(named("foo", "2. this is a test.", done));
    q.queue_broadcast(named("bar", "3. this is a test.", done));
    q.queue_broadcast(named("baz", "4. this is a test.", done));
    CHECK(q.get_broadcasts(3, 80).size() == 3);
    CHECK(q.transmit_counts() == std::vector<int>{0, 1, 1, 1});
    CHECK(q.get_broadcasts(3, 80).size() == 3);
    CHECK(finished == 2);
    CHECK(q.get_broadcasts(3, 80).size() == 2);
    CHECK(finished == 4);
    CHECK(q.num_queued() == 0);
    CHECK(q.get_broadcasts(3, 80).empty());
}

TEST_CASE("the longest broadcast that fits is taken first within a tier") {
    TransmitLimitedQueue q(4, [] { return 50; });
    q.queue_broadcast(named("a", std::string(10, 'a')));
    q.queue_broadcast(named("b", std::string(30, 'b')));
    q.queue_broadcast(named("c", std::string(20, 'c')));
    const auto out = q.get_broadcasts(0, 25);
    REQUIRE(out.size() == 1);
    CHECK(out[0].size() == 20);
    // The rest of the space is too small for the others; the next call
    // starts with the freshest tier again.
    const auto next = q.get_broadcasts(0, 1400);
    REQUIRE(next.size() == 3);
    CHECK(next[0].size() == 30);
    CHECK(next[1].size() == 10);
    CHECK(next[2].size() == 20);
}

TEST_CASE("prune keeps the freshest and reset drops all") {
    TransmitLimitedQueue q(1, [] { return 10; });
    int finished = 0;
    q.queue_broadcast(named("test", "1. this is a test.", [&] { ++finished; }));
    q.queue_broadcast(named("foo", "2. this is a test.", [&] { ++finished; }));
    q.queue_broadcast(named("bar", "3. this is a test."));
    q.queue_broadcast(named("baz", "4. this is a test."));
    q.prune(2);
    CHECK(q.num_queued() == 2);
    CHECK(finished == 2);
    q.reset();
    CHECK(q.num_queued() == 0);
}
