#include "agent/publisher.hpp"

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
    auto interval = static_cast<std::uint64_t>(min_interval_.count());
    if (published_ == 0 || now >= last_publish_ms_ + interval) {
        publish();
        return;
    }
    timer_.start(std::chrono::milliseconds(last_publish_ms_ + interval - now),
                 std::chrono::milliseconds{0}, [this] { flush(); });
}

void SnapshotPublisher::publish() {
    if (before_publish) before_publish();
    slot_.store(registry_.publish());
    last_publish_ms_ = loop_.now_ms();
    ++published_;
}

} // namespace cairn::agent
