#pragma once
// Counters of one DNS thread (a worker's TCP loop or a UDP reader). Internal
// to src/dns/server/.

#include <atomic>
#include <cstdint>

#include "dns/server/server.hpp"

namespace cairn::dns {

// Written by one thread, read by any; on its own cache lines so that threads
// do not share one.
struct alignas(64) WorkerStats {
    std::atomic<std::uint64_t> udp_queries{0};
    std::atomic<std::uint64_t> tcp_queries{0};
    std::atomic<std::uint64_t> responses{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> tcp_connections{0};
    std::atomic<std::uint64_t> tcp_accepted{0};
    std::atomic<std::uint64_t> tcp_evicted{0};
    std::atomic<std::uint64_t> tcp_timeouts{0};

    void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1)
    {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void sub(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1)
    {
        counter.store(counter.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    void add_to(Server::Stats& total) const;
};

} // namespace cairn::dns
