// Internal to the engine: reproducible random draws for cells that run side by side in one process.
//
// Dropout, module initialisation and plugins draw from torch's *default* generators, which are process-wide
// (one CPU generator, one per CUDA device). A cell that runs alone seeds them (derive_seed, docs/engine.md
// "Seeds") and then consumes them in a fixed order. To keep that order when several cells run at once, every
// stretch of a cell's code that may draw (plugin creation and fitting, augmenter transform, forward pass,
// regularizer objective) runs under one process-wide lock, and each training run keeps its own copy of the
// generators' state: a Guard loads it into the default generators and saves it back when it ends. A cell's
// draws are therefore exactly those it makes when run alone, whatever the other cells do (tested in
// tests/engine/sched_test.cpp). The backward pass and the optimizer step draw nothing and run outside the
// lock, so concurrent cells still overlap most of their work.
#pragma once

#include <cstdint>
#include <mutex>

#include <torch/types.h>

namespace merx::engine::detail {

/// The lock around every use of torch's default generators by the engine (and the plugins it calls).
std::mutex& default_generator_mutex();

/// One training run's private view of the default generators (CPU, plus the run's CUDA device if any).
class RngLane {
 public:
  explicit RngLane(torch::Device device) : device_(device) {}

  /// The state torch::manual_seed(seed) gives (computed under the lock; the global generators are left
  /// as the lock found them).
  void seed(uint64_t seed);

  /// Holds the lock; loads the lane's state into the default generators, saves it back on destruction.
  /// A lane that was never seeded keeps whatever state the generators have (nothing is loaded).
  class Guard {
   public:
    explicit Guard(RngLane& lane);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    RngLane& lane_;
    std::lock_guard<std::mutex> lock_;
  };

 private:
  torch::Device device_;
  torch::Tensor cpu_state_, cuda_state_;  // undefined until seed()
};

}  // namespace merx::engine::detail
