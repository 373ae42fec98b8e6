#pragma once
// The engine's own broadcasts (memberlist's broadcast.go): an encoded alive,
// suspect or dead message, named by the node it is about, so a newer message
// about a node replaces the queued older one.

#include <functional>
#include <string>

#include "gossip/messages.hpp"
#include "gossip/queue.hpp"

namespace cairn::gossip {

class MemberlistBroadcast final : public Broadcast {
public:
    // `on_finished`, if set, runs when the broadcast leaves the queue (the
    // leave message's sender waits for that).
    MemberlistBroadcast(std::string node, Bytes msg, std::function<void()> on_finished = {})
        : node_(std::move(node))
        , msg_(std::move(msg))
        , on_finished_(std::move(on_finished)) {}

    [[nodiscard]] bool invalidates(const Broadcast& other) const override {
        const auto* mb = dynamic_cast<const MemberlistBroadcast*>(&other);
        return mb != nullptr && mb->node_ == node_;
    }
    [[nodiscard]] std::span<const std::uint8_t> message() const override { return msg_; }
    [[nodiscard]] std::string_view name() const override { return node_; }
    void finished() override {
        if (on_finished_) on_finished_();
    }

private:
    std::string node_;
    Bytes msg_;
    std::function<void()> on_finished_;
};

} // namespace cairn::gossip
