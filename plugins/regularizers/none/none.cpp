// `none`: empirical risk minimisation (ERM). The objective is the mean of the per-domain mean losses,
// i.e. every source domain weighs the same whatever its sub-batch size (DomainBed's ERM on minibatches).
#include <torch/types.h>

#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

class None final : public merx::Regularizer {
 public:
  explicit None(const merx::Params&) {}
  void setup(const merx::RegularizerSetup&) override {}
  merx::Objective objective(const merx::StepInput& in) override {
    if (in.domain_losses.empty()) throw std::invalid_argument("none: a step without any domain loss");
    torch::Tensor total = torch::stack(in.domain_losses).mean();
    return {total, {{"erm", total.detach()}}};
  }
};

}  // namespace

MERX_PLUGIN(merx::Regularizer, None, "none", "1.0.0", "ERM: mean of the per-domain cross-entropy losses")
