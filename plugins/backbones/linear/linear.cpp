// `linear`: flatten + one linear layer. A sanity-check backbone: if a method cannot beat chance with it
// on an easy corpus, the input pipeline is broken, not the network.
#include <torch/nn/modules/linear.h>

#include "merx/backbone.h"
#include "merx/plugin.h"

namespace {

class Linear final : public merx::Backbone {
 public:
  explicit Linear(const merx::Params& p)
      : in_{p.integer("channels"), p.integer("size"), p.integer("size")}, features_(p.integer("features")) {
    fc_ = register_module("fc", torch::nn::Linear(in_.channels * in_.height * in_.width, features_));
  }
  merx::InputShape input_shape() const override { return in_; }
  int64_t feature_dim() const override { return features_; }
  // x [B, C, S, S] -> [B, features]
  torch::Tensor forward(torch::Tensor x) override { return fc_->forward(x.flatten(1)); }

 private:
  merx::InputShape in_;
  int64_t features_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace

MERX_PLUGIN(merx::Backbone, Linear, "linear", "1.0.0",
            "Flatten + one linear layer (sanity-check baseline)",
            merx::ParamDecl::integer("channels", 3).range(1, 64).doc_line("input channels C of [B, C, S, S]"),
            merx::ParamDecl::integer("size", 28).range(4, 512).doc_line("input side S in pixels"),
            merx::ParamDecl::integer("features", 64)
                .range(1, 65536)
                .search_as(merx::Search::choice({16, 32, 64, 128}))
                .doc_line("feature width F"))
