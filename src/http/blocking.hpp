#pragma once
// Consul's blocking queries (docs/consul-compatibility.md): a read with
// ?index=N waits until the data behind its endpoint has an index above N,
// or until ?wait= ends.
//
// IndexBook is pure: the X-Consul-Index of each endpoint. An index is the
// wall clock in microseconds at the change, or one more than the last index
// given out if that is higher, so it only grows, also across restarts (the
// book starts at the clock, above every index given out before, as long as
// the clock does not step back) without being stored anywhere. Each
// service has its own index, so a change to one does not wake the watchers
// of another.
//
// Watchers holds the parked requests: per request one entry in a
// TimeoutQueue (no timer of its own) and a place in the list of its key.
// While nothing changes, nothing runs. A change marks its key; the parked
// requests of marked keys are answered on the next turn of the loop, after
// the write that changed them is complete.
//
// Main loop only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/duration.hpp"
#include "core/result.hpp"
#include "core/timeouts.hpp"
#include "http/message.hpp"

namespace cairn {
class Loop;
class Timer;
} // namespace cairn

namespace cairn::http {

inline constexpr Duration default_blocking_wait = std::chrono::minutes(5);
inline constexpr Duration max_blocking_wait = std::chrono::minutes(10);

struct BlockingQuery {
    std::uint64_t index = 0;
    Duration wait = default_blocking_wait;
};

// ?index=N and ?wait=D (a Go duration: "30s", "120000ms"); nullopt when
// there is no index, or it is 0 (answer at once). A wait above 10 minutes
// is 10 minutes, as in Consul.
[[nodiscard]] Result<std::optional<BlockingQuery>> parse_blocking(const Request& request);

// The wait a parked request is given: `wait` plus up to wait/16, in steps
// of wait/64 chosen by `random`, rounded to a grid (10 ms below a second,
// 1 s below a minute, 10 s above) so that parked requests share a few
// timeout queues.
[[nodiscard]] Duration jittered_wait(Duration wait, std::uint64_t random);

// The keys that endpoints wait on.
[[nodiscard]] std::string service_key(std::string_view lower_service);
inline constexpr std::string_view any_service_key = "*services"; // any service or node
inline constexpr std::string_view nodes_key = "*nodes";

class IndexBook {
public:
    // `clock_us`: the wall clock at startup, in microseconds.
    explicit IndexBook(std::uint64_t clock_us);

    void service_changed(std::string_view lower_service, std::uint64_t clock_us);
    void nodes_changed(std::uint64_t clock_us);
    // The index of a key (service_key(...), any_service_key, nodes_key).
    [[nodiscard]] std::uint64_t of(std::string_view key) const;
    // The highest index given out.
    [[nodiscard]] std::uint64_t last() const { return last_; }

private:
    std::uint64_t next(std::uint64_t clock_us);

    std::uint64_t floor_;
    std::uint64_t last_;
    std::uint64_t any_service_;
    std::uint64_t nodes_;
    // One entry per service ever changed since startup (a deregistered
    // service keeps its index, so that its watchers see it move on).
    std::unordered_map<std::string, std::uint64_t> services_;
};

class Watchers {
public:
    explicit Watchers(Loop& loop);
    ~Watchers();
    Watchers(const Watchers&) = delete;
    Watchers& operator=(const Watchers&) = delete;

    // Parks `answer` until `key` is woken with an index above `index`, or
    // `wait` has passed; then calls it once.
    void park(std::string key, std::uint64_t index, Duration wait, std::function<void()> answer);
    // Marks a key changed; its parked requests are looked at on the next
    // turn of the loop, with `index_of` (set once, before any change).
    void changed(std::string_view key);
    void set_index(std::function<std::uint64_t(std::string_view key)> index_of) {
        index_of_ = std::move(index_of);
    }

    [[nodiscard]] std::size_t parked() const { return parked_; }

private:
    struct Parked;
    using List = std::list<Parked>;
    void flush();
    void expire(TimeoutEntry& entry);
    TimeoutQueue& queue_for(Duration wait);

    Loop& loop_;
    TimeoutSet timeouts_;
    std::unique_ptr<Timer> flush_timer_;
    std::map<std::int64_t, std::unique_ptr<TimeoutQueue>> queues_; // by wait in ms
    std::unordered_map<std::string, List> by_key_;
    std::unordered_set<std::string> marked_;
    std::vector<std::function<void()>> due_; // expired, answered by the next flush()
    std::function<std::uint64_t(std::string_view key)> index_of_;
    std::size_t parked_ = 0;
};

} // namespace cairn::http
