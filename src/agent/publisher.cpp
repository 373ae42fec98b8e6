#include "agent/publisher.hpp"

#include <algorithm>

#include "core/metrics_text.hpp"

namespace cairn::agent {

SnapshotPublisher::SnapshotPublisher(Loop& loop, registry::Registry& registry,
                                     registry::SnapshotSlot& slot,
                                     std::chrono::milliseconds min_interval)
    : loop_(loop)
    , registry_(registry)
    , slot_(slot)
    , min_interval_(min_interval)
    , timer_(loop)
    , prepare_(new uv_prepare_t) {
    uv_prepare_init(loop.get(), prepare_);
    prepare_->data = this;
    // Watching must not keep the loop alive on its own.
    uv_unref(reinterpret_cast<uv_handle_t*>(prepare_));
}

SnapshotPublisher::~SnapshotPublisher() {
    close_and_delete(prepare_);
}

void SnapshotPublisher::start() {
    publish();
    // A prepare handle runs right before the loop blocks for I/O, so it sees
    // every write made by the callbacks of this iteration.
    uv_prepare_start(prepare_, [](uv_prepare_t* p) {
        static_cast<SnapshotPublisher*>(p->data)->on_iteration();
    });
}

void SnapshotPublisher::stop() {
    uv_prepare_stop(prepare_);
    timer_.stop();
}

void SnapshotPublisher::flush() {
    if (registry_.dirty()) publish();
}

void SnapshotPublisher::on_iteration() {
    if (!registry_.dirty() || timer_.active()) return;
    std::uint64_t now = loop_.now_ms();
    auto interval =
        std::max(static_cast<std::uint64_t>(min_interval_.count()), 4 * last_build_us_ / 1000);
    if (published_ == 0 || now >= last_publish_ms_ + interval) {
        publish();
        return;
    }
    timer_.start(std::chrono::milliseconds(last_publish_ms_ + interval - now),
                 std::chrono::milliseconds{0}, [this] { flush(); });
}

void SnapshotPublisher::publish() {
    if (before_publish) before_publish();
    auto start = std::chrono::steady_clock::now();
    slot_.store(registry_.publish());
    auto us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                             std::chrono::steady_clock::now() - start)
                                             .count());
    build_times_.durations.add(us);
    last_build_us_ = us;
    build_times_.last_wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    last_publish_ms_ = loop_.now_ms();
    ++published_;
}

std::string SnapshotPublisher::metrics() const {
    MetricsText m;
    m.counter("cairn_registry_snapshots_published_total",
              "Registry snapshots published to the DNS workers (one per burst of changes).",
              published_);
    m.family("cairn_registry_snapshot_publish_seconds", "histogram",
             "Time to build a registry snapshot and hand it to the DNS workers (on the main "
             "loop).");
    m.histogram("cairn_registry_snapshot_publish_seconds", build_times_.durations);
    m.gauge("cairn_registry_snapshot_last_publish_timestamp_seconds",
            "When the last registry snapshot was published (Unix time).",
            static_cast<double>(build_times_.last_wall_ms) / 1e3);
    return std::move(m).text();
}

} // namespace cairn::agent
