#pragma once
// What the answer logic counts for /metrics: queries by QTYPE and service
// answers by the load-balancing policy that ordered them. Each Responder
// (one per DNS thread) writes its own AnswerCounters; the Catalog sums them
// when /metrics is read.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "registry/types.hpp"

namespace cairn::dns {

// The QTYPEs counted by name; any other is counted as "other".
inline constexpr std::array<std::uint16_t, 11> counted_qtypes{1,  2,  5,  6,  12, 15,
                                                              16, 28, 33, 65, 255};
inline constexpr std::size_t qtype_slots = counted_qtypes.size() + 1;
// registry::Policy's values, unset (0) to the last one.
inline constexpr std::size_t policy_slots =
    static_cast<std::size_t>(registry::Policy::least_loaded) + 1;

[[nodiscard]] constexpr std::size_t qtype_slot(std::uint16_t qtype) {
    for (std::size_t i = 0; i < counted_qtypes.size(); ++i)
        if (counted_qtypes[i] == qtype) return i;
    return counted_qtypes.size();
}
// "A", "NS", ... "ANY", and "other" for the last slot.
[[nodiscard]] std::string_view qtype_slot_name(std::size_t slot);

// Written by one thread, read by any (relaxed loads and stores, no
// read-modify-write); on cache lines of its own.
struct alignas(64) AnswerCounters {
    std::array<std::atomic<std::uint64_t>, qtype_slots> by_qtype{};
    std::array<std::atomic<std::uint64_t>, policy_slots> by_policy{};

    static void add(std::atomic<std::uint64_t>& counter) {
        counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void count_qtype(std::uint16_t qtype) { add(by_qtype[qtype_slot(qtype)]); }
    void count_policy(std::uint8_t policy) {
        if (policy < policy_slots) add(by_policy[policy]);
    }
};

// The sum over every Responder.
struct AnswerStats {
    std::array<std::uint64_t, qtype_slots> by_qtype{};
    std::array<std::uint64_t, policy_slots> by_policy{};

    void add(const AnswerCounters& c) {
        for (std::size_t i = 0; i < by_qtype.size(); ++i)
            by_qtype[i] += c.by_qtype[i].load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < by_policy.size(); ++i)
            by_policy[i] += c.by_policy[i].load(std::memory_order_relaxed);
    }
};

// The families cairn_dns_queries_by_type_total{qtype} and
// cairn_dns_answers_by_policy_total{policy}.
[[nodiscard]] std::string format_answer_metrics(const AnswerStats& stats);

} // namespace cairn::dns
