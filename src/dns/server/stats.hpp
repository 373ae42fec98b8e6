#pragma once
// Counters of one DNS thread (a worker's TCP loop or a UDP reader). Internal
// to src/dns/server/.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "core/metrics_text.hpp"
#include "dns/server/server.hpp"

namespace cairn::dns {

// Written by one thread, read by any; on its own cache lines so that threads
// do not share one.
// The clock of count_latency(): steady_clock (CLOCK_MONOTONIC, read through
// the vDSO, no system call).
inline std::uint64_t latency_clock_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

struct alignas(64) WorkerStats {
    std::atomic<std::uint64_t> udp_queries{0};
    std::atomic<std::uint64_t> tcp_queries{0};
    std::atomic<std::uint64_t> responses{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> tcp_connections{0};
    std::atomic<std::uint64_t> tcp_accepted{0};
    std::atomic<std::uint64_t> tcp_evicted{0};
    std::atomic<std::uint64_t> tcp_timeouts{0};
    std::atomic<std::uint64_t> deferred{0};
    // A thread serves one transport, so it counts its answers here and
    // add_to() files them under that transport.
    std::array<std::atomic<std::uint64_t>, 16> rcodes{};
    std::atomic<std::uint64_t> truncated{0};
    std::array<std::atomic<std::uint64_t>, Server::Stats::latency_bounds_ns.size() + 1> latency{};
    std::atomic<std::uint64_t> latency_sum_ns{0};

    void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    // For counters that several threads write (deferred UDP answers are
    // completed on whatever thread their answer came from).
    static void add_shared(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
        counter.fetch_add(n, std::memory_order_relaxed);
    }
    void sub(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
        counter.store(counter.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    // One answer made: its RCODE and TC bit, read from its header.
    // `shared`: this block is written by several threads.
    void count_answer(const std::uint8_t* answer, std::size_t length, bool shared = false) {
        if (length < 4) return; // not a DNS message; the Responder's contract rules it out
        auto bump = [&](std::atomic<std::uint64_t>& c) { shared ? add_shared(c) : add(c); };
        bump(rcodes[answer[3] & 0x0f]);
        if ((answer[2] & 0x02) != 0) bump(truncated);
    }
    // One answer made `ns` nanoseconds after its query was read.
    void count_latency(std::uint64_t ns) {
        add(latency[histogram_bucket(Server::Stats::latency_bounds_ns, ns)]);
        add(latency_sum_ns, ns);
    }
    void add_to(Server::Stats& total, Transport transport) const;
};

} // namespace cairn::dns
