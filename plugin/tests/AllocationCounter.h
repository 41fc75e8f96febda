// A counting allocator for the tests: the global operator new is replaced in the
// test executable, and counts the allocations made on a thread while it is counting.
#pragma once

#include <cstddef>

namespace mgb_test
{
struct CountAllocations
{
    CountAllocations();
    ~CountAllocations();
    size_t count() const;
};
}
