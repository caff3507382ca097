// One cell (sweep point x seed x fold) on tensors already built: a fresh backbone, shared linear head,
// regularizer and augmenter; training with the cell's sampler, optimizer and schedule; model selection; and
// evaluation of the test split. No globals of its own: every object lives in the call, so cells run side by
// side (merx/engine/run.h); torch's default generators are shared, and the engine serialises and
// per-run-saves every use of them (framework/engine/rng_lane.h), so a cell's result does not depend on what
// runs next to it. Thread safety: run_cell may be called from several threads at once.
//
// Shapes: x [N, C, H, W] float32 (the recipe's tensors, e.g. [N, 3, 28, 28]); features [B, F]; logits
// [B, K] (K = classes). Labels are class indices in [0, K).
//
// Test labels are unreachable from training and selection: the test samples live in a TestSplit, whose
// contents only evaluate() reads; run_cell hands it to evaluate() after training, and to nothing else —
// except under `selection: oracle`, which by definition scores every epoch on the test split (stored with
// selection = "oracle").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "merx/backbone.h"
#include "merx/metrics/metrics.h"
#include "merx/plugins/registry.h"
#include "merx/spec/settings.h"
#include "merx/store/store.h"

namespace merx::engine {

/// The training samples of a cell (CPU or device tensors; run_cell moves them to the cell's device).
struct TrainSet {
  torch::Tensor x;                    // [N, C, H, W] float32
  std::vector<int64_t> y;             // [N] class index in [0, K)
  std::vector<int64_t> domain;        // [N] index into CellData::source_domains
  std::vector<std::string> keys;      // [N] sample keys "dataset/subject/clip"
  std::vector<std::string> subjects;  // [N] global subject ids (source_val holds out whole subjects)
  torch::Tensor au;                   // [N, A] float32 AU intensities 0..5, NaN row = no AU information;
                                      // undefined when no training sample has any
  std::vector<int64_t> au_ids;        // FACS numbers of the A columns of `au`
  /// true: `au` holds raw flow_roi magnitudes (au_source `flow_roi`, merx/preprocessing/au_roi.h), not yet
  /// 0..5. Each training run scales the rows it trains on — the fit rows, never its validation rows — by
  /// their 95th percentile (prep::scale_flow_roi) before fitting the augmenter, so validation clips do not
  /// shape the augmenter (artifact "engine.training" au_flow_roi_q95: the percentile used).
  bool au_flow_roi_raw = false;

  size_t size() const { return y.size(); }
};

class TestSplit;
struct Model;

/// What evaluate() returns.
struct Evaluation {
  std::vector<Prediction> predictions;  // in test order: key, true class, predicted class, probabilities
  metrics::Confusion confusion;         // [K, K] over the predictions
};

/// The test samples of a cell. Only evaluate() can read them.
class TestSplit {
 public:
  TestSplit() = default;
  /// x [M, C, H, W] float32; y [M] class indices; keys [M] unique sample keys. std::invalid_argument when
  /// the sizes differ.
  TestSplit(torch::Tensor x, std::vector<int64_t> y, std::vector<std::string> keys);
  size_t size() const { return keys_.size(); }

 private:
  friend Evaluation evaluate(Model& model, const TestSplit& test, const std::vector<std::string>& classes,
                             int64_t batch, torch::Device device);
  torch::Tensor x_;
  std::vector<int64_t> y_;
  std::vector<std::string> keys_;
};

/// The network that is evaluated: backbone features -> shared linear head ([B, F] -> [B, K]).
struct Model {
  std::shared_ptr<Backbone> backbone;
  torch::nn::Linear head{nullptr};

