// Batch order of one cell: the portable random generator every engine draw comes from, the seeds derived
// from the cell seed, and the three samplers of the `training.sampler` setting. Torch-free; one object per
// cell (no shared state), so cells may run concurrently.
//
// Samplers (docs/engine.md "Samplers"); b = training.batch, N = training samples, D = source domains
// (datasets, ordered by NAME), n_d = samples of source d, K' = classes present in the training set:
//   domain_balanced  every step holds exactly b samples of every source (b * D in all), source 0 first.
//                    One epoch = ceil(max_d n_d / b) steps (DomainBed's convention; issue 6). At the start of
//                    every epoch each source starts a fresh random permutation of its samples; a source whose
//                    permutation runs out within the epoch continues with a fresh one (smaller sources
//                    cycle). So within one epoch each sample of source d is drawn q or q + 1 times, q =
//                    floor(b * steps / n_d), and exactly (b * steps) mod n_d of them q + 1 times.
//   class_balanced   every step holds floor(b / K') samples of every class present, the b mod K' remaining
//                    slots going to classes in rotation (class (r0 + j) mod K', r0 advancing by b mod K' per
//                    step); each class cycles through fresh permutations of its samples as above. One epoch =
//                    ceil(N / b) steps.
//   shuffle          a fresh permutation of all N samples per epoch, cut into ceil(N / b) batches of b (the
//                    last one holds the remainder).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace merx::engine {

/// The seed of one purpose within a cell: hash64("<cell seed as decimal>/<purpose>") (merx/hash.h, SHA-256
/// based, the same on every platform). Purposes used by the engine: "init" (backbone + head
/// initialisation), "sampler", "source_val", "dropout" (torch's generator during training), and each
/// plugin's "<kind>:<name>" (e.g. "regularizer:brl") for the seed it receives.
uint64_t derive_seed(uint64_t cell_seed, std::string_view purpose);

/// std::mt19937_64 with draws that do not depend on the standard library (std::uniform_int_distribution and
/// std::shuffle are implementation-defined), so batch orders and splits are the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  /// Uniform integer in [0, n), n > 0 (rejection sampling: no modulo bias).
  uint64_t below(uint64_t n);
  /// Fisher-Yates shuffle drawing with below().
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(below(i))]);
  }

 private:
  std::mt19937_64 gen_;
};

/// One training sample as the sampler sees it.
struct SamplerItem {
  int64_t domain = 0;  // index into the cell's source domains (sorted by name), in [0, D)
  int64_t label = 0;   // class index in [0, K)
};

/// Draws the batches of a cell's training. Throws std::invalid_argument for an unknown kind, batch < 1,
/// no samples, or a domain/label index outside [0, D) / [0, K).
class BatchSampler {
 public:
  BatchSampler(std::string kind, int64_t batch, std::vector<SamplerItem> items, int64_t n_domains,
               int64_t n_classes, uint64_t seed);

  const std::string& kind() const { return kind_; }
  /// Steps in every epoch (see the top of this file).
  int64_t steps_per_epoch() const { return steps_; }
  /// The next epoch: steps_per_epoch() batches, each a list of positions into `items`.
  std::vector<std::vector<size_t>> next_epoch();

 private:
  // A pool that hands out its members in a fresh random order, reshuffling when exhausted.
  struct Cycle {
    std::vector<size_t> members, order;
    size_t pos = 0;
  };
  size_t draw(Cycle& c);
  void restart(Cycle& c);

  std::string kind_;
  int64_t batch_;
  size_t n_items_;
  int64_t steps_ = 0;
  Rng rng_;
  std::vector<Cycle> pools_;  // per domain (domain_balanced) or per class present (class_balanced)
  size_t rotation_ = 0;       // class_balanced: first class to get a remainder slot
};

}  // namespace merx::engine
