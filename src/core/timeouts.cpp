#include "core/timeouts.hpp"

#include "core/loop.hpp"

namespace cairn {

TimeoutEntry::~TimeoutEntry() {
    TimeoutQueue::cancel(*this);
}

TimeoutQueue::~TimeoutQueue() {
    while (head_ != nullptr) unlink(*head_);
}

void TimeoutQueue::unlink(TimeoutEntry& e) {
    (e.prev_ != nullptr ? e.prev_->next_ : head_) = e.next_;
    (e.next_ != nullptr ? e.next_->prev_ : tail_) = e.prev_;
    e.prev_ = e.next_ = nullptr;
    e.queue_ = nullptr;
    --size_;
}

void TimeoutQueue::start(TimeoutEntry& e, std::uint64_t now_ms) {
    if (e.queue_ == this && tail_ == &e) {
        e.start_ms_ = now_ms; // already last: nothing moves
        return;
    }
    cancel(e);
    e.queue_ = this;
    e.start_ms_ = now_ms;
    e.prev_ = tail_;
    e.next_ = nullptr;
    (tail_ != nullptr ? tail_->next_ : head_) = &e;
    tail_ = &e;
    ++size_;
}

void TimeoutQueue::start_if_idle(TimeoutEntry& e, std::uint64_t now_ms) {
    if (e.queue_ != this) start(e, now_ms);
}

void TimeoutQueue::cancel(TimeoutEntry& e) {
    if (e.queue_ != nullptr) e.queue_->unlink(e);
}

TimeoutEntry* TimeoutQueue::pop_expired(std::uint64_t now_ms) {
    TimeoutEntry* e = head_;
    if (e == nullptr || now_ms - e->start_ms_ < timeout_ms_) return nullptr;
    unlink(*e);
    return e;
}

std::optional<std::uint64_t> TimeoutQueue::next_deadline_ms() const {
    if (head_ == nullptr) return std::nullopt;
    return head_->start_ms_ + timeout_ms_;
}

TimeoutSet::TimeoutSet(Loop& loop)
    : loop_(loop)
    , timer_(std::make_unique<Timer>(loop)) {}

TimeoutSet::~TimeoutSet() = default;

void TimeoutSet::add(TimeoutQueue& queue, OnExpired on_expired) {
    queues_.emplace_back(&queue, std::move(on_expired));
}

std::uint64_t TimeoutSet::now_ms() const {
    return loop_.now_ms();
}

void TimeoutSet::schedule() {
    std::optional<std::uint64_t> earliest;
    for (const auto& [queue, _] : queues_)
        if (auto d = queue->next_deadline_ms(); d && (!earliest || *d < *earliest)) earliest = d;
    if (!earliest) {
        // Nothing to wait for; a timer armed for an entry that is gone just
        // fires once for nothing, which is cheaper than stopping it each time.
        return;
    }
    if (armed_for_ms_ && *armed_for_ms_ <= *earliest && timer_->active()) return;
    std::uint64_t now = loop_.now_ms();
    armed_for_ms_ = earliest;
    timer_->start(std::chrono::milliseconds(*earliest > now ? *earliest - now : 0),
                  std::chrono::milliseconds(0), [this] { fire(); });
}

void TimeoutSet::fire() {
    armed_for_ms_.reset();
    std::uint64_t now = loop_.now_ms();
    // Bounded: each pass takes entries out; a handler that restarts an entry
    // restarts it at `now`, which is not due again in this call.
    for (std::size_t i = 0; i < queues_.size(); ++i) {
        TimeoutQueue* queue = queues_[i].first;
        while (TimeoutEntry* e = queue->pop_expired(now)) {
            auto& handler = queues_[i].second;
            handler(*e);
        }
    }
    schedule();
}

} // namespace cairn
