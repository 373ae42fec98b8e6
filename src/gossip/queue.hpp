#pragma once
// Broadcasts waiting to be piggybacked on packets (memberlist's queue.go).
// Each is sent at most retransmit_mult * ceil(log10(N+1)) times; fresher
// broadcasts (fewer transmits) go first, and within a tier the largest that
// still fits. A new broadcast about a node replaces the older one about it.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cairn::gossip {

// Something that can be broadcast (memberlist's Broadcast, NamedBroadcast and
// UniqueBroadcast in one interface).
class Broadcast {
public:
    virtual ~Broadcast() = default;
    // Whether queueing this broadcast makes `other` obsolete. Asked only of
    // broadcasts that are neither named nor unique.
    [[nodiscard]] virtual bool invalidates(const Broadcast& other) const = 0;
    // The bytes to send; must not change while queued.
    [[nodiscard]] virtual std::span<const std::uint8_t> message() const = 0;
    // Called once when the broadcast leaves the queue: transmit limit reached,
    // invalidated, pruned or reset.
    virtual void finished() {}
    // Non-empty: a named broadcast; a newer one of the same name replaces it.
    [[nodiscard]] virtual std::string_view name() const { return {}; }
    // True: never invalidates and is never invalidated (no scan on queueing).
    [[nodiscard]] virtual bool unique() const { return false; }
};

class TransmitLimitedQueue {
public:
    // `num_nodes` is asked for the cluster size whenever the limit is needed.
    TransmitLimitedQueue(int retransmit_mult, std::function<int()> num_nodes);
    ~TransmitLimitedQueue();
    TransmitLimitedQueue(const TransmitLimitedQueue&) = delete;
    TransmitLimitedQueue& operator=(const TransmitLimitedQueue&) = delete;

    void queue_broadcast(std::unique_ptr<Broadcast> b) { queue_broadcast(std::move(b), 0); }
    // With a starting transmit count, for tests (memberlist's queueBroadcast).
    void queue_broadcast(std::unique_ptr<Broadcast> b, int initial_transmits);

    // Broadcasts that fit in `limit` bytes when each costs `overhead` bytes
    // more than its message; each returned one counts as transmitted once.
    [[nodiscard]] std::vector<std::vector<std::uint8_t>> get_broadcasts(std::size_t overhead,
                                                                        std::size_t limit);

    [[nodiscard]] std::size_t num_queued() const { return items_.size(); }
    // Transmit counts in sending order (for tests).
    [[nodiscard]] std::vector<int> transmit_counts() const;
    // Drops everything.
    void reset();
    // Keeps the max_retain freshest broadcasts.
    void prune(std::size_t max_retain);

private:
    struct Key {
        int transmits;
        std::int64_t msg_len;
        std::int64_t id;
    };
    // Fewer transmits first, then longer messages, then newer ones.
    struct Less {
        bool operator()(const Key& a, const Key& b) const {
            if (a.transmits != b.transmits) return a.transmits < b.transmits;
            if (a.msg_len != b.msg_len) return a.msg_len > b.msg_len;
            return a.id > b.id;
        }
    };
    struct Item {
        std::unique_ptr<Broadcast> broadcast;
        std::string name;
    };
    using Items = std::map<Key, Item, Less>;

    void erase(Items::iterator it);

    int retransmit_mult_;
    std::function<int()> num_nodes_;
    Items items_;
    std::unordered_map<std::string, Key> by_name_;
    std::int64_t id_gen_ = 0;
};

} // namespace cairn::gossip
