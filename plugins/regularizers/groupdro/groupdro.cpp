// `groupdro`: group distributionally robust optimisation (Sagawa et al., ICLR 2020, Algorithm 1) as
// DomainBed defines it (algorithms.py `GroupDRO`), with the source domains as groups. State q [D] starts at
// ones; every step, for each domain e present with mean loss R_e,
//   q_e ← q_e · exp(η · R_e)   (R_e detached),   then q ← q / Σ q,   and   L = Σ_e q_e R_e,
// an exponentiated-gradient ascent on the worst domain's weight. objective() advances this state: call it
// exactly once per training step. q is a registered buffer (it moves with the module).
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

class GroupDro final : public merx::Regularizer {
 public:
  explicit GroupDro(const merx::Params& p) : eta_(p.real("eta")) {}

  merx::RegularizerRequirements requirements() const override {
    merx::RegularizerRequirements r;
    r.min_source_domains = 2;  // with one group q = 1: the cell would be ERM
    return r;
  }

  void setup(const merx::RegularizerSetup& s) override {
    const int64_t n = static_cast<int64_t>(s.source_domains.size());
    q_ = register_buffer("q", torch::ones({n}, torch::TensorOptions().device(s.device)));
  }

  merx::Objective objective(const merx::StepInput& in) override {
    merx::regularizers::check_step(in, static_cast<size_t>(q_.size(0)), "groupdro");
    {
      torch::NoGradGuard no_grad;
      for (size_t m = 0; m < in.domains.size(); ++m) {
        const int64_t e = in.domains[m].domain;
        q_[e].mul_(torch::exp(eta_ * in.domain_losses[m].detach().to(q_.scalar_type())));
      }
      q_.div_(q_.sum());
    }
    std::vector<torch::Tensor> weighted;
    for (size_t m = 0; m < in.domains.size(); ++m)
      weighted.push_back(q_[in.domains[m].domain].to(in.domain_losses[m].scalar_type()) *
                         in.domain_losses[m]);
    const torch::Tensor total = torch::stack(weighted).sum();
    std::vector<std::pair<std::string, torch::Tensor>> parts = {
        {"erm", merx::regularizers::erm_loss(in).detach()}, {"groupdro", total.detach()}};
    return {total, parts};
  }

 private:
  double eta_;
  torch::Tensor q_;  // [D] domain weights, summing to 1 after the first step
};

}  // namespace

MERX_PLUGIN(merx::Regularizer, GroupDro, "groupdro", "1.0.0",
            "GroupDRO (DomainBed): loss = sum of per-domain losses weighted by q, q updated by exponentiated "
            "gradient with step eta",
            merx::ParamDecl::real("eta", 1e-2)
                .range(0, 100)
                .search_as(merx::Search::log10_uniform(-3, -1))
                .doc_line("exponentiated-gradient step size (DomainBed's groupdro_eta)"))
