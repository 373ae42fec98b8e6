// The engine's side of broadcasting (memberlist's broadcast.go).
#include "gossip/broadcast.hpp"

#include "gossip/codec.hpp"
#include "gossip/memberlist.hpp"

namespace cairn::gossip {

// Queues an encoded message about `node`; it replaces whatever was queued
// about that node before.
void Memberlist::encode_and_broadcast(const std::string& node, Bytes msg, bool leave_notify) {
    std::function<void()> done;
    if (leave_notify) done = [this] { leave_done_ = true; };
    broadcasts_.queue_broadcast(
        std::make_unique<MemberlistBroadcast>(node, std::move(msg), std::move(done)));
}

// Our broadcasts first, then the delegate's in the space that is left, each
// framed as a user message.
std::vector<Bytes> Memberlist::get_broadcasts(std::size_t overhead, std::size_t limit) {
    std::vector<Bytes> to_send = broadcasts_.get_broadcasts(overhead, limit);
    if (delegates_.delegate == nullptr) return to_send;

    std::size_t used = 0;
    for (const Bytes& m : to_send) used += m.size() + overhead;
    constexpr std::size_t user_msg_overhead = 1;
    if (used > limit) return to_send;
    const std::size_t avail = limit - used;
    if (avail <= overhead + user_msg_overhead) return to_send;
    for (const Bytes& m : delegates_.delegate->get_broadcasts(overhead + user_msg_overhead, avail))
        to_send.push_back(encode_user(m));
    return to_send;
}

} // namespace cairn::gossip
