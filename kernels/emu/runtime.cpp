#include "kernels/emu/runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <exception>
#include <memory>
#include <random>
#include <sstream>
#include <utility>
#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define MINIDL_EMU_ASAN 1
#endif

namespace minidl::emu {

namespace {

namespace ctx = boost::context::detail;

enum class State { Ready, AtBarrier, AtWarp, Done };

struct Fiber {
  ThreadContext thread;
  ctx::fcontext_t context = nullptr;  // where the fiber resumes
  void* stack_bottom = nullptr;
  State state = State::Ready;
  std::source_location site;           // of the barrier or warp operation it waits at
  const char* warp_op = nullptr;
  unsigned warp_mask = 0;
  int predicate = 0;                   // for __syncthreads_count/_and/_or
  int barrier_result = 0;
  uint64_t deposit = 0;                // this lane's value for the pending warp operation
  uint64_t exchanged[32] = {};         // the warp's values after it
};

constexpr size_t kStackBytes = 128 * 1024;

// Fiber stacks with a guard page below each, kept for reuse across launches.
class StackPool {
 public:
  ~StackPool() {
    for (void* base : bases_) munmap(base, kStackBytes + page());
  }
  void* bottom(size_t i) {
    while (bases_.size() <= i) {
      void* base = mmap(nullptr, kStackBytes + page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (base == MAP_FAILED) throw Error("emulator: cannot map a fiber stack");
      mprotect(base, page(), PROT_NONE);  // an overflow faults instead of corrupting a neighbour
      bases_.push_back(base);
    }
    return static_cast<char*>(bases_[i]) + page();
  }

 private:
  static size_t page() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }
  std::vector<void*> bases_;
};

struct Block {
  const LaunchConfig* config = nullptr;
  const std::function<void()>* body = nullptr;
  std::vector<Fiber> fibers;
  Fiber* running = nullptr;
  ctx::fcontext_t scheduler = nullptr;
  std::exception_ptr error;
  Fiber* error_fiber = nullptr;
  std::vector<unsigned char> static_arena = std::vector<unsigned char>(DeviceLimits::kMaxSharedBytes);
  size_t static_used = 0;
  std::unordered_map<const void*, size_t> static_offsets;
  std::vector<unsigned char> dynamic_arena;
#if MINIDL_EMU_ASAN
  const void* scheduler_stack = nullptr;
  size_t scheduler_stack_size = 0;
#endif
};

thread_local Block* g_block = nullptr;

std::string dims(const uint3& d) { return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")"; }
std::string dims(const dim3& d) { return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")"; }
std::string where(const std::source_location& s) { return std::string(s.file_name()) + ":" + std::to_string(s.line()); }

[[noreturn]] void fail(const Block& b, const std::string& what) {
  throw Error("kernel " + std::string(b.config->kernel) + ", block " + dims(b.fibers[0].thread.block_idx) + ": " + what);
}

Block& block() {
  if (g_block == nullptr || g_block->running == nullptr)
    throw Error("a CUDA device function was called outside an emulated kernel");
  return *g_block;
}

// Switches from the running fiber back to the scheduler; returns when the scheduler resumes it.
void yield_to_scheduler(Block& b, bool exiting) {
#if MINIDL_EMU_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(exiting ? nullptr : &fake, b.scheduler_stack, b.scheduler_stack_size);
#endif
  const ctx::transfer_t back = ctx::jump_fcontext(b.scheduler, nullptr);
  b.scheduler = back.fctx;
#if MINIDL_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  (void)exiting;
}

void fiber_main(ctx::transfer_t from) {
  Block& b = *g_block;
  b.scheduler = from.fctx;
#if MINIDL_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &b.scheduler_stack, &b.scheduler_stack_size);
#endif
  Fiber* self = b.running;
  try {
    (*b.body)();
  } catch (...) {
    b.error = std::current_exception();
    b.error_fiber = self;
  }
  self->state = State::Done;
  yield_to_scheduler(b, true);
  std::abort();  // a finished fiber is never resumed
}

void resume(Block& b, Fiber& f) {
  b.running = &f;
#if MINIDL_EMU_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f.stack_bottom, kStackBytes);
#endif
  const ctx::transfer_t back = ctx::jump_fcontext(f.context, nullptr);
#if MINIDL_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  f.context = back.fctx;
  b.running = nullptr;
}

std::string rethrown_message(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

// Releases every warp group whose named lanes have all arrived; reports a named lane that exited.
void release_warps(Block& b) {
  const size_t warps = (b.fibers.size() + 31) / 32;
  for (size_t w = 0; w < warps; ++w) {
    Fiber* lanes = &b.fibers[w * 32];
    const size_t count = std::min<size_t>(32, b.fibers.size() - w * 32);
    for (size_t l = 0; l < count; ++l) {
      if (lanes[l].state != State::AtWarp) continue;
      const Fiber& first = lanes[l];
      bool all_here = true;
      for (size_t m = 0; m < 32; ++m) {
        if (!(first.warp_mask >> m & 1u)) continue;
        if (m >= count || lanes[m].state == State::Done) {
          fail(b, std::string(first.warp_op) + " at " + where(first.site) + " in warp " + std::to_string(w) +
                      " names lane " + std::to_string(m) + " in its mask, but that lane " +
                      (m >= count ? "does not exist" : "has exited") + " (a full-mask warp operation reached by part of a warp)");
        }
        if (lanes[m].state != State::AtWarp) {
          all_here = false;
          continue;
        }
        if (lanes[m].warp_mask != first.warp_mask) {
          fail(b, std::string(first.warp_op) + " at " + where(first.site) + ": lanes " + std::to_string(l) + " and " +
                      std::to_string(m) + " of warp " + std::to_string(w) + " meet with different masks");
        }
      }
      if (!all_here) continue;
      for (size_t m = 0; m < 32; ++m) {
        if (!(first.warp_mask >> m & 1u)) continue;
        for (size_t k = 0; k < 32; ++k)
          if (first.warp_mask >> k & 1u) lanes[m].exchanged[k] = lanes[k].deposit;
      }
      for (size_t m = 0; m < 32; ++m)
        if (first.warp_mask >> m & 1u) lanes[m].state = State::Ready;
    }
  }
}

// All live fibers wait at a barrier: checks that the whole block is there, at one site, and
// releases it.
void release_barrier(Block& b) {
  const Fiber* waiting = nullptr;
  size_t arrived = 0, done = 0;
  int count = 0;
  for (const Fiber& f : b.fibers) {
    if (f.state == State::Done) {
      ++done;
    } else if (f.state == State::AtBarrier) {
      ++arrived;
      count += f.predicate != 0;
      if (waiting == nullptr) waiting = &f;
      if (f.site.line() != waiting->site.line() || std::strcmp(f.site.file_name(), waiting->site.file_name()) != 0) {
        fail(b, "threads wait at different barriers: " + where(waiting->site) + " (thread " +
                    dims(waiting->thread.thread_idx) + ") and " + where(f.site) + " (thread " + dims(f.thread.thread_idx) +
                    ")");
      }
    }
  }
  if (done > 0) {
    const Fiber* exited = nullptr;
    for (const Fiber& f : b.fibers)
      if (f.state == State::Done && exited == nullptr) exited = &f;
    fail(b, "__syncthreads() at " + where(waiting->site) + " reached by " + std::to_string(arrived) + " of " +
                std::to_string(b.fibers.size()) + " threads; thread " + dims(exited->thread.thread_idx) +
                " had already exited (guard the work instead of returning early)");
  }
  for (Fiber& f : b.fibers) {
    f.barrier_result = count;
    f.state = State::Ready;
  }
}

[[noreturn]] void deadlock(Block& b) {
  // Group the waiting threads by where they wait, in first-seen order.
  std::vector<std::pair<std::string, int>> sites;
  for (const Fiber& f : b.fibers) {
    if (f.state == State::Done) continue;
    const std::string site =
        std::string(f.state == State::AtBarrier ? "__syncthreads()" : f.warp_op) + " at " + where(f.site);
    auto it = std::find_if(sites.begin(), sites.end(), [&](const auto& s) { return s.first == site; });
    if (it == sites.end()) sites.emplace_back(site, 1);
    else ++it->second;
  }
  std::string what = "deadlock: no thread can proceed:";
  for (const auto& [site, count] : sites) what += " " + std::to_string(count) + " wait at " + site + ";";
  fail(b, what + " (a barrier and a warp operation that wait for each other)");
}

std::vector<size_t> visiting_order(size_t n, std::mt19937_64* shuffle) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  if (shuffle) std::shuffle(order.begin(), order.end(), *shuffle);
  return order;
}

void run_block(Block& b, StackPool& stacks, std::mt19937_64* shuffle) {
  std::memset(b.static_arena.data(), 0xff, b.static_arena.size());
  if (!b.dynamic_arena.empty()) std::memset(b.dynamic_arena.data(), 0xff, b.dynamic_arena.size());
  b.static_used = 0;
  b.static_offsets.clear();
  for (size_t i = 0; i < b.fibers.size(); ++i) {
    Fiber& f = b.fibers[i];
    f.state = State::Ready;
    f.stack_bottom = stacks.bottom(i);
#if MINIDL_EMU_ASAN
    // A fiber that exited never unwound its frames: clear their poison before the stack is reused.
    ASAN_UNPOISON_MEMORY_REGION(f.stack_bottom, kStackBytes);
#endif
    f.context = ctx::make_fcontext(static_cast<char*>(f.stack_bottom) + kStackBytes, kStackBytes, fiber_main);
  }
  for (;;) {
    for (size_t i : visiting_order(b.fibers.size(), shuffle)) {
      Fiber& f = b.fibers[i];
      if (f.state != State::Ready) continue;
      resume(b, f);
      if (b.error) {
        const Fiber& bad = *b.error_fiber;
        throw Error("kernel " + std::string(b.config->kernel) + ", block " + dims(bad.thread.block_idx) + ", thread " +
                    dims(bad.thread.thread_idx) + ": " + rethrown_message(b.error));
      }
    }
    release_warps(b);
    bool any_ready = false, all_done = true, all_at_barrier_or_done = true;
    for (const Fiber& f : b.fibers) {
      any_ready = any_ready || f.state == State::Ready;
      all_done = all_done && f.state == State::Done;
      all_at_barrier_or_done = all_at_barrier_or_done && (f.state == State::AtBarrier || f.state == State::Done);
    }
    if (all_done) return;
    if (any_ready) continue;
    if (all_at_barrier_or_done) {
      release_barrier(b);
      continue;
    }
    deadlock(b);
  }
}

void check_config(const LaunchConfig& c) {
  const unsigned block[3] = {c.block.x, c.block.y, c.block.z}, grid[3] = {c.grid.x, c.grid.y, c.grid.z};
  const uint64_t threads = uint64_t{c.block.x} * c.block.y * c.block.z;
  auto bad = [&](const std::string& why) {
    throw Error("kernel " + std::string(c.kernel) + ": invalid launch grid " + dims(c.grid) + " block " + dims(c.block) +
                ": " + why);
  };
  for (int d = 0; d < 3; ++d) {
    if (block[d] == 0 || grid[d] == 0) bad("every dimension must be at least 1");
    if (block[d] > DeviceLimits::kMaxBlock[d]) bad("block dim " + std::to_string(d) + " exceeds " + std::to_string(DeviceLimits::kMaxBlock[d]));
    if (grid[d] > DeviceLimits::kMaxGrid[d]) bad("grid dim " + std::to_string(d) + " exceeds " + std::to_string(DeviceLimits::kMaxGrid[d]));
  }
  if (threads > DeviceLimits::kMaxThreadsPerBlock) bad(std::to_string(threads) + " threads per block exceed 1024");
  if (c.dynamic_shared_bytes > DeviceLimits::kMaxSharedBytes)
    bad(std::to_string(c.dynamic_shared_bytes) + " bytes of dynamic shared memory exceed the " +
        std::to_string(DeviceLimits::kMaxSharedBytes) + "-byte limit");
}

std::unique_ptr<std::mt19937_64> schedule_from_environment() {
  const char* spec = std::getenv("MINIDL_EMU_SCHEDULE");
  if (spec == nullptr || std::strcmp(spec, "round-robin") == 0) return nullptr;
  if (std::strncmp(spec, "shuffle:", 8) == 0) return std::make_unique<std::mt19937_64>(std::strtoull(spec + 8, nullptr, 10));
  throw Error(std::string("MINIDL_EMU_SCHEDULE='") + spec + "': expected round-robin or shuffle:SEED");
}

}  // namespace

const ThreadContext& current_thread() { return block().running->thread; }

void run_grid(const LaunchConfig& config, const std::function<void()>& body) {
  check_config(config);
  if (g_block != nullptr) throw Error("kernel " + std::string(config.kernel) + " launched from inside a kernel");
  thread_local StackPool stacks;
  const std::unique_ptr<std::mt19937_64> shuffle = schedule_from_environment();
  Block b;
  b.config = &config;
  b.body = &body;
  b.dynamic_arena.resize(config.dynamic_shared_bytes);
  b.fibers.resize(size_t{config.block.x} * config.block.y * config.block.z);
  g_block = &b;
  struct Reset {
    ~Reset() { g_block = nullptr; }
  } reset;
  for (unsigned bz = 0; bz < config.grid.z; ++bz)
    for (unsigned by = 0; by < config.grid.y; ++by)
      for (unsigned bx = 0; bx < config.grid.x; ++bx) {
        unsigned linear = 0;
        for (unsigned tz = 0; tz < config.block.z; ++tz)
          for (unsigned ty = 0; ty < config.block.y; ++ty)
            for (unsigned tx = 0; tx < config.block.x; ++tx, ++linear)
              b.fibers[linear].thread = {{tx, ty, tz}, {bx, by, bz}, config.block, config.grid, linear};
        run_block(b, stacks, shuffle.get());
      }
}

int block_barrier(int predicate, std::source_location site) {
  Block& b = block();
  Fiber& f = *b.running;
  f.state = State::AtBarrier;
  f.site = site;
  f.predicate = predicate;
  yield_to_scheduler(b, false);
  return f.barrier_result;
}

const uint64_t* warp_exchange(unsigned mask, uint64_t value, const char* op, std::source_location site) {
  Block& b = block();
  Fiber& f = *b.running;
  const unsigned lane = f.thread.linear % 32;
  if (!(mask >> lane & 1u)) {
    fail(b, std::string(op) + " at " + where(site) + ": calling lane " + std::to_string(lane) + " is not in mask 0x" +
                [&] { std::ostringstream s; s << std::hex << mask; return s.str(); }());
  }
  f.state = State::AtWarp;
  f.site = site;
  f.warp_op = op;
  f.warp_mask = mask;
  f.deposit = value;
  yield_to_scheduler(b, false);
  return f.exchanged;
}

unsigned active_lanes() {
  Block& b = block();
  const size_t warp = b.running->thread.linear / 32;
  unsigned mask = 0;
  for (size_t l = 0; l < 32 && warp * 32 + l < b.fibers.size(); ++l)
    if (b.fibers[warp * 32 + l].state != State::Done) mask |= 1u << l;
  return mask;
}

void* static_shared(const void* site, size_t bytes, size_t align) {
  Block& b = block();
  auto it = b.static_offsets.find(site);
  if (it == b.static_offsets.end()) {
    const size_t offset = (b.static_used + align - 1) / align * align;
    if (offset + bytes + b.dynamic_arena.size() > DeviceLimits::kMaxSharedBytes) {
      fail(b, std::to_string(offset + bytes) + " bytes of static and " + std::to_string(b.dynamic_arena.size()) +
                  " bytes of dynamic shared memory exceed the " + std::to_string(DeviceLimits::kMaxSharedBytes) +
                  "-byte limit");
    }
    b.static_used = offset + bytes;
    it = b.static_offsets.emplace(site, offset).first;
  }
  return b.static_arena.data() + it->second;
}

void* dynamic_shared() { return block().dynamic_arena.data(); }

}  // namespace minidl::emu
