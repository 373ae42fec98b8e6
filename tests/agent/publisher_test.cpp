#include <doctest/doctest.h>

#include "agent/publisher.hpp"
#include "agent/services.hpp"

using namespace cairn;
using namespace cairn::agent;
using namespace std::chrono_literals;

namespace {

registry::Instance instance(int n) {
    registry::Instance i;
    i.id = "web-" + std::to_string(n);
    i.service = "web";
    i.address = *parse_ip_address("127.0.0.1");
    i.port = static_cast<std::uint16_t>(1000 + n);
    return i;
}

// Runs the loop until `done` holds (checked every millisecond) or 5 s pass.
template <class Done>
bool run_until(Loop& loop, Done done) {
    bool reached = false;
    Timer poll(loop), deadline(loop);
    poll.start(1ms, 1ms, [&] {
        if (done()) {
            reached = true;
            loop.stop();
        }
    });
    deadline.start(5s, 0ms, [&] { loop.stop(); });
    loop.run();
    return reached;
}

} // namespace

TEST_CASE("start publishes the first snapshot") {
    Loop loop;
    registry::Registry reg("n1");
    registry::SnapshotSlot slot;
    SnapshotPublisher publisher(loop, reg, slot);
    CHECK(slot.load() == nullptr);
    publisher.start();
    CHECK(slot.load() != nullptr);
    CHECK(publisher.published() == 1);
    // Its build time is in the histogram, and /metrics shows it.
    std::uint64_t timed = 0;
    for (std::uint64_t n : publisher.build_times().durations.buckets) timed += n;
    CHECK(timed == 1);
    CHECK(publisher.build_times().last_wall_ms > 1'700'000'000'000);
    std::string text = publisher.metrics();
    CHECK(text.find("\ncairn_registry_snapshots_published_total 1\n") != std::string::npos);
    CHECK(text.find("\ncairn_registry_snapshot_publish_seconds_count 1\n") != std::string::npos);
    CHECK(text.find("\ncairn_registry_snapshot_last_publish_timestamp_seconds 1") !=
          std::string::npos);
}

TEST_CASE("a burst of writes in one callback becomes one snapshot, soon") {
    Loop loop;
    registry::Registry reg("n1");
    registry::SnapshotSlot slot;
    SnapshotPublisher publisher(loop, reg, slot, 2ms);
    publisher.start();

    Timer writer(loop);
    std::uint64_t written_at = 0;
    writer.start(5ms, 0ms, [&] {
        for (int i = 0; i < 100; ++i) REQUIRE(reg.upsert_local(instance(i), 0));
        written_at = loop.now_ms();
    });
    bool seen = run_until(loop, [&] {
        auto snap = slot.load();
        const registry::ServiceEntry* web = snap ? snap->find_service("web") : nullptr;
        return web && web->total == 100;
    });
    CHECK(seen);
    CHECK(publisher.published() == 2);
    CHECK(loop.now_ms() - written_at < 50);
    CHECK_FALSE(reg.dirty());
}

TEST_CASE("writes closer together than the interval are coalesced, and none is lost") {
    Loop loop;
    registry::Registry reg("n1");
    registry::SnapshotSlot slot;
    SnapshotPublisher publisher(loop, reg, slot, 50ms);
    publisher.start();

    // 20 writes one loop iteration apart, well inside one 50 ms interval.
    int written = 0;
    Timer writer(loop);
    writer.start(1ms, 1ms, [&] {
        if (written < 20)
            REQUIRE(reg.upsert_local(instance(written++), 0));
        else
            writer.stop();
    });
    bool seen = run_until(loop, [&] {
        auto snap = slot.load();
        const registry::ServiceEntry* web = snap ? snap->find_service("web") : nullptr;
        return written == 20 && web && web->total == 20;
    });
    CHECK(seen);
    // 20 writes over ~20 ms with a 50 ms interval: a handful of snapshots, not 20.
    CHECK(publisher.published() <= 4);
}

TEST_CASE("flush publishes at once; stop leaves the last snapshot in place") {
    Loop loop;
    registry::Registry reg("n1");
    registry::SnapshotSlot slot;
    SnapshotPublisher publisher(loop, reg, slot, 1h);
    publisher.start();
    REQUIRE(reg.upsert_local(instance(1), 0));
    publisher.flush();
    CHECK(publisher.published() == 2);
    CHECK(slot.load()->find_service("web") != nullptr);
    publisher.flush();
    CHECK(publisher.published() == 2);
    publisher.stop();
    CHECK(slot.load()->find_service("web") != nullptr);
}

TEST_CASE("a large registry under a stream of writes spends at most a fifth of the loop on "
          "snapshots") {
    Loop loop;
    registry::Registry reg("n1");
    for (int i = 0; i < 20'000; ++i) REQUIRE(reg.upsert_local(instance(i), 0));
    registry::SnapshotSlot slot;
    SnapshotPublisher publisher(loop, reg, slot, 2ms);
    publisher.start();
    const std::uint64_t built_before = publisher.build_times().durations.sum_us;

    // A write every loop iteration (a millisecond apart) for 300 ms.
    int written = 0;
    const auto start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration writing{};
    Timer writer(loop);
    writer.start(1ms, 1ms, [&] {
        if (std::chrono::steady_clock::now() - start < 300ms) {
            registry::Instance i = instance(written++);
            i.port = static_cast<std::uint16_t>(2000 + written); // a new version of web-N
            REQUIRE(reg.upsert_local(i, 0));
        } else {
            writing = std::chrono::steady_clock::now() - start;
            writer.stop();
        }
    });
    bool seen = run_until(loop, [&] {
        auto snap = slot.load();
        return writing.count() != 0 && !reg.dirty() && snap &&
               snap->find_service("web")->total == 20'000;
    });
    REQUIRE(seen);
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    const double building =
        static_cast<double>(publisher.build_times().durations.sum_us - built_before);
    MESSAGE(written, " writes, ", publisher.published() - 1, " snapshots, ", building / 1000,
            " ms building in ", elapsed.count() / 1000, " ms");
    CHECK(written > 10);
    CHECK(building / static_cast<double>(elapsed.count()) < 0.35);
}
