// `mmd`: maximum mean discrepancy between source domains (Li et al., CVPR 2018, "Domain generalization with
// adversarial feature learning") as DomainBed defines it (algorithms.py `MMD`, gaussian = True): a sum of
// Gaussian kernels k(x, y) = Σ_g exp(−g ‖x − y‖²) over the bandwidths g, the biased (V-statistic) estimate
//   MMD²(X, Y) = mean_{a,b} k(x_a, x_b) + mean_{a,b} k(y_a, y_b) − 2 mean_{a,b} k(x_a, y_b)
// for every pair of source domains present in the batch, and
//   L = (1/D) Σ_d CE_d + γ · (1/#pairs) Σ_{i<j} MMD²(X_i, X_j).
// Squared distances are ‖x‖² + ‖y‖² − 2 x·y clamped at 1e-30, as DomainBed's my_cdist.
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

/// "0.001,0.01,1" -> {0.001, 0.01, 1}; std::invalid_argument unless every entry is a finite number > 0.
std::vector<double> parse_gammas(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    while (used < item.size() && item[used] == ' ') ++used;
    if (used == 0 || used != item.size() || !std::isfinite(v) || v <= 0)
      throw std::invalid_argument("mmd: kernel_gammas \"" + text + "\": entry \"" + item +
                                  "\" is not a positive number");
    out.push_back(v);
  }
  if (out.empty()) throw std::invalid_argument("mmd: kernel_gammas is empty");
  return out;
}

class Mmd final : public merx::Regularizer {
 public:
  explicit Mmd(const merx::Params& p)
      : gamma_(p.real("gamma")), bandwidths_(parse_gammas(p.string("kernel_gammas"))) {}

  merx::RegularizerRequirements requirements() const override {
    merx::RegularizerRequirements r;
    r.min_source_domains = 2;  // with one source the penalty is identically 0: the cell would be ERM
    return r;
  }

  void setup(const merx::RegularizerSetup& s) override { n_domains_ = s.source_domains.size(); }

  merx::Objective objective(const merx::StepInput& in) override {
    merx::regularizers::check_step(in, n_domains_, "mmd");
    const torch::Tensor erm = merx::regularizers::erm_loss(in);
    const size_t n = in.domains.size();
    torch::Tensor penalty = torch::zeros({}, erm.options());
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j)
        penalty = penalty + mmd2(in.domains[i].features, in.domains[j].features);
    if (n > 1) penalty = penalty / static_cast<double>(n * (n - 1) / 2);
    return {erm + gamma_ * penalty, {{"erm", erm.detach()}, {"mmd", penalty.detach()}}};
  }

 private:
  // [n, F] x [m, F] -> [n, m] sum of the Gaussian kernels.
  torch::Tensor kernel(const torch::Tensor& x, const torch::Tensor& y) const {
    const torch::Tensor xn = x.pow(2).sum(-1, /*keepdim=*/true);  // [n, 1]
    const torch::Tensor yn = y.pow(2).sum(-1, /*keepdim=*/true);  // [m, 1]
    const torch::Tensor d2 =
        torch::addmm(yn.t(), x, y.t(), /*beta=*/1, /*alpha=*/-2).add(xn).clamp_min(1e-30);
    torch::Tensor k = torch::exp(d2 * -bandwidths_[0]);
    for (size_t g = 1; g < bandwidths_.size(); ++g) k = k + torch::exp(d2 * -bandwidths_[g]);
    return k;
  }
  torch::Tensor mmd2(const torch::Tensor& x, const torch::Tensor& y) const {
    return kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean();
  }

  double gamma_;
  std::vector<double> bandwidths_;
  size_t n_domains_ = 0;
};

}  // namespace

MERX_PLUGIN(
    merx::Regularizer, Mmd, "mmd", "1.0.0",
    "MMD (DomainBed): ERM + gamma x mean over domain pairs of the multi-bandwidth Gaussian-kernel MMD^2 "
    "of the features",
    merx::ParamDecl::real("gamma", 1.0)
        .range(0, 1000)
        .search_as(merx::Search::log10_uniform(-1, 1))
        .doc_line("penalty weight (DomainBed's mmd_gamma: default 1, search 10^U(-1, 1))"),
    merx::ParamDecl::string("kernel_gammas", "0.001,0.01,0.1,1,10,100,1000")
        .doc_line("comma-separated bandwidths g of the kernel sum exp(-g ||x - y||^2) (DomainBed's list)"))
