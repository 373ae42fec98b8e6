#pragma once
// Publishes registry snapshots for the DNS workers, coalesced: whenever the
// registry is dirty at the end of a loop iteration (whoever wrote it: config
// sync, the HTTP API, health checks, gossip), the next snapshot goes out at
// once, or, if one went out less than the interval ago, when that interval
// is over. The interval is `min_interval`, or four times as long as the last
// snapshot took to build if that is longer: a large registry under a stream
// of writes (a TTL heartbeat per instance, say) then spends at most a fifth
// of the main loop on snapshots. So a change is visible in DNS within about
// the interval, and a burst of writes costs one snapshot per interval, not
// one per write.
//
// Main loop only.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <uv.h>

#include "core/loop.hpp"
#include "core/metrics_text.hpp"
#include "registry/registry.hpp"
#include "registry/snapshot.hpp"

namespace cairn::agent {

class SnapshotPublisher {
public:
    SnapshotPublisher(Loop& loop, registry::Registry& registry, registry::SnapshotSlot& slot,
                      std::chrono::milliseconds min_interval = std::chrono::milliseconds{2});
    ~SnapshotPublisher();
    SnapshotPublisher(const SnapshotPublisher&) = delete;
    SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

    // Publishes the first snapshot and starts watching the registry.
    void start();
    // Stops watching; the slot keeps the last snapshot.
    void stop();
    // Publishes now if the registry is dirty (e.g. right before a reload
    // reports success).
    void flush();

    [[nodiscard]] std::uint64_t published() const { return published_; }
    // How long building and storing snapshots took, per bucket of
    // build_bounds_us (the last: above them), and their sum.
    static constexpr std::array<std::uint64_t, 10> build_bounds_us{
        100, 500, 1'000, 5'000, 10'000, 50'000, 100'000, 500'000, 1'000'000, 5'000'000};
    struct BuildTimes {
        DurationHistogram durations{build_bounds_us};
        std::int64_t last_wall_ms = 0; // when the last snapshot went out (Unix ms)
    };
    [[nodiscard]] const BuildTimes& build_times() const { return build_times_; }
    // cairn_registry_snapshots_published_total, the build histogram and the
    // last publish time.
    [[nodiscard]] std::string metrics() const;

    // Runs before each snapshot is built, while the registry is dirty (the
    // registry's replication announces this agent's changes from here, so
    // every writer is covered).
    std::function<void()> before_publish;

private:
    void on_iteration();
    void publish();

    Loop& loop_;
    registry::Registry& registry_;
    registry::SnapshotSlot& slot_;
    std::chrono::milliseconds min_interval_;
    Timer timer_;
    uv_prepare_t* prepare_;
    std::uint64_t last_publish_ms_ = 0;
    std::uint64_t last_build_us_ = 0;
    std::uint64_t published_ = 0;
    BuildTimes build_times_;
};

} // namespace cairn::agent