  /// x [B, C, H, W] -> logits [B, K] in the current mode.
  torch::Tensor logits(const torch::Tensor& x);
  /// Puts backbone and head into training (true) or evaluation mode.
  void set_training(bool on);
};

/// Predicts every test sample in evaluation mode without gradients, in batches of `batch` samples taken in
/// test order (batch norm uses its running statistics, so a sample's output does not depend on the rest
/// of its batch). Predicted class = argmax of the logits (first index on ties); probabilities = softmax.
/// Leaves the model in evaluation mode. std::invalid_argument for batch < 1 or labels outside [0, K).
Evaluation evaluate(Model& model, const TestSplit& test, const std::vector<std::string>& classes,
                    int64_t batch, torch::Device device);

/// The counterfactual twin clips of a cell (docs/engine.md "Counterfactual twins"). After training, the
/// reported model predicts `twins` as it predicts the test split; a pair flips when the twin clip's
/// predicted class differs from that of its original test clip.
struct Counterfactual {
  std::vector<std::string> twin_datasets;  // twins of this cell's test datasets, spec order; empty = none
  TestSplit twins;                         // [M'] twin clips (labels: the twin's own classes)
  std::vector<std::string> originals;      // [M'] key of the test clip each twin clip is paired with
  /// Twin dataset -> keys without a partner (FoldSplit::counterfactual_unmatched, plus pairs whose either
  /// side could not be preprocessed), original and twin keys alike; one entry per twin dataset.
  std::map<std::string, std::vector<std::string>> unmatched;
};

/// Everything one cell is trained and evaluated on.
struct CellData {
  std::vector<std::string> classes;         // K class names; a class index is a position here
  std::vector<std::string> source_domains;  // source datasets, sorted by name (TrainSet::domain indexes it)
  TrainSet train;
  TestSplit test;
  /// Samples of the fold left out because they could not be preprocessed: key and reason (stored as the
  /// artifact "engine.excluded_samples").
  std::vector<std::pair<std::string, std::string>> excluded;
  /// Counterfactual twins of the test datasets (merx/spec/folds.h FoldSplit::counterfactual; none when
  /// `twin_datasets` is empty): the twin clips paired with test clips, same recipe tensors as the test split.
  Counterfactual counterfactual;
};

/// A plugin as the cell builds it: registry name and resolved parameters.
struct PluginChoice {
  std::string name;
  nlohmann::json params = nlohmann::json::object();
};

/// How to run a cell.
struct CellConfig {
  TrainingSettings training;
  uint64_t cell_seed = 0;  // merx/spec/plan.h Cell::cell_seed
  PluginChoice backbone, regularizer, augmenter;
  /// The input recipe's name (merx/spec/settings.h): gives augmenters of API >= 3 their channel names.
  std::string recipe;
  /// Names the cell in warnings, e.g. "cell 1a2b3c4d (fold casme2, variant `brl`)"; empty = "cell".
  std::string label;
  torch::Device device = torch::kCPU;
  int64_t eval_batch = 256;                 // samples per evaluation batch (does not change results)
  const std::atomic<bool>* stop = nullptr;  // when set to true: the cell ends as Interrupted at the next step
  /// Progress only: called after each epoch of each training run with (epoch 0-based, epochs of that run).
  std::function<void(int64_t, int64_t)> on_epoch;
  /// Diagnostics and tests only: called before each optimiser step of each training run with the step
  /// number and the batch as rows of that run's training set (the run's real clips in ascending position
  /// order, then the augmenter's generated samples), in drawing order.
  std::function<void(int64_t, const std::vector<size_t>&)> on_batch;
};

/// What run_cell returns.
struct CellOutcome {
  /// Status Done, Failed (the reason in `error`) or Interrupted. Filled: error, fit/train/eval_seconds,
  /// threads, device, selection, chosen_epoch, validation_split, metrics and confusion (scope Fold),
  /// predictions, curves, artifacts ("engine.training": sizes and steps). Left to the caller: identity,
  /// timestamps, prep_seconds, host, git/merx/libtorch versions and plugin provenance.
  CellResult result;
  Model model;  // the reported model; empty pointers when the cell failed before it was built
};

/// Trains, selects and evaluates one cell (docs/engine.md):
///   - torch's global generator is seeded with derive_seed(cell_seed, "init") before backbone and head are
///     built, with derive_seed(cell_seed, "<kind>:<name>") before each other plugin is set up, and with
///     derive_seed(cell_seed, "dropout") before training; plugins get that derived seed as their own;
///   - batch order from derive_seed(cell_seed, "sampler"), source_val split from "source_val";
///   - epochs, optimizer (adam | adamw | sgd with momentum), weight decay, schedule (none | step: lr *
///     gamma^floor(epoch / step_size) | cosine: lr * (1 + cos(pi * epoch / epochs)) / 2, set at the start of
///     each epoch), gradient clipping (global L2 norm) as `training` says;
///   - training.steps > 0 (equal budgets, docs/engine.md): exactly `steps` optimiser steps per training run
///     whatever the augmenter adds; evaluation points ("epochs" of curves and selection) every E steps, E =
///     eval_every or, when 0, the sampler's steps for one pass over the cell's real training clips (so E is
///     the same for every method of a spec on the same fold); the last point may be shorter; schedules are
///     set per step (step: gamma^floor(step / step_size); cosine: (1 + cos(pi * step / steps)) / 2). The
///     real clips are drawn by the same sampler stream as without augmentation (seed "sampler"); an Extend
///     augmenter's samples come from a separate stream (seed "sampler:synthetic"), appended to each batch;
///   - augmenters of API >= 3: AugmenterSetup::channels from `recipe`; synthetic_loss_weight() weighs each
///     generated sample's cross-entropy inside its domain's mean (divided by the domain's sample count);
///     warnings() are logged naming `label` and stored as the artifact "engine.augmenter_warnings";
///   - selection last | source_val | loo_source | oracle (methods.md §3, docs/engine.md).
/// Failures never throw: a non-finite loss gives Failed with the step, epoch and every loss component in
/// the error; a plugin or data problem gives Failed with its message; a set stop flag gives Interrupted.
CellOutcome run_cell(const CellConfig& config, const PluginRegistry& registry, const CellData& data);

}  // namespace merx::engine
