#pragma once
// Heap allocations made so far by this process (operator new), see
// alloc_counter.cpp.
#include <cstddef>

namespace cairn::dns::test {
std::size_t allocation_count();
}
