// Augmenter plugin interface: fitted once per cell on that cell's training samples only (never on its
// validation or test samples), then either extends the training set (`au_gan`, `oversample`) or transforms
// each training batch (`flip`, `jitter`, `mixup`).
//
// Interface version 2 added artifacts() and the `synthetic` domain id for extend(); version 3 (kApiVersion)
// added AugmenterSetup::channels, synthetic_loss_weight() and warnings(). The host calls a method only on
// plugins built with a version that has it (new virtuals are appended, new setup fields come last), so
// version-1 and -2 plugins load and run unchanged.
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
  // API >= 3 (appended: older plugins never read it). Names of x's channels as the recipe makes them:
  // {"u", "v", "strain"} (flow_strain; u, v in pixels of the S x S grid, strain dimensionless),
  // {"u", "v"} (flow_uv), {"gray"} (apex_gray), {"onset", "apex"} (onset_apex); empty = unknown.
  std::vector<std::string> channels;
};

enum class AugmenterMode {
  Identity,   // does nothing (`none`)
  Extend,     // extend(): adds samples to the training set once per cell
  Transform,  // transform(): rewrites every training batch
};

class Augmenter {
 public:
  static constexpr const char* kKind = "augmenter";
  static constexpr uint32_t kApiVersion = 3;

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

  /// API >= 3, Extend mode: weight of a generated sample's cross-entropy relative to a real sample's (1 =
  /// the same). The engine applies it inside each domain's mean loss (StepInput::domain_losses).
  virtual double synthetic_loss_weight() const { return 1.0; }

  /// API >= 3: problems the host must not let pass silently (e.g. a class whose generated samples failed a
  /// quality gate), read after fit()/extend(). The engine logs each as a warning naming the cell and
  /// stores them as the artifact "engine.augmenter_warnings".
  virtual std::vector<std::string> warnings() const { return {}; }
};

}  // namespace merx
