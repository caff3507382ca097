// Augmenter plugin interface: fitted once per cell on that cell's training samples only (never on its
// validation or test samples), then either extends the training set (`au_gan`, `oversample`) or transforms
// each training batch (`flip`, `jitter`, `mixup`).
//
// Interface version 2 (kApiVersion) added artifacts() and the `synthetic` domain id for extend(); the host
// calls artifacts() only on plugins built with version >= 2 and never hands a version-1 plugin anything new,
// so version-1 plugins load and run unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

namespace merx {

/// A set of samples in the recipe's tensor space.
struct SampleSet {
  torch::Tensor x;       // [N, C, H, W] float32
  torch::Tensor y;       // [N] int64 class index in [0, K)
  torch::Tensor domain;  // [N] int64 index into AugmenterSetup::source_domains
  torch::Tensor au;      // [N, A] float32 AU intensities 0..5 (A = au_ids.size()), NaN row = no AU info;
                         // undefined tensor when the cell has no AU source. Every row comes from ONE
                         // source: an augmenter that declares a string parameter `au_source` gets that
                         // source (annotations | openface | flow_roi; docs/spec.md "AU sources"), any
                         // other augmenter the corpus annotations
  std::vector<int64_t> au_ids;    // FACS AU numbers of the columns of `au`
  std::vector<std::string> keys;  // sample keys (empty for generated samples)
};

struct AugmenterSetup {
  std::vector<std::string> source_domains;
  std::vector<std::string> class_names;  // index = class id
  uint64_t seed = 0;                     // derived from (cell seed, plugin name)
  torch::Device device = torch::kCPU;
};

enum class AugmenterMode {
  Identity,   // does nothing (`none`)
  Extend,     // extend(): adds samples to the training set once per cell
  Transform,  // transform(): rewrites every training batch
};

class Augmenter {
 public:
  static constexpr const char* kKind = "augmenter";
  static constexpr uint32_t kApiVersion = 2;

  /// Domain id extend() may give a generated sample that belongs to no source (API >= 2): the engine adds
  /// one training domain named "synthetic" after the sources (so it is index source_domains.size()). A
  /// dataset of that name in the same cell is a user error.
  static int64_t synthetic_domain(const AugmenterSetup& setup) {
    return static_cast<int64_t>(setup.source_domains.size());
  }

  virtual ~Augmenter() = default;

  virtual AugmenterMode mode() const = 0;

  /// Fit on the cell's training samples (training minus validation split). Called once per cell.
  virtual void fit(const AugmenterSetup& setup, const SampleSet& train) = 0;

  /// Mode Extend: the samples to ADD to `train` (not including it). Domain ids index the same list.
  virtual SampleSet extend(const SampleSet& train) { (void)train; return {}; }

  /// Mode Transform: rewrite one training batch in place (x, y may change; shapes of x must not).
  virtual void transform(SampleSet& batch, int64_t step) { (void)batch; (void)step; }

  /// API >= 2: what to store with the cell, read once after extend() (Extend mode) or fit(): a JSON object
  /// whose keys become the cell's artifact names "<plugin name>.<key>" (e.g. "au_gan.quality"; values any
  /// JSON); null or {} = nothing. Of a cell with several training runs, the reported run's are stored.
  virtual nlohmann::json artifacts() const { return nullptr; }
};

}  // namespace merx
