// `irm`: IRMv1 (Arjovsky et al., 2019, "Invariant Risk Minimization") as DomainBed defines it
// (algorithms.py `IRM`). For each source domain e present in the batch, with shared-head logits s [b_e, K]
// and a dummy scale w = 1, the penalty is the product of the gradients of the domain's risk on its even and
// odd samples (an unbiased estimate of ‖∇_w R_e(w·s)‖²):
//   P_e = ∂/∂w CE(w·s[0::2], y[0::2]) · ∂/∂w CE(w·s[1::2], y[1::2])   at w = 1
//   L = (1/D) Σ_e CE_e + λ_t · (1/D) Σ_e P_e,   λ_t = lambda from step anneal_iters on, 1 before
// and the optimizer state is reset before step anneal_iters (DomainBed resets Adam there because the
// gradient scale jumps). A domain with a single sample in the batch has no odd half; its P_e is 0.
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/autograd.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

namespace F = torch::nn::functional;
using torch::indexing::None;
using torch::indexing::Slice;

class Irm final : public merx::Regularizer {
 public:
  explicit Irm(const merx::Params& p) : anneal_(p) {}

  void setup(const merx::RegularizerSetup& s) override { n_domains_ = s.source_domains.size(); }

  merx::Objective objective(const merx::StepInput& in) override {
    merx::regularizers::check_step(in, n_domains_, "irm");
    const torch::Tensor erm = merx::regularizers::erm_loss(in);
    torch::Tensor penalty = torch::zeros({}, erm.options());
    for (const auto& db : in.domains) {
      if (db.logits.size(0) < 2) continue;
      const torch::Tensor scale = torch::ones({}, db.logits.options()).requires_grad_();
      auto half_grad = [&](int64_t start) {
        const torch::Tensor loss = F::cross_entropy(db.logits.index({Slice(start, None, 2)}) * scale,
                                                    db.labels.index({Slice(start, None, 2)}));
        return torch::autograd::grad({loss}, {scale}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
      };
      penalty = penalty + half_grad(0) * half_grad(1);
    }
    penalty = penalty / static_cast<double>(in.domains.size());
    return {erm + anneal_.weight(in.step) * penalty,
            {{"erm", erm.detach()}, {"irm_penalty", penalty.detach()}}};
  }

  bool reset_optimizer_before(int64_t step) override { return anneal_.reset_optimizer_before(step); }

 private:
  merx::regularizers::PenaltyAnneal anneal_;
  size_t n_domains_ = 0;
};

}  // namespace

MERX_PLUGIN(
    merx::Regularizer, Irm, "irm", "1.0.0",
    "IRMv1 (DomainBed): ERM + annealed penalty on the gradient of each domain's risk with respect to a "
    "dummy classifier scale",
    merx::regularizers::PenaltyAnneal::lambda_decl(
        100.0, "penalty weight from step anneal_iters on (DomainBed's irm_lambda)"),
    merx::regularizers::PenaltyAnneal::anneal_decl())
