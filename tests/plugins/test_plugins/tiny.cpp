// Test plugin: a tiny backbone (spatial mean, then one linear layer). tests/plugins/CMakeLists.txt builds
// it several times with different macros, one per behaviour of the host under test:
//   TINY_NAME           plugin name (string literal)
//   TINY_WIDTH_DEFAULT  default of the `width` parameter (declared range 1..64)
//   TINY_THROWS         the constructor throws for an odd width
//   TINY_UNRESOLVED     the constructor calls a function that no library defines
#include <stdexcept>

#include <torch/nn/modules/linear.h>

#include "merx/backbone.h"
#include "merx/plugin.h"

#ifdef TINY_UNRESOLVED
extern "C" int64_t merx_test_function_nobody_defines(int64_t);
#endif

namespace {

class Tiny final : public merx::Backbone {
 public:
  explicit Tiny(const merx::Params& p) : width_(p.integer("width")) {
#ifdef TINY_THROWS
    if (width_ % 2 != 0) throw std::runtime_error("boom: width must be even");
#endif
#ifdef TINY_UNRESOLVED
    width_ = merx_test_function_nobody_defines(width_);
#endif
    fc_ = register_module("fc", torch::nn::Linear(3, width_));
  }
  merx::InputShape input_shape() const override {
    return {3, 4, 4};
  }
  int64_t feature_dim() const override {
    return width_;
  }
  // x [B, 3, H, W] -> [B, width]
  torch::Tensor forward(torch::Tensor x) override {
    return fc_->forward(x.mean({2, 3}));
  }

 private:
  int64_t width_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace

MERX_PLUGIN(merx::Backbone, Tiny, TINY_NAME, "0.3.0", "test backbone: spatial mean + linear",
            merx::ParamDecl::integer("width", TINY_WIDTH_DEFAULT).range(1, 64).doc_line("output features"))
