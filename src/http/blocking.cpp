#include "http/blocking.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "core/loop.hpp"
#include "core/text.hpp"

namespace cairn::http {

using namespace std::chrono_literals;

Result<std::optional<BlockingQuery>> parse_blocking(const Request& request) {
    auto index_text = request.query_param("index");
    if (!index_text || index_text->empty()) return std::nullopt;
    BlockingQuery q;
    const char* end = index_text->data() + index_text->size();
    auto [ptr, ec] = std::from_chars(index_text->data(), end, q.index);
    if (ec != std::errc{} || ptr != end)
        return fail("index: {} is not a whole number", quote(*index_text));
    if (auto wait = request.query_param("wait"); wait && !wait->empty()) {
        auto d = parse_go_duration(*wait);
        if (!d) return fail("wait: {}", d.error().message);
        q.wait = std::min(ceil_to_ms(*d), max_blocking_wait);
    }
    if (q.index == 0) return std::nullopt;
    return q;
}

namespace {

Duration grid_of(Duration d) {
    return d < 1s ? Duration{10ms} : d < 1min ? Duration{1s} : Duration{10s};
}

} // namespace

Duration jittered_wait(Duration wait, std::uint64_t random) {
    Duration grid = grid_of(wait);
    Duration base = std::max(grid, (wait + grid / 2) / grid * grid);
    Duration jitter = base / 64 * static_cast<std::int64_t>(random % 5);
    return base + jitter / grid * grid;
}

std::string service_key(std::string_view lower_service) {
    return fmt::format("s:{}", lower_service);
}

IndexBook::IndexBook(std::uint64_t clock_us)
    : floor_(std::max<std::uint64_t>(clock_us, 1))
    , last_(floor_)
    , any_service_(floor_)
    , nodes_(floor_) {}

std::uint64_t IndexBook::next(std::uint64_t clock_us) {
    last_ = std::max(last_ + 1, clock_us);
    return last_;
}

void IndexBook::service_changed(std::string_view lower_service, std::uint64_t clock_us) {
    std::uint64_t index = next(clock_us);
    services_[std::string(lower_service)] = index;
    any_service_ = index;
}

void IndexBook::nodes_changed(std::uint64_t clock_us) {
    nodes_ = next(clock_us);
    any_service_ = nodes_; // health/state shows each node's serfHealth
}

std::uint64_t IndexBook::of(std::string_view key) const {
    if (key == any_service_key) return any_service_;
    if (key == nodes_key) return nodes_;
    if (key.starts_with("s:"))
        if (auto it = services_.find(std::string(key.substr(2))); it != services_.end())
            return it->second;
    return floor_;
}

struct Watchers::Parked {
    Parked(std::string k, std::uint64_t i, std::function<void()> a)
        : key(std::move(k))
        , index(i)
        , answer(std::move(a)) {}
    std::string key;
    std::uint64_t index;
    std::function<void()> answer;
    TimeoutEntry entry{this};
    List::iterator self;
};

Watchers::Watchers(Loop& loop)
    : loop_(loop)
    , timeouts_(loop)
    , flush_timer_(std::make_unique<Timer>(loop)) {}

Watchers::~Watchers() = default;

TimeoutQueue& Watchers::queue_for(Duration wait) {
    auto& slot = queues_[wait.count()];
    if (!slot) {
        slot = std::make_unique<TimeoutQueue>(wait);
        timeouts_.add(*slot, [this](TimeoutEntry& e) { expire(e); });
    }
    return *slot;
}

void Watchers::park(std::string key, std::uint64_t index, Duration wait,
                    std::function<void()> answer) {
    List& list = by_key_[key];
    list.emplace_back(std::move(key), index, std::move(answer));
    Parked& p = list.back();
    p.self = std::prev(list.end());
    queue_for(wait).start(p.entry, loop_.now_ms());
    timeouts_.schedule();
    ++parked_;
}

void Watchers::expire(TimeoutEntry& entry) {
    auto* p = static_cast<Parked*>(entry.item);
    std::function<void()> answer = std::move(p->answer);
    auto it = by_key_.find(p->key);
    it->second.erase(p->self);
    if (it->second.empty()) by_key_.erase(it);
    --parked_;
    // Answered from flush(), not from inside the TimeoutSet's pass: an
    // answer may let the connection park its next request, which may add a
    // queue to the set while it walks its queues.
    due_.push_back(std::move(answer));
    if (!flush_timer_->active()) flush_timer_->start(0ms, 0ms, [this] { flush(); });
}

void Watchers::changed(std::string_view key) {
    if (!by_key_.contains(std::string(key))) return; // nobody waits: nothing to do
    marked_.emplace(key);
    if (!flush_timer_->active()) flush_timer_->start(0ms, 0ms, [this] { flush(); });
}

void Watchers::flush() {
    // The answers are collected first: answering lets the server read the
    // connection's next request, which may park again.
    std::vector<std::function<void()>> ready = std::move(due_);
    due_.clear();
    std::unordered_set<std::string> marked = std::move(marked_);
    marked_.clear();
    for (const std::string& key : marked) {
        auto it = by_key_.find(key);
        if (it == by_key_.end()) continue;
        std::uint64_t now = index_of_ ? index_of_(key) : 0;
        for (auto p = it->second.begin(); p != it->second.end();) {
            if (p->index >= now) {
                ++p;
                continue;
            }
            ready.push_back(std::move(p->answer));
            TimeoutQueue::cancel(p->entry);
            p = it->second.erase(p);
            --parked_;
        }
        if (it->second.empty()) by_key_.erase(it);
    }
    for (auto& answer : ready) answer();
}

} // namespace cairn::http
