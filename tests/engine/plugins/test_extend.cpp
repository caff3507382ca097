// Test-only augmenter `test_extend` (API 3): adds `count` generated samples — copies of the first training
// samples, scaled by 0.5, of class `label` — in the `synthetic` domain (or, with `own_domain` false, in the
// domain of the copied sample); reports synthetic_loss_weight() = `weight`, and as warnings() one line naming
// the channels it was given and, when `warn` is set, that text. Checks the engine's host side of API 3.
// With `record_au`, artifacts() returns what fit() was given: {"keys": [...], "au": [[...], ...]} (NaN as
// null), so tests can assert the AU intensities the engine hands an augmenter.
#include <cmath>
#include <string>
#include <vector>

#include <torch/types.h>

#include "merx/augmenter.h"
#include "merx/plugin.h"

namespace {

class TestExtend final : public merx::Augmenter {
 public:
  explicit TestExtend(const merx::Params& p)
      : count_(p.integer("count")),
        label_(p.integer("label")),
        weight_(p.real("weight")),
        own_domain_(p.boolean("own_domain")),
        warn_(p.string("warn")),
        record_au_(p.boolean("record_au")) {}
  merx::AugmenterMode mode() const override { return merx::AugmenterMode::Extend; }
  void fit(const merx::AugmenterSetup& setup, const merx::SampleSet& train) override {
    setup_ = setup;
    if (!record_au_) return;
    seen_ = {{"keys", train.keys}, {"au", nullptr}};
    if (!train.au.defined()) return;
    const torch::Tensor au = train.au.to(torch::kCPU, torch::kFloat).contiguous();
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t i = 0; i < au.size(0); ++i) {
      nlohmann::json row = nlohmann::json::array();
      for (int64_t j = 0; j < au.size(1); ++j) {
        const float v = au[i][j].item<float>();
        row.push_back(std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(static_cast<double>(v)));
      }
      rows.push_back(row);
    }
    seen_["au"] = rows;
  }
  nlohmann::json artifacts() const override { return record_au_ ? seen_ : nlohmann::json(nullptr); }
  merx::SampleSet extend(const merx::SampleSet& train) override {
    merx::SampleSet out;
    const int64_t n = train.x.size(0);
    std::vector<int64_t> rows, dom;
    for (int64_t i = 0; i < count_; ++i) rows.push_back(i % n);
    const torch::Tensor idx = torch::tensor(rows, torch::kLong);
    out.x = train.x.index_select(0, idx) * 0.5;
    out.y = torch::full({count_}, label_, torch::kLong);
    out.domain = own_domain_ ? torch::full({count_}, synthetic_domain(setup_), torch::kLong)
                             : train.domain.index_select(0, idx).clone();
    return out;
  }
  double synthetic_loss_weight() const override { return weight_; }
  std::vector<std::string> warnings() const override {
    std::string c;
    for (const auto& ch : setup_.channels) c += (c.empty() ? "" : ",") + ch;
    std::vector<std::string> w = {"channels=" + c};
    if (!warn_.empty()) w.push_back(warn_);
    return w;
  }

 private:
  int64_t count_, label_;
  double weight_;
  bool own_domain_;
  std::string warn_;
  bool record_au_;
  nlohmann::json seen_;
  merx::AugmenterSetup setup_;
};

}  // namespace

MERX_PLUGIN(
    merx::Augmenter, TestExtend, "test_extend", "1.1.0",
    "test only: scaled copies of the first training samples as generated samples (API 3)",
    merx::ParamDecl::integer("count", 10).range(0, 100000).doc_line("generated samples"),
    merx::ParamDecl::integer("label", 0).range(0, 100).doc_line("their class index"),
    merx::ParamDecl::real("weight", 1.0).range(0, 10).doc_line("synthetic_loss_weight()"),
    merx::ParamDecl::boolean("own_domain", true).doc_line("domain `synthetic` (else the copied one)"),
    merx::ParamDecl::string("warn", "").doc_line("an extra warning, when not empty"),
    merx::ParamDecl::boolean("record_au", false).doc_line("artifacts(): the keys and AU rows fit() got"))
