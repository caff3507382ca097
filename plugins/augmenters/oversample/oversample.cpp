// `oversample`: class-balanced resampling with replacement, once per cell.
//
// Balancing follows the same rule as `au_gan` so the two compare fairly (the matched control): by default per
// source domain — within each source, every present class below the source's `target` count (median of its
// present classes' counts, the upper middle one for an even number; max; or a positive count, as au_gan's
// `target`) gets copies of its own samples drawn uniformly with replacement until it has that many (larger
// classes are kept as they are); copies keep their source's domain id, so the
// domain-balanced sampler and the regularizers see no new domain. With balance = "pooled" the classes are
// balanced over all sources together (copies still carry the domain of the sample they copy). A class with no
// sample in a source cannot be resampled there and stays absent.
// Output of extend(): the copies only, x [M, C, H, W], y [M], domain [M], au [M, A] when defined.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <map>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include "merx/augmenter.h"
#include "merx/plugin.h"

namespace {

class Oversample final : public merx::Augmenter {
 public:
  explicit Oversample(const merx::Params& p)
      : pooled_(p.string("balance") == "pooled"), target_(p.string("target")) {
    if (target_ != "median" && target_ != "max") {
      size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(target_, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != target_.size() || v < 1)
        throw std::invalid_argument("oversample: target must be median, max or a positive count, not '" +
                                    target_ + "'");
    }
  }

  merx::AugmenterMode mode() const override { return merx::AugmenterMode::Extend; }

  void fit(const merx::AugmenterSetup& setup, const merx::SampleSet&) override {
    gen_ = at::make_generator<at::CPUGeneratorImpl>(setup.seed);
  }

  merx::SampleSet extend(const merx::SampleSet& train) override {
    const torch::Tensor y = train.y.to(torch::kCPU, torch::kLong).contiguous();
    const torch::Tensor d = train.domain.to(torch::kCPU, torch::kLong).contiguous();
    const int64_t n = y.numel();
    // (group, class) -> rows; group = source domain, or 0 for pooled balancing.
    std::map<int64_t, std::map<int64_t, std::vector<int64_t>>> rows;
    for (int64_t i = 0; i < n; ++i)
      rows[pooled_ ? 0 : d[i].item<int64_t>()][y[i].item<int64_t>()].push_back(i);
    std::vector<int64_t> picks;
    for (const auto& [group, by_class] : rows) {
      std::vector<int64_t> counts;
      for (const auto& [c, r] : by_class) counts.push_back(static_cast<int64_t>(r.size()));
      std::sort(counts.begin(), counts.end());
      const int64_t t = target_ == "max"      ? counts.back()
                        : target_ == "median" ? counts[counts.size() / 2]
                                              : std::stoll(target_);
      for (const auto& [c, r] : by_class) {
        const int64_t need = t - static_cast<int64_t>(r.size());
        if (need <= 0) continue;
        const torch::Tensor draw =
            at::randint(static_cast<int64_t>(r.size()), {need}, gen_, torch::TensorOptions().dtype(torch::kLong));
        const auto* p = draw.data_ptr<int64_t>();
        for (int64_t j = 0; j < need; ++j) picks.push_back(r[static_cast<size_t>(p[j])]);
      }
    }
    merx::SampleSet out;
    const torch::Tensor index = torch::tensor(picks, torch::kLong);
    out.x = train.x.index_select(0, index.to(train.x.device()));
    out.y = y.index_select(0, index).to(train.y.device());
    out.domain = d.index_select(0, index).to(train.domain.device());
    if (train.au.defined()) out.au = train.au.index_select(0, index.to(train.au.device()));
    out.au_ids = train.au_ids;
    return out;
  }

 private:
  bool pooled_;
  std::string target_;
  at::Generator gen_;
};

}  // namespace

MERX_PLUGIN(merx::Augmenter, Oversample, "oversample", "1.1.0",
            "Class-balanced resampling with replacement, per source domain (as au_gan balances)",
            merx::ParamDecl::string("balance", "source")
                .one_of({"source", "pooled"})
                .doc_line("balance classes within each source domain, or over all sources pooled"),
            merx::ParamDecl::string("target", "max")
                .doc_line("count each present class is brought to: median (of the group's present classes, the "
                          "upper middle one for an even number), max, or a positive count; larger classes are "
                          "kept (au_gan's `target`)"))
