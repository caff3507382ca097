// Regularizer plugin interface: owns the domain part of the training objective.
//
// Every step the engine hands over the per-domain sub-batches of one (usually domain-balanced) batch:
// backbone features, shared-head logits, labels and domain ids, the per-domain mean cross-entropy losses,
// the shared classifier head itself, and the step counters. The regularizer returns the total objective to
// minimise plus named components for logging. ERM (`none`) returns the mean of the per-domain losses.
// Methods with their own trainable parts (a DANN discriminator, BRL's dataset heads) register them as
// torch submodules and expose them through param_groups() with their own optimizer settings; methods with
// state across steps (GroupDRO weights) keep it as members; IRM's schedule asks for an optimizer reset.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

namespace merx {

/// What the regularizer learns once per cell, before the first step.
struct RegularizerSetup {
  std::vector<std::string> source_domains;  // source dataset names; DomainBatch::domain indexes this list
  int64_t feature_dim = 0;                  // F
  int64_t n_classes = 0;                    // K
  std::string sampler;                      // "domain_balanced" | "class_balanced" | "shuffle"
  uint64_t seed = 0;                        // derived from (cell seed, plugin name): draw only from this
  torch::Device device = torch::kCPU;
};

/// One source domain's share of the current batch.
struct DomainBatch {
  int64_t domain = 0;      // index into RegularizerSetup::source_domains
  torch::Tensor features;  // [b_d, F] float32, requires grad through the backbone
  torch::Tensor logits;    // [b_d, K] float32, shared head applied to `features`
  torch::Tensor labels;    // [b_d] int64 in [0, K)
};

struct StepInput {
  std::vector<DomainBatch> domains;          // one entry per source present in this batch
  std::vector<torch::Tensor> domain_losses;  // scalar mean cross-entropy of each entry of `domains`
  torch::nn::Linear head{nullptr};           // shared classifier: weight [K, F], bias [K]
  int64_t step = 0;                          // 0-based global step of this cell
  int64_t total_steps = 0;                   // steps the cell will run in all
};

/// The objective to minimise and its named parts (logged per epoch as curves `loss/<name>`).
struct Objective {
  torch::Tensor total;                                            // scalar
  std::vector<std::pair<std::string, torch::Tensor>> components;  // scalars, detached or not
};

/// Extra trainable parameters with their own optimizer settings (negative = inherit the cell's).
struct ParamGroupSpec {
  std::string name;
  std::vector<torch::Tensor> parameters;
  double lr = -1;
  double weight_decay = -1;
};

/// What the regularizer needs from the engine; checked before the cell starts (user error if unmet).
struct RegularizerRequirements {
  int64_t min_source_domains = 1;
  bool needs_domain_balanced = false;
};

class Regularizer : public torch::nn::Module {
 public:
  static constexpr const char* kKind = "regularizer";
  static constexpr uint32_t kApiVersion = 2;

  ~Regularizer() override = default;

  virtual RegularizerRequirements requirements() const { return {}; }

  /// Called once per cell before the first step. Create owned modules here (sizes are known now).
  virtual void setup(const RegularizerSetup& setup) = 0;

  /// The step's objective. Must return a finite scalar for finite inputs.
  virtual Objective objective(const StepInput& in) = 0;

  /// Trainable parameters owned by the regularizer, each group optimised beside backbone and head.
  virtual std::vector<ParamGroupSpec> param_groups() { return {}; }

  /// Asked before each step; true makes the engine rebuild the optimizer state (IRM's penalty anneal).
  virtual bool reset_optimizer_before(int64_t step) {
    (void)step;
    return false;
  }

  /// API >= 2: diagnostics read by the engine after each epoch (training mode, no gradients needed), each
  /// stored as the curve point "<plugin name>/<name>" of that epoch, e.g. BRL's ||W_d - W||_F per source.
  /// Called only on plugins built with version >= 2 (appended virtual: version-1 plugins run unchanged).
  virtual std::vector<std::pair<std::string, double>> diagnostics() { return {}; }
};

}  // namespace merx
