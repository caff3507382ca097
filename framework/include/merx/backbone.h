// Backbone plugin interface: a torch module that maps an input recipe tensor to a feature vector.
// The engine puts a shared linear classifier head on top ([B, F] -> [B, K]); the backbone never sees labels.
#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace merx {

/// The input a backbone expects: x is float32 [B, channels, height, width] (height/width in pixels of the
/// recipe's output, e.g. [B, 3, 28, 28] for `flow_strain` at S = 28).
struct InputShape {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
};

class Backbone : public torch::nn::Module {
 public:
  static constexpr const char* kKind = "backbone";
  /// Version of this interface; bumped (with MERX_PLUGIN_ABI_MINOR) when a virtual is appended.
  static constexpr uint32_t kApiVersion = 1;

  ~Backbone() override = default;

  /// Input the network was built for. The engine checks it against the recipe before training and
  /// refuses a mismatch (user error naming both shapes).
  virtual InputShape input_shape() const = 0;

  /// F: width of the feature vector returned by forward().
  virtual int64_t feature_dim() const = 0;

  /// x: [B, C, H, W] float32 on the cell's device -> features [B, F].
  /// In eval mode the output for one sample must not depend on the rest of the batch.
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

}  // namespace merx
