#pragma once
// Many timeouts on one timer. A connection server has thousands of
// connections and two or three kinds of deadline (idle, query, shutdown), each
// kind with one duration. A TimeoutQueue holds the entries of one kind in the
// order they were started: since they share a duration, that is also the
// order in which they expire, so starting, restarting and cancelling are O(1)
// list moves that allocate nothing (the entries live in the connections).
// A TimeoutSet arms one libuv timer for the earliest deadline of its queues
// and hands out what has expired.
//
// TimeoutQueue is pure (the caller passes the time), so it is tested without
// a loop. Both are used only from the thread that runs their loop.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace cairn {

class Loop;
class Timer;
class TimeoutQueue;

// Embedded in whatever times out; `item` points back at it.
struct TimeoutEntry {
    explicit TimeoutEntry(void* owner_item = nullptr)
        : item(owner_item) {}
    ~TimeoutEntry();
    TimeoutEntry(const TimeoutEntry&) = delete;
    TimeoutEntry& operator=(const TimeoutEntry&) = delete;

    [[nodiscard]] bool linked() const { return queue_ != nullptr; }
    // When it was (re)started, on the queue's clock.
    [[nodiscard]] std::uint64_t started_ms() const { return start_ms_; }
    [[nodiscard]] const TimeoutQueue* queue() const { return queue_; }

    void* item;

private:
    friend class TimeoutQueue;
    TimeoutQueue* queue_ = nullptr;
    TimeoutEntry* prev_ = nullptr;
    TimeoutEntry* next_ = nullptr;
    std::uint64_t start_ms_ = 0;
};

class TimeoutQueue {
public:
    // A timeout under 1 ms counts as 1 ms, so that an entry restarted while
    // its expiry is handled is never due again in the same pass.
    explicit TimeoutQueue(std::chrono::milliseconds timeout)
        : timeout_ms_(timeout.count() < 1 ? 1 : static_cast<std::uint64_t>(timeout.count())) {}
    ~TimeoutQueue();
    TimeoutQueue(const TimeoutQueue&) = delete;
    TimeoutQueue& operator=(const TimeoutQueue&) = delete;

    // (Re)starts the entry's timeout at `now_ms`, moving it from whatever
    // queue held it. `now_ms` never goes backwards between calls.
    void start(TimeoutEntry& entry, std::uint64_t now_ms);
    // Starts it only if it is not in this queue already (keeps its start).
    void start_if_idle(TimeoutEntry& entry, std::uint64_t now_ms);
    static void cancel(TimeoutEntry& entry);

    // The entry started longest ago (it expires first), or null.
    [[nodiscard]] TimeoutEntry* oldest() const { return head_; }
    // The first entry that is due at `now_ms`, taken out of the queue; null
    // when none is due.
    TimeoutEntry* pop_expired(std::uint64_t now_ms);
    [[nodiscard]] std::optional<std::uint64_t> next_deadline_ms() const;
    [[nodiscard]] std::uint64_t timeout_ms() const { return timeout_ms_; }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return head_ == nullptr; }

private:
    void unlink(TimeoutEntry& entry);

    std::uint64_t timeout_ms_;
    TimeoutEntry* head_ = nullptr;
    TimeoutEntry* tail_ = nullptr;
    std::size_t size_ = 0;
};

// One timer for any number of TimeoutQueues. After starting entries, call
// schedule() (cheap: it re-arms the timer only when the new earliest deadline
// is sooner than the armed one). An entry restarted later lets the timer fire
// early; it then finds nothing due and re-arms.
class TimeoutSet {
public:
    // Called for each expired entry, already taken out of its queue. It may
    // start, cancel or destroy entries (and their owners), this one included.
    using OnExpired = std::function<void(TimeoutEntry&)>;

    explicit TimeoutSet(Loop& loop);
    ~TimeoutSet();
    TimeoutSet(const TimeoutSet&) = delete;
    TimeoutSet& operator=(const TimeoutSet&) = delete;

    // The queue must outlive this set.
    void add(TimeoutQueue& queue, OnExpired on_expired);
    // Arms the timer for the earliest deadline, if it is not armed sooner.
    void schedule();
    [[nodiscard]] std::uint64_t now_ms() const;

private:
    void fire();

    Loop& loop_;
    std::unique_ptr<Timer> timer_;
    std::vector<std::pair<TimeoutQueue*, OnExpired>> queues_;
    std::optional<std::uint64_t> armed_for_ms_;
};

} // namespace cairn
