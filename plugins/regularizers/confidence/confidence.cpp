// `confidence`: ERM plus exactly BRL's confidence penalty, the control `erm+confidence` of issue 16. With
// brl's default β it isolates what the entropy term alone does, so a gain of `brl` over it is due to the
// dataset heads (L_dom, L_js, L_w), not to the penalty (docs/methods.md §5):
//   L = (1/|present domains|) Σ_d CE_d + β·L_ent,   L_ent = −mean_{i∈B} H(softmax(W z_i))   (→ θ, W)
// the same L_ent, default and search range as brl's `beta` (plugins/regularizers/brl/brl.cpp).
#include <torch/types.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

class Confidence final : public merx::Regularizer {
 public:
  explicit Confidence(const merx::Params& p) : beta_(p.real("beta")) {}
  void setup(const merx::RegularizerSetup&) override {}
  merx::Objective objective(const merx::StepInput& in) override {
    if (in.domain_losses.empty()) throw std::invalid_argument("confidence: a step without any domain loss");
    const torch::Tensor l_cls = merx::regularizers::erm_loss(in);
    std::vector<torch::Tensor> ss;
    for (const auto& db : in.domains) ss.push_back(db.logits);
    const torch::Tensor logq = torch::log_softmax(torch::cat(ss), 1);
    const torch::Tensor l_ent = (logq.exp() * logq).sum(1).mean();  // = −mean H
    torch::Tensor total = l_cls;
    if (beta_ > 0) total = total + beta_ * l_ent;
    return {total, {{"cls", l_cls.detach()}, {"ent", l_ent.detach()}}};
  }

 private:
  double beta_;
};

}  // namespace

MERX_PLUGIN(merx::Regularizer, Confidence, "confidence", "1.0.0",
            "ERM + brl's confidence penalty beta * (-mean entropy of the shared head's softmax): the "
            "erm+confidence control for brl",
            merx::ParamDecl::real("beta", 0.1)
                .range(0, 10)
                .search_as(merx::Search::log10_uniform(-3, 0, 0.5))
                .doc_line("weight of L_ent = -mean H(softmax(W z)), as brl's beta; 0 = ERM"))
