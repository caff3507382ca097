// `resnet18`: ResNet-18 of He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
// (Table 1, 18-layer column): a stem, four stages of two basic blocks (3x3 conv, BN, ReLU, 3x3 conv, BN,
// identity or 1x1-conv shortcut) with width w, 2w, 4w, 8w (w = 64 in the paper) and stride 2 at the start of
// stages 2-4, then global average pooling. For inputs of a few dozen pixels (S < 64, e.g. the MEGC 28x28
// flow images) the ImageNet stem (7x7 stride-2 conv + 3x3 stride-2 max pooling) would leave 1x1 maps after
// stage 2, so stem = "auto" uses a 3x3 stride-1 conv without pooling there (the paper's CIFAR variant keeps
// the same idea).
// Input [B, C, S, S] from any recipe; features [B, 8w].
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "merx/backbone.h"
#include "merx/plugin.h"

namespace {

namespace nn = torch::nn;

struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(out));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      down_conv = register_module("down_conv", nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
      down_bn = register_module("down_bn", nn::BatchNorm2d(out));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = torch::relu(bn1->forward(conv1->forward(x)));
    h = bn2->forward(conv2->forward(h));
    const auto shortcut = down_conv ? down_bn->forward(down_conv->forward(x)) : x;
    return torch::relu(h + shortcut);
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, down_conv{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, down_bn{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNet18 final : public merx::Backbone {
 public:
  explicit ResNet18(const merx::Params& p)
      : in_{p.integer("channels"), p.integer("size"), p.integer("size")}, width_(p.integer("width")) {
    const std::string stem = p.string("stem");
    imagenet_stem_ = stem == "imagenet" || (stem == "auto" && in_.height >= 64);
    if (imagenet_stem_ && in_.height < 32)
      throw std::invalid_argument("resnet18: the imagenet stem needs an input side >= 32, got " +
                                  std::to_string(in_.height));
    stem_conv_ = register_module(
        "stem_conv", imagenet_stem_
                         ? nn::Conv2d(nn::Conv2dOptions(in_.channels, width_, 7).stride(2).padding(3).bias(false))
                         : nn::Conv2d(nn::Conv2dOptions(in_.channels, width_, 3).padding(1).bias(false)));
    stem_bn_ = register_module("stem_bn", nn::BatchNorm2d(width_));
    int64_t in = width_;
    for (int stage = 0; stage < 4; ++stage) {
      const int64_t out = width_ << stage;
      for (int b = 0; b < 2; ++b) {
        blocks_->push_back(BasicBlock(in, out, (stage > 0 && b == 0) ? 2 : 1));
        in = out;
      }
    }
    register_module("blocks", blocks_);
  }

  merx::InputShape input_shape() const override { return in_; }
  int64_t feature_dim() const override { return 8 * width_; }

  // x [B, C, S, S] -> [B, 8 * width]
  torch::Tensor forward(torch::Tensor x) override {
    namespace F = torch::nn::functional;
    auto h = torch::relu(stem_bn_->forward(stem_conv_->forward(x)));
    if (imagenet_stem_) h = F::max_pool2d(h, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
    h = blocks_->forward(h);
    return h.mean({2, 3});
  }

 private:
  merx::InputShape in_;
  int64_t width_;
  bool imagenet_stem_ = false;
  nn::Conv2d stem_conv_{nullptr};
  nn::BatchNorm2d stem_bn_{nullptr};
  nn::Sequential blocks_;
};

}  // namespace

MERX_PLUGIN(merx::Backbone, ResNet18, "resnet18", "1.0.0",
            "ResNet-18 (He et al., CVPR 2016) with width and input size as parameters",
            merx::ParamDecl::integer("channels", 3).range(1, 64).doc_line("input channels C of [B, C, S, S]"),
            merx::ParamDecl::integer("size", 28).range(8, 1024).doc_line("input side S in pixels"),
            merx::ParamDecl::integer("width", 64)
                .range(4, 256)
                .search_as(merx::Search::choice({16, 32, 64}))
                .doc_line("channels of the first stage w (stages: w, 2w, 4w, 8w; the paper's 64)"),
            merx::ParamDecl::string("stem", "auto")
                .one_of({"auto", "imagenet", "small"})
                .doc_line("imagenet = 7x7/2 conv + 3x3/2 max pool; small = 3x3/1 conv; auto = small when S < 64"))
