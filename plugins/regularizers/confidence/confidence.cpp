// `confidence`: the control "erm+confidence" for BRL (issue 16): ERM plus exactly BRL's confidence penalty
// and nothing else, so a BRL gain can be told apart from the gain of its entropy term alone (docs/methods.md
// §5). Over the concatenated batch B with shared-head logits s_i = W z_i:
//   L_ent = −mean_{i∈B} H(softmax(s_i))  (H in nats; → θ, W)
//   L = (1/|present domains|) Σ_d CE_d + β L_ent
// which is `brl` with alpha = lambda_js = lambda_w = 0 and the same beta (a test checks both).
#include <stdexcept>
#include <vector>

#include <torch/types.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

class Confidence final : public merx::Regularizer {
 public:
  explicit Confidence(const merx::Params& p) : beta_(p.real("beta")) {}

  void setup(const merx::RegularizerSetup& s) override { n_domains_ = s.source_domains.size(); }

  merx::Objective objective(const merx::StepInput& in) override {
    merx::regularizers::check_step(in, n_domains_, "confidence");
    std::vector<torch::Tensor> ss;
    for (const auto& db : in.domains) ss.push_back(db.logits);
    const torch::Tensor l_cls = merx::regularizers::erm_loss(in);
    const torch::Tensor l_ent = merx::regularizers::neg_mean_entropy(torch::cat(ss));
    torch::Tensor total = beta_ > 0 ? l_cls + beta_ * l_ent : l_cls;
    return {total, {{"erm", l_cls.detach()}, {"ent", l_ent.detach()}}};
  }

 private:
  double beta_;
  size_t n_domains_ = 0;
};

}  // namespace

MERX_PLUGIN(merx::Regularizer, Confidence, "confidence", "1.0.0",
            "ERM + BRL's confidence penalty beta * (-mean H(softmax(W z))) and nothing else (the "
            "erm+confidence control of brl)",
            merx::ParamDecl::real("beta", 0.1)
                .range(0, 10)
                .search_as(merx::Search::log10_uniform(-3, 0, 0.5))
                .doc_line("weight of L_ent = -mean H(softmax(W z)), as brl's beta (trains backbone and W); "
                          "0 = ERM"))
