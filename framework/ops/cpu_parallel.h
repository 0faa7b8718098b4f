// Splits elementwise CPU work across OpenMP threads: [0, n) is cut into one contiguous range per
// thread, each handed to the (single-threaded) reference kernel. Every element is computed the
// same way whatever the split, so results do not depend on the thread count. OpenMP is the
// runtime OpenBLAS's OpenMP build already uses, so its threads are shared rather than fought over.
#pragma once

#include <omp.h>

#include <cstdint>

namespace minidl {

// item_cost: the elements of work per item (a plane's size, for kernels that split planes).
template <typename Fn>
void parallel_for(int64_t n, Fn&& fn, int64_t item_cost = 1) {
  // Below this many elements a parallel region costs more than it saves.
  constexpr int64_t kMinPerThread = 16384;
  if (n * item_cost < 2 * kMinPerThread || n < 2 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    fn(n * t / threads, n * (t + 1) / threads);
  }
}

}  // namespace minidl
