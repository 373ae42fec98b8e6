// Counts heap allocations, so tests can check that steady-state queries
// make none. The only replacement of the global operator new in test_dns;
// in its own file so the compiler does not inline it into library code (GCC
// then warns about malloc/free pairs it cannot see are ours).
#include <atomic>
#include <cstdlib>
#include <new>

#include "alloc_counter.hpp"

namespace {
std::atomic<std::size_t> count{0};
}

std::size_t cairn::dns::test::allocation_count() {
    return count.load(std::memory_order_relaxed);
}

void* operator new(std::size_t size) {
    count.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}

void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
