// `vrex`: V-REx, risk extrapolation (Krueger et al., ICML 2021) as DomainBed defines it (algorithms.py
// `VREx`): with the per-domain mean losses R_e of the D domains present in the batch,
//   L = mean_e R_e + λ_t · mean_e (R_e − mean_e R_e)²,   λ_t = lambda from step anneal_iters on, 1 before
// (the population variance of the risks), and the optimizer state is reset before step anneal_iters.
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

class Vrex final : public merx::Regularizer {
 public:
  explicit Vrex(const merx::Params& p) : anneal_(p) {}

  merx::RegularizerRequirements requirements() const override {
    merx::RegularizerRequirements r;
    r.min_source_domains = 2;  // the variance of one risk is 0: the cell would be ERM
    return r;
  }

  void setup(const merx::RegularizerSetup& s) override { n_domains_ = s.source_domains.size(); }

  merx::Objective objective(const merx::StepInput& in) override {
    merx::regularizers::check_step(in, n_domains_, "vrex");
    const torch::Tensor risks = torch::stack(in.domain_losses);
    const torch::Tensor mean = risks.mean();
    const torch::Tensor penalty = (risks - mean).pow(2).mean();
    return {mean + anneal_.weight(in.step) * penalty,
            {{"erm", mean.detach()}, {"vrex_penalty", penalty.detach()}}};
  }

  bool reset_optimizer_before(int64_t step) override { return anneal_.reset_optimizer_before(step); }

 private:
  merx::regularizers::PenaltyAnneal anneal_;
  size_t n_domains_ = 0;
};

}  // namespace

MERX_PLUGIN(merx::Regularizer, Vrex, "vrex", "1.0.0",
            "V-REx (DomainBed): ERM + annealed variance of the per-domain risks",
            merx::regularizers::PenaltyAnneal::lambda_decl(
                10.0, "variance weight from step anneal_iters on (DomainBed's vrex_lambda)"),
            merx::regularizers::PenaltyAnneal::anneal_decl())
