#pragma once
// Lifeguard's dynamic suspicion timeout (memberlist's suspicion.go). A suspect
// node is declared dead after a timeout that starts at `max` and shrinks
// logarithmically towards `min` as k independent peers confirm the suspicion:
//
//   timeout(n) = max - log(n+1)/log(k+1) * (max - min),  floored to ms, >= min
//
// There is no timer here: the owner asks deadline() and acts when its clock
// passes it, which is when memberlist's timer would have fired.

#include <set>
#include <string>

#include "gossip/time.hpp"

namespace cairn::gossip {

class Suspicion {
public:
    // `from` (who raised the suspicion) never counts as a confirmation, since
    // our own suspect message may be gossiped back to us. With k < 1 no
    // confirmations are expected and the timeout is `min` from the start.
    Suspicion(const std::string& from, int k, Duration min, Duration max, TimePoint start);

    // Records a confirmation from a peer. True if it was new information (so
    // the suspect message is worth re-gossiping); false for a duplicate, for
    // `from`, or once k confirmations have been seen.
    bool confirm(const std::string& from);

    // When the node is to be declared dead. May lie in the past after a
    // confirmation: then the owner acts at once.
    [[nodiscard]] TimePoint deadline() const;
    [[nodiscard]] int confirmations() const { return n_; }
    [[nodiscard]] int expected_confirmations() const { return k_; }
    [[nodiscard]] TimePoint start() const { return start_; }

private:
    int n_ = 0;
    int k_;
    Duration min_;
    Duration max_;
    TimePoint start_;
    std::set<std::string> confirmed_;
};

// memberlist's remainingSuspicionTime: what is left of the timeout after
// `elapsed`, given n of k confirmations. Negative when overdue.
[[nodiscard]] Duration remaining_suspicion_time(int n, int k, Duration elapsed, Duration min,
                                                Duration max);

} // namespace cairn::gossip
