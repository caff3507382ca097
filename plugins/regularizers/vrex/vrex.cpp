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
  explicit Vrex(const merx::Params& p)
      : lambda_(p.real("lambda")), anneal_iters_(p.integer("anneal_iters")) {}

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
    const double weight = in.step >= anneal_iters_ ? lambda_ : 1.0;
    return {mean + weight * penalty, {{"erm", mean.detach()}, {"vrex_penalty", penalty.detach()}}};
  }

  bool reset_optimizer_before(int64_t step) override { return step == anneal_iters_; }

 private:
  double lambda_;
  int64_t anneal_iters_;
  size_t n_domains_ = 0;
};

}  // namespace

MERX_PLUGIN(merx::Regularizer, Vrex, "vrex", "1.0.0",
            "V-REx (DomainBed): ERM + annealed variance of the per-domain risks",
            merx::ParamDecl::real("lambda", 10.0)
                .range(0, 1e6)
                .search_as(merx::Search::log10_uniform(-1, 5))
                .doc_line("variance weight from step anneal_iters on (DomainBed's vrex_lambda)"),
            merx::ParamDecl::integer("anneal_iters", 500)
                .range(0, 1000000)
                .search_as(merx::Search::choice({1, 10, 100, 1000, 10000}))
                .doc_line("steps with weight 1 before lambda applies and the optimizer is reset (DomainBed "
                          "draws int(10^U(0, 4)); merx its decades)"))
