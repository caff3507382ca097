// Test-only regularizer `test_nan`: ERM (mean of the per-domain losses) until step `at_step`, then a NaN
// objective — to check that the engine fails the cell with the step and the loss components, and that a
// regularizer with its own seed leaves initialisation and batch order alone.
#include <limits>
#include <stdexcept>

#include <torch/types.h>

#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

class TestNan final : public merx::Regularizer {
 public:
  explicit TestNan(const merx::Params& p) : at_step_(p.integer("at_step")) {}
  void setup(const merx::RegularizerSetup&) override {}
  merx::Objective objective(const merx::StepInput& in) override {
    if (in.domain_losses.empty()) throw std::invalid_argument("test_nan: a step without any domain loss");
    torch::Tensor erm = torch::stack(in.domain_losses).mean();
    if (in.step < at_step_) return {erm, {{"erm", erm.detach()}}};
    torch::Tensor nan = torch::full({}, std::numeric_limits<float>::quiet_NaN(), erm.options());
    return {erm + nan, {{"erm", erm.detach()}, {"nan_term", nan}}};
  }

 private:
  int64_t at_step_;
};

}  // namespace

MERX_PLUGIN(
    merx::Regularizer, TestNan, "test_nan", "1.0.0", "test only: ERM, then NaN from step at_step on",
    merx::ParamDecl::integer("at_step", 2).range(0, 1000000000).doc_line("first step with a NaN objective"))
