// Internal to the engine: one training run of a cell on a subset of its training samples (the whole set,
// training minus validation, or all sources but one). Builds fresh plugins, fits the augmenter, and runs the
// epochs; never sees the test split.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include "engine/rng_lane.h"
#include "merx/augmenter.h"
#include "merx/engine/cell.h"
#include "merx/engine/sampler.h"
#include "merx/regularizer.h"

namespace merx::engine::detail {

/// A non-finite loss: what() names the step, epoch and every loss component.
struct NonFiniteLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// The stop flag was set.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Trainer {
 public:
  /// `positions`: the samples of data.train this run fits on (ascending). Builds backbone + head, fits the
  /// augmenter, sets up the regularizer and the optimizer (see run_cell for the seeds). Throws UserError
  /// for a backbone whose input shape differs from the tensors, or a regularizer requirement the fold
  /// does not meet.
  /// `period`: with training.steps > 0, the optimiser steps between evaluation points (>= 1; run_cell
  /// computes it once per cell so every run and method shares it); ignored in epoch mode.
  Trainer(const CellConfig& config, const PluginRegistry& registry, const CellData& data,
          const std::vector<size_t>& positions, int64_t period = 0);
  ~Trainer();

  /// Runs epochs [epochs_done(), until) and calls after_epoch(e) after each (model in training mode on
  /// entry; the callback may switch modes, the next epoch switches back). With training.steps > 0 an
  /// "epoch" is an evaluation period of `period` steps (the last one ends at `steps`). Throws NonFiniteLoss,
  /// Interrupted.
  void train(int64_t until, const std::function<void(int64_t)>& after_epoch);

  Model& model() { return model_; }
  int64_t epochs_done() const { return epochs_done_; }
  /// Steps of one epoch: the sampler's (epoch mode) or the evaluation period (steps mode).
  int64_t steps_per_epoch() const { return steps_mode_ ? period_ : sampler_->steps_per_epoch(); }
  int64_t steps_done() const { return step_; }
  /// The augmenter's warnings() (API >= 3), read after fit/extend.
  const std::vector<std::string>& augmenter_warnings() const { return augmenter_warnings_; }
  /// Per epoch: "loss" (mean total objective over the epoch's steps), "loss/<component>" and, for a
  /// regularizer with API >= 2, "<regularizer>/<name>" of each diagnostics() value after the epoch.
  const std::vector<CurvePoint>& curves() const { return curves_; }
  double fit_seconds() const { return fit_seconds_; }
  double train_seconds() const { return train_seconds_; }
  size_t extended() const { return extended_; }  // samples the augmenter added
  /// au_source flow_roi (TrainSet::au_flow_roi_raw): the 95th percentile of this run's fit rows by which
  /// the augmenter's AU intensities were scaled; nullopt otherwise.
  std::optional<double> au_flow_roi_q95() const { return au_flow_roi_q95_; }
  /// Source datasets of this run sorted by name, then "synthetic" when the augmenter added that domain.
  const std::vector<std::string>& sources() const { return sources_; }
  /// The augmenter's artifacts() (interface >= 2) as ("<plugin name>.<key>", value), read after fit/extend.
  const std::vector<std::pair<std::string, nlohmann::json>>& augmenter_artifacts() const {
    return augmenter_artifacts_;
  }

 private:
  void build_optimizer();
  void set_lr(int64_t epoch);
  void set_lr_factor(double f);
  std::vector<size_t> next_batch();  // steps mode: the real stream's next batch + generated samples

  // Steps mode: generated samples of one domain (or all of them), drawn in fresh permutations at `rate`
  // samples per step (the fraction carried over to the next step).
  struct SyntheticPool {
    std::vector<size_t> members, order;
    size_t pos = 0;
    double rate = 0, carry = 0;
  };

  const CellConfig& config_;
  RngLane lane_;                      // this run's dropout/augmenter/regularizer draws (engine/rng_lane.h)
  std::vector<std::string> sources_;  // source datasets of this run, sorted by name
  Model model_;
  std::shared_ptr<Regularizer> regularizer_;
  std::shared_ptr<Augmenter> augmenter_;
  torch::Tensor x_, y_;                    // training tensors on the device (augmented ones appended)
  std::vector<int64_t> domain_;            // per training sample, index into sources_
  std::vector<int64_t> labels_;            // per training sample
  std::unique_ptr<BatchSampler> sampler_;  // epoch mode: all samples; steps mode: the real clips only
  bool steps_mode_ = false;
  int64_t period_ = 0;
  std::vector<std::vector<size_t>> pending_;  // steps mode: the real stream's current epoch
  size_t pending_pos_ = 0;
  std::vector<SyntheticPool> synthetic_pools_;
  std::unique_ptr<Rng> synthetic_rng_;
  std::vector<float> sample_weight_;  // per training sample: 1, or synthetic_loss_weight() if generated
  bool weighted_ = false;             // some weight differs from 1
  std::vector<std::string> augmenter_warnings_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<double> base_lr_;  // per optimizer group
  std::vector<torch::Tensor> clip_params_;
  std::vector<CurvePoint> curves_;
  int64_t epochs_done_ = 0, step_ = 0, total_steps_ = 0;
  double fit_seconds_ = 0, train_seconds_ = 0;
  size_t extended_ = 0;
  std::optional<double> au_flow_roi_q95_;
  bool reg_v2_ = false;  // the regularizer plugin has API >= 2 (diagnostics() after each epoch)
  std::vector<std::pair<std::string, nlohmann::json>> augmenter_artifacts_;
};

/// "[2, 3, 28]": a tensor shape for messages.
std::string shape_text(const std::vector<int64_t>& s);

/// Clones every parameter and buffer of the model (a checkpoint in memory).
std::vector<torch::Tensor> snapshot(Model& model);
/// Copies a snapshot back.
void restore(Model& model, const std::vector<torch::Tensor>& state);
/// Predicted class per row of x [M, C, H, W], evaluation mode, no gradients, batches of `batch`.
std::vector<int> predict(Model& model, const torch::Tensor& x, int64_t batch, torch::Device device);

}  // namespace merx::engine::detail
