// Test-only regularizer `test_fault`: ERM (mean of the per-domain losses), except in the one LODO fold whose
// target is `throw_target` (setup() throws) or `nan_target` (a NaN objective from step 0). Lets one spec hold
// exactly one throwing cell and one non-finite cell next to healthy ones (tests/engine/sched_test.cpp).
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

class TestFault final : public merx::Regularizer {
 public:
  explicit TestFault(const merx::Params& p) : throw_target_(p.string("throw_target")), nan_target_(p.string("nan_target")) {}
  void setup(const merx::RegularizerSetup& s) override {
    const auto& src = s.source_domains;
    auto absent = [&](const std::string& d) { return !d.empty() && std::find(src.begin(), src.end(), d) == src.end(); };
    if (absent(throw_target_)) throw std::runtime_error("test_fault: injected failure for target " + throw_target_);
    nan_ = absent(nan_target_);
  }
  merx::Objective objective(const merx::StepInput& in) override {
    torch::Tensor erm = torch::stack(in.domain_losses).mean();
    if (!nan_) return {erm, {{"erm", erm.detach()}}};
    torch::Tensor nan = torch::full({}, std::numeric_limits<float>::quiet_NaN(), erm.options());
    return {erm + nan, {{"erm", erm.detach()}, {"nan_term", nan}}};
  }

 private:
  std::string throw_target_, nan_target_;
  bool nan_ = false;
};

}  // namespace

MERX_PLUGIN(merx::Regularizer, TestFault, "test_fault", "1.0.0",
            "test only: ERM, but throws / turns NaN in the fold tested on a given dataset",
            merx::ParamDecl::string("throw_target", "").doc_line("setup() throws when this dataset is the target"),
            merx::ParamDecl::string("nan_target", "").doc_line("NaN objective when this dataset is the target"))
