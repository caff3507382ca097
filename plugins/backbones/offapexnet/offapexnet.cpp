// `offapexnet`: OFF-ApexNet of Gan, Liong, Yau, Huang and Tan, "OFF-ApexNet on micro-expression recognition
// system", Signal Processing: Image Communication 74 (2019). Two streams, one on the horizontal flow u and one
// on the vertical flow v between onset and apex, each two 5x5 convolutions (6 and 16 filters, "same"
// padding, ReLU) each followed by 2x2 max pooling; the two streams are flattened, concatenated and passed
// through two fully connected layers (`hidden` units, 1024 in the paper, ReLU, dropout). The paper's softmax
// layer is the engine's shared classifier head.
// Input [B, C, S, S] from a flow recipe (`flow_uv`, or `flow_strain` whose strain channel is not used);
// channels `u_channel` and `v_channel` feed the streams. At S = 28: 28 -> 14 -> 7, so each stream gives
// 16 * 7 * 7 = 784 values and the features are [B, hidden].
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "merx/backbone.h"
#include "merx/plugin.h"

namespace {

namespace nn = torch::nn;

class OffApexNet final : public merx::Backbone {
 public:
  explicit OffApexNet(const merx::Params& p)
      : in_{p.integer("channels"), p.integer("size"), p.integer("size")},
        u_(p.integer("u_channel")),
        v_(p.integer("v_channel")),
        hidden_(p.integer("hidden")),
        dropout_(p.real("dropout")) {
    if (u_ >= in_.channels || v_ >= in_.channels || u_ == v_)
      throw std::invalid_argument("offapexnet: u_channel " + std::to_string(u_) + " and v_channel " +
                                  std::to_string(v_) + " must be two different channels of " +
                                  std::to_string(in_.channels));
    const int64_t side = in_.height / 4;  // two 2x2 poolings (floor)
    if (side < 1) throw std::invalid_argument("offapexnet: input side " + std::to_string(in_.height) + " < 4");
    for (int s = 0; s < 2; ++s) {
      const std::string n = s == 0 ? "u" : "v";
      conv1_[s] = register_module("conv1_" + n, nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)));
      conv2_[s] = register_module("conv2_" + n, nn::Conv2d(nn::Conv2dOptions(6, 16, 5).padding(2)));
    }
    fc1_ = register_module("fc1", nn::Linear(2 * 16 * side * side, hidden_));
    fc2_ = register_module("fc2", nn::Linear(hidden_, hidden_));
  }

  merx::InputShape input_shape() const override { return in_; }
  int64_t feature_dim() const override { return hidden_; }

  // x [B, C, S, S] -> [B, hidden]
  torch::Tensor forward(torch::Tensor x) override {
    namespace F = torch::nn::functional;
    torch::Tensor stream[2];
    const int64_t ch[2] = {u_, v_};
    for (int s = 0; s < 2; ++s) {
      auto h = x.narrow(1, ch[s], 1);
      h = F::max_pool2d(torch::relu(conv1_[s]->forward(h)), F::MaxPool2dFuncOptions(2).stride(2));
      h = F::max_pool2d(torch::relu(conv2_[s]->forward(h)), F::MaxPool2dFuncOptions(2).stride(2));
      stream[s] = h.flatten(1);
    }
    const auto drop = F::DropoutFuncOptions().p(dropout_).training(is_training());
    auto h = F::dropout(torch::relu(fc1_->forward(torch::cat({stream[0], stream[1]}, 1))), drop);
    return F::dropout(torch::relu(fc2_->forward(h)), drop);
  }

 private:
  merx::InputShape in_;
  int64_t u_, v_, hidden_;
  double dropout_;
  nn::Conv2d conv1_[2] = {nullptr, nullptr}, conv2_[2] = {nullptr, nullptr};
  nn::Linear fc1_{nullptr}, fc2_{nullptr};
};

}  // namespace

MERX_PLUGIN(merx::Backbone, OffApexNet, "offapexnet", "1.0.0",
            "OFF-ApexNet (Gan et al., 2019): two conv streams on the flow's u and v, two dense layers",
            merx::ParamDecl::integer("channels", 3).range(2, 64).doc_line("input channels C of [B, C, S, S]"),
            merx::ParamDecl::integer("size", 28).range(4, 512).doc_line("input side S in pixels"),
            merx::ParamDecl::integer("u_channel", 0).range(0, 63).doc_line("channel holding the horizontal flow u"),
            merx::ParamDecl::integer("v_channel", 1).range(0, 63).doc_line("channel holding the vertical flow v"),
            merx::ParamDecl::integer("hidden", 1024)
                .range(8, 8192)
                .search_as(merx::Search::choice({256, 512, 1024}))
                .doc_line("units of each of the two dense layers (the paper's 1024) = feature width F"),
            merx::ParamDecl::real("dropout", 0.5)
                .range(0, 0.95)
                .search_as(merx::Search::uniform(0, 0.7))
                .doc_line("dropout probability after each dense layer"))
