#include "gossip/queue.hpp"

#include <limits>

#include "gossip/util.hpp"

namespace cairn::gossip {

TransmitLimitedQueue::TransmitLimitedQueue(int retransmit_mult, std::function<int()> num_nodes)
    : retransmit_mult_(retransmit_mult)
    , num_nodes_(std::move(num_nodes)) {}

TransmitLimitedQueue::~TransmitLimitedQueue() = default;

void TransmitLimitedQueue::queue_broadcast(std::unique_ptr<Broadcast> b, int initial_transmits) {
    id_gen_ = id_gen_ == std::numeric_limits<std::int64_t>::max() ? 1 : id_gen_ + 1;
    const Key key{initial_transmits, static_cast<std::int64_t>(b->message().size()), id_gen_};
    std::string name(b->name());

    if (!name.empty()) {
        if (auto old = by_name_.find(name); old != by_name_.end()) {
            auto it = items_.find(old->second);
            it->second.broadcast->finished();
            erase(it);
        }
    } else if (!b->unique()) {
        // The slow path: only plain broadcasts invalidate each other.
        for (auto it = items_.begin(); it != items_.end();) {
            Broadcast& cur = *it->second.broadcast;
            if (cur.name().empty() && !cur.unique() && b->invalidates(cur)) {
                cur.finished();
                auto next = std::next(it);
                erase(it);
                it = next;
            } else {
                ++it;
            }
        }
    }

    if (!name.empty()) by_name_[name] = key;
    items_.emplace(key, Item{std::move(b), std::move(name)});
}

void TransmitLimitedQueue::erase(Items::iterator it) {
    if (!it->second.name.empty()) by_name_.erase(it->second.name);
    // The id generator never starts over while items are out of the map
    // (get_broadcasts reinserts them), so keys stay distinct.
    items_.erase(it);
}

std::vector<std::vector<std::uint8_t>> TransmitLimitedQueue::get_broadcasts(std::size_t overhead,
                                                                            std::size_t limit) {
    std::vector<std::vector<std::uint8_t>> to_send;
    if (items_.empty()) return to_send;

    const int transmit_limit = retransmit_limit(retransmit_mult_, num_nodes_());
    const int min_tier = items_.begin()->first.transmits;
    const int max_tier = std::prev(items_.end())->first.transmits;

    std::size_t bytes_used = 0;
    std::vector<std::pair<Key, Item>> reinsert;
    for (int tier = min_tier; tier <= max_tier;) {
        const auto free = static_cast<std::int64_t>(limit) - static_cast<std::int64_t>(bytes_used) -
                          static_cast<std::int64_t>(overhead);
        if (free <= 0) break;

        // The first item of this tier that fits: the order puts longer
        // messages first, so this is the longest one not over `free`.
        auto it = items_.lower_bound(Key{tier, free, std::numeric_limits<std::int64_t>::max()});
        if (it == items_.end() || it->first.transmits != tier) {
            ++tier;
            continue;
        }

        auto msg = it->second.broadcast->message();
        bytes_used += overhead + msg.size();
        to_send.emplace_back(msg.begin(), msg.end());

        Key key = it->first;
        if (key.transmits + 1 >= transmit_limit) {
            it->second.broadcast->finished();
            erase(it);
        } else {
            // Reinserted after the walk, or the next tier would see it again.
            Item item = std::move(it->second);
            erase(it);
            ++key.transmits;
            reinsert.emplace_back(key, std::move(item));
        }
    }
    for (auto& [key, item] : reinsert) {
        if (!item.name.empty()) by_name_[item.name] = key;
        items_.emplace(key, std::move(item));
    }
    return to_send;
}

std::vector<int> TransmitLimitedQueue::transmit_counts() const {
    std::vector<int> out;
    for (const auto& [key, item] : items_) out.push_back(key.transmits);
    return out;
}

void TransmitLimitedQueue::reset() {
    for (auto& [key, item] : items_) item.broadcast->finished();
    items_.clear();
    by_name_.clear();
    id_gen_ = 0;
}

void TransmitLimitedQueue::prune(std::size_t max_retain) {
    while (items_.size() > max_retain) {
        auto last = std::prev(items_.end());
        last->second.broadcast->finished();
        erase(last);
    }
}

} // namespace cairn::gossip
