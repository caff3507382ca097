// myreg: a small merx regularizer, as a template for your own.
//
// A regularizer owns the training objective. Every step merx hands it the per-source-domain sub-batches
// (features [b_d, F], shared-head logits [b_d, K], labels [b_d]) and each domain's mean cross-entropy loss.
// This one is ERM plus a penalty on the mean squared feature norm, which keeps features from growing to
// fit one source domain:
//
//   L = (1/D) sum_d CE_d + weight * mean_i ||z_i||^2      (z_i: backbone features of every sample in the batch)
#include <stdexcept>

#include <torch/torch.h>

#include <merx/plugin.h>       // MERX_PLUGIN: exports the entry point merx looks for
#include <merx/regularizer.h>  // the interface: setup(), objective(), and optional extras

namespace {  // nothing but the entry point needs to be visible outside this file

class MyReg final : public merx::Regularizer {
 public:
  // merx hands over every declared parameter, already checked against its range and with defaults filled in.
  explicit MyReg(const merx::Params& p) : weight_(p.real("weight")) {}

  // Called once per cell: source domain names, feature width F, class count K, sampler, seed, device.
  void setup(const merx::RegularizerSetup&) override {}

  // The step's objective: a finite scalar to minimise, plus named parts merx logs per epoch (`loss/<name>`).
  merx::Objective objective(const merx::StepInput& in) override {
    if (in.domain_losses.empty()) throw std::invalid_argument("myreg: a step without any domain loss");
    torch::Tensor erm = torch::stack(in.domain_losses).mean();
    std::vector<torch::Tensor> features;
    for (const auto& d : in.domains) features.push_back(d.features);
    torch::Tensor norm = torch::cat(features).pow(2).sum(1).mean();
    return {erm + weight_ * norm, {{"erm", erm.detach()}, {"feature_norm", norm.detach()}}};
  }

 private:
  double weight_;
};

}  // namespace

// One MERX_PLUGIN per .so: interface, class, name (must match NAME in CMakeLists.txt's merx_add_plugin, as
// [a-z0-9_]+), version (bump it whenever results may change: it is recorded with every result), a one-line
// description, then the parameter declarations (default, allowed range, how a random search draws it).
MERX_PLUGIN(merx::Regularizer, MyReg, "myreg", "1.0.0", "Example: ERM plus a feature-norm penalty",
            merx::ParamDecl::real("weight", 1e-3)
                .range(0, 10)
                .search_as(merx::Search::log10_uniform(-5, -1))
                .doc_line("weight of the mean squared feature norm"))
