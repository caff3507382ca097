// `mixup`: label-preserving, inter-domain mixup of training batches.
//
// Each sample i is mixed, with probability p, with a partner j of the SAME class drawn from the batch —
// from another source domain when the batch has one — as x_i <- λ x_i + (1 - λ) x_j, λ ~ Beta(α, α)
// (Zhang et al., "mixup", ICLR 2018, Eq. 1; Yan et al. 2020, "Improve Unsupervised Domain Adaptation with
// Mixup Training", for mixing across domains, as DomainBed's `Mixup`). Labels are not mixed: merx's
// augmenter interface carries hard labels, so pairs are restricted to one class and y_i stays exact. This
// differs from DomainBed's label-mixing loss; docs/methods.md says so. A sample with no same-class partner
// is left as is.
// Input/output: batch.x [B, C, H, W] float32; y and domain unchanged.
#include <algorithm>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include "merx/augmenter.h"
#include "merx/plugin.h"

namespace {

class Mixup final : public merx::Augmenter {
 public:
  explicit Mixup(const merx::Params& p) : alpha_(p.real("alpha")), p_(p.real("p")) {}

  merx::AugmenterMode mode() const override { return merx::AugmenterMode::Transform; }

  void fit(const merx::AugmenterSetup& setup, const merx::SampleSet&) override {
    gen_ = at::make_generator<at::CPUGeneratorImpl>(setup.seed);
  }

  void transform(merx::SampleSet& batch, int64_t) override {
    const int64_t b = batch.x.size(0);
    const torch::Tensor y = batch.y.to(torch::kCPU, torch::kLong).contiguous();
    const torch::Tensor d = batch.domain.defined() ? batch.domain.to(torch::kCPU, torch::kLong).contiguous()
                                                   : torch::zeros({b}, torch::kLong);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
    // Fixed number of draws per batch, whatever the pairing finds, so the stream does not depend on labels.
    const torch::Tensor u_apply = at::rand({b}, gen_, f32);
    const torch::Tensor u_pick = at::rand({b}, gen_, f32);
    // Beta(α, α) as G1 / (G1 + G2) with G ~ Gamma(α, 1).
    const torch::Tensor g = at::_standard_gamma(torch::full({2, b}, alpha_, f32), gen_);
    const torch::Tensor lam = g[0] / (g[0] + g[1]).clamp_min(1e-12);

    std::vector<int64_t> partner(static_cast<size_t>(b));
    std::vector<float> weight(static_cast<size_t>(b), 1.0f);
    const auto* yp = y.data_ptr<int64_t>();
    const auto* dp = d.data_ptr<int64_t>();
    for (int64_t i = 0; i < b; ++i) {
      partner[static_cast<size_t>(i)] = i;
      if (u_apply[i].item<float>() >= p_) continue;
      std::vector<int64_t> other_domain, same_domain;
      for (int64_t j = 0; j < b; ++j) {
        if (j == i || yp[j] != yp[i]) continue;
        (dp[j] != dp[i] ? other_domain : same_domain).push_back(j);
      }
      const std::vector<int64_t>& pool = other_domain.empty() ? same_domain : other_domain;
      if (pool.empty()) continue;
      const auto k = std::min(pool.size() - 1, static_cast<size_t>(u_pick[i].item<float>() * pool.size()));
      partner[static_cast<size_t>(i)] = pool[k];
      weight[static_cast<size_t>(i)] = lam[i].item<float>();
    }
    const torch::Tensor w = torch::tensor(weight, f32).to(batch.x.device()).view({b, 1, 1, 1});
    const torch::Tensor xj = batch.x.index_select(0, torch::tensor(partner, torch::kLong).to(batch.x.device()));
    batch.x = w * batch.x + (1 - w) * xj;
  }

 private:
  double alpha_, p_;
  at::Generator gen_;
};

}  // namespace

MERX_PLUGIN(merx::Augmenter, Mixup, "mixup", "1.0.0",
            "Same-class, inter-domain mixup of training samples (labels stay exact), lambda ~ Beta(alpha, alpha)",
            merx::ParamDecl::real("alpha", 0.2)
                .range(1e-3, 10)
                .search_as(merx::Search::log10_uniform(-1, 1))
                .doc_line("Beta(alpha, alpha) parameter of the mixing weight (DomainBed's mixup_alpha 0.2)"),
            merx::ParamDecl::real("p", 1.0).range(0, 1).doc_line("probability that a sample is mixed"))
