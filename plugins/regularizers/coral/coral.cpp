// `coral`: Deep CORAL (Sun & Saenko, ECCV-W 2016) as DomainBed defines it (Gulrajani & Lopez-Paz, ICLR 2021,
// algorithms.py `CORAL`): for every pair of source domains (i, j) present in the batch, with features
// X_i [n_i, F], means m_i [F] and unbiased covariances C_i = (X_i − m_i)ᵀ(X_i − m_i) / (n_i − 1) [F, F],
//   penalty(i, j) = mean_f (m_i − m_j)²_f + mean_{f,g} (C_i − C_j)²_{fg}
//                 = ‖m_i − m_j‖² / F + ‖C_i − C_j‖²_F / F²
//   L = (1/D) Σ_d CE_d + γ · (1/#pairs) Σ_{i<j} penalty(i, j).
// A domain with a single sample in the batch has no covariance; its pairs are skipped (never happens under
// the domain-balanced sampler with batch >= 2).
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

class Coral final : public merx::Regularizer {
 public:
  explicit Coral(const merx::Params& p) : gamma_(p.real("gamma")) {}

  merx::RegularizerRequirements requirements() const override {
    merx::RegularizerRequirements r;
    r.min_source_domains = 2;  // with one source the penalty is identically 0: the cell would be ERM
    return r;
  }

  void setup(const merx::RegularizerSetup& s) override { n_domains_ = s.source_domains.size(); }

  merx::Objective objective(const merx::StepInput& in) override {
    merx::regularizers::check_step(in, n_domains_, "coral");
    const torch::Tensor erm = merx::regularizers::erm_loss(in);
    std::vector<torch::Tensor> means, covs;
    for (const auto& db : in.domains) {
      const torch::Tensor& x = db.features;
      if (x.size(0) < 2) continue;
      const torch::Tensor m = x.mean(0, /*keepdim=*/true);  // [1, F]
      const torch::Tensor c = x - m;
      means.push_back(m);
      covs.push_back(torch::mm(c.t(), c) / static_cast<double>(x.size(0) - 1));  // [F, F]
    }
    torch::Tensor penalty = torch::zeros({}, erm.options());
    const size_t n = means.size();
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j)
        penalty = penalty + (means[i] - means[j]).pow(2).mean() + (covs[i] - covs[j]).pow(2).mean();
    if (n > 1) penalty = penalty / static_cast<double>(n * (n - 1) / 2);
    return {erm + gamma_ * penalty, {{"erm", erm.detach()}, {"coral", penalty.detach()}}};
  }

 private:
  double gamma_;
  size_t n_domains_ = 0;
};

}  // namespace

MERX_PLUGIN(merx::Regularizer, Coral, "coral", "1.0.0",
            "Deep CORAL (DomainBed): ERM + gamma x mean over domain pairs of the squared differences of "
            "feature means and covariances",
            merx::ParamDecl::real("gamma", 1.0)
                .range(0, 1000)
                .search_as(merx::Search::log10_uniform(-1, 1))
                .doc_line("penalty weight (DomainBed's mmd_gamma: default 1, search 10^U(-1, 1))"))
