// `ststnet`: the Shallow Triple Stream Three-dimensional CNN of Liong, See, Wong and Phan, "Shallow Triple
// Stream Three-dimensional CNN (STSTNet) for Micro-expression Recognition", IEEE FG 2019 (MEGC2019).
// Input [B, 3, S, S]: the `flow_strain` recipe [u, v, optical strain] at S = 28 ("three-dimensional" in the
// title means these three channels). Three parallel streams, each a 3x3 convolution with 3, 5 and 8 output
// channels (padding 2, as the authors' PyTorch release), ReLU, batch norm, 3x3 max pooling (stride 3,
// padding 1) and dropout; the 16 maps are concatenated, 2x2 average pooled and flattened. At S = 28:
// 28 -> 30 (conv) -> 10 (max pool) -> 5 (avg pool), so F = 16 * 5 * 5 = 400 features. The paper's final
// dense layer is the engine's shared classifier head ([B, F] -> [B, K]).
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include "merx/backbone.h"
#include "merx/plugin.h"

namespace {

namespace nn = torch::nn;

/// Side after the conv (padding 2, kernel 3), the max pooling (3, stride 3, padding 1) and the 2x2 average
/// pooling (stride 2), in pixels.
int64_t pooled_side(int64_t s) {
  const int64_t conv = s + 2 * 2 - 3 + 1;
  const int64_t maxp = (conv + 2 * 1 - 3) / 3 + 1;
  return maxp / 2;
}

class StstNet final : public merx::Backbone {
 public:
  explicit StstNet(const merx::Params& p)
      : in_{p.integer("channels"), p.integer("size"), p.integer("size")}, dropout_(p.real("dropout")) {
    const int64_t widths[3] = {3, 5, 8};
    for (int i = 0; i < 3; ++i) {
      const std::string n = std::to_string(i + 1);
      conv_[i] =
          register_module("conv" + n, nn::Conv2d(nn::Conv2dOptions(in_.channels, widths[i], 3).padding(2)));
      bn_[i] = register_module("bn" + n, nn::BatchNorm2d(widths[i]));
    }
    const int64_t side = pooled_side(in_.height);
    if (side < 1)
      throw std::invalid_argument("ststnet: input side " + std::to_string(in_.height) + " is too small");
    features_ = 16 * side * side;
  }

  merx::InputShape input_shape() const override { return in_; }
  int64_t feature_dim() const override { return features_; }

  // x [B, C, S, S] -> [B, 16 * s * s], s = pooled_side(S)
  torch::Tensor forward(torch::Tensor x) override {
    namespace F = torch::nn::functional;
    torch::Tensor streams[3];
    for (int i = 0; i < 3; ++i) {
      auto h = bn_[i]->forward(torch::relu(conv_[i]->forward(x)));
      h = F::max_pool2d(h, F::MaxPool2dFuncOptions(3).stride(3).padding(1));
      streams[i] = F::dropout(h, F::DropoutFuncOptions().p(dropout_).training(is_training()));
    }
    auto h = F::avg_pool2d(torch::cat({streams[0], streams[1], streams[2]}, 1),
                           F::AvgPool2dFuncOptions(2).stride(2));
    return h.flatten(1);
  }

 private:
  merx::InputShape in_;
  double dropout_;
  int64_t features_ = 0;
  nn::Conv2d conv_[3] = {nullptr, nullptr, nullptr};
  nn::BatchNorm2d bn_[3] = {nullptr, nullptr, nullptr};
};

}  // namespace

MERX_PLUGIN(
    merx::Backbone, StstNet, "ststnet", "1.0.0",
    "STSTNet (Liong et al., FG 2019): three parallel 3x3 conv streams (3, 5, 8 channels) on [u, v, strain]",
    merx::ParamDecl::integer("channels", 3).range(1, 64).doc_line("input channels C of [B, C, S, S]"),
    merx::ParamDecl::integer("size", 28).range(8, 512).doc_line("input side S in pixels"),
    merx::ParamDecl::real("dropout", 0.5)
        .range(0, 0.95)
        .search_as(merx::Search::uniform(0, 0.7))
        .doc_line("dropout probability after each stream's max pooling (the paper's 0.5)"))
