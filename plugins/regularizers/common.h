// Helpers shared by the built-in regularizer plugins (header-only; each plugin .so compiles its own copy).
// Not part of the plugin SDK: out-of-tree plugins should not include it.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "merx/params.h"
#include "merx/regularizer.h"

namespace merx::regularizers {

/// Checks what every objective() relies on; std::invalid_argument naming the plugin otherwise:
/// at least one domain, one loss per domain, domain ids in [0, n_domains), each domain's features [b_d, F]
/// with b_d >= 1 and labels [b_d].
inline void check_step(const StepInput& in, size_t n_domains, const std::string& who) {
  if (in.domains.empty()) throw std::invalid_argument(who + ": a step without any domain");
  if (in.domain_losses.size() != in.domains.size())
    throw std::invalid_argument(who + ": " + std::to_string(in.domains.size()) + " domains but " +
                                std::to_string(in.domain_losses.size()) + " domain losses");
  for (const auto& d : in.domains) {
    if (d.domain < 0 || static_cast<size_t>(d.domain) >= n_domains)
      throw std::invalid_argument(who + ": domain id " + std::to_string(d.domain) + " outside the " +
                                  std::to_string(n_domains) + " source domains of setup()");
    if (d.features.dim() != 2 || d.features.size(0) < 1 || d.labels.dim() != 1 ||
        d.labels.size(0) != d.features.size(0))
      throw std::invalid_argument(who + ": domain " + std::to_string(d.domain) +
                                  " needs features [b, F] with b >= 1 and labels [b]");
  }
}

/// ERM part: mean of the per-domain mean losses (every source weighs the same, as `none` and DomainBed).
inline torch::Tensor erm_loss(const StepInput& in) {
  return torch::stack(in.domain_losses).mean();
}

/// BRL's confidence penalty L_ent = −mean_i H(softmax(s_i)) over logits s [B, K] (H in nats; docs/methods.md §5),
/// shared by `brl` and its control `confidence` so that the two are the same term by construction.
inline torch::Tensor neg_mean_entropy(const torch::Tensor& logits) {
  const torch::Tensor logq = torch::log_softmax(logits, 1);
  return (logq.exp() * logq).sum(1).mean();
}

/// A CPU generator seeded with the plugin's seed: the plugin's own initialisation never touches torch's
/// global generator, so it does not depend on what the engine drew before (docs/plugins.md).
inline at::Generator seeded_generator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

/// PyTorch's nn.Linear initialisation (kaiming_uniform with a = sqrt(5), i.e. weight and bias ~
/// U(-1/sqrt(in), 1/sqrt(in))), drawn from `gen` on the CPU and copied into the layer wherever it lives.
inline void init_linear(const torch::nn::Linear& layer, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(layer->weight.size(1)));
  auto draw = [&](const torch::Tensor& t) {
    torch::Tensor cpu = torch::empty(t.sizes(), torch::TensorOptions().dtype(t.scalar_type()));
    cpu.uniform_(-bound, bound, gen);
    t.copy_(cpu);
  };
  draw(layer->weight);
  if (layer->bias.defined()) draw(layer->bias);
}

/// DomainBed's penalty annealing (IRM, V-REx): the penalty weighs 1 before step `anneal_iters` and `lambda`
/// from it on, and the optimizer state is reset before that step because the gradient scale jumps there.
/// Parameters `lambda` and `anneal_iters` (declared by lambda_decl and anneal_decl).
class PenaltyAnneal {
 public:
  explicit PenaltyAnneal(const Params& p) : lambda_(p.real("lambda")), anneal_iters_(p.integer("anneal_iters")) {}
  double weight(int64_t step) const { return step >= anneal_iters_ ? lambda_ : 1.0; }
  bool reset_optimizer_before(int64_t step) const { return step == anneal_iters_; }

  /// `lambda` with its DomainBed default and search (10^U(-1, 5)); `doc` says which term it weighs.
  static ParamDecl lambda_decl(double default_value, const std::string& doc) {
    return ParamDecl::real("lambda", default_value)
        .range(0, 1e6)
        .search_as(Search::log10_uniform(-1, 5))
        .doc_line(doc);
  }
  /// `anneal_iters`: DomainBed draws int(10^U(0, 4)); merx searches its decades.
  static ParamDecl anneal_decl() {
    return ParamDecl::integer("anneal_iters", 500)
        .range(0, 1000000)
        .search_as(Search::choice({1, 10, 100, 1000, 10000}))
        .doc_line("steps with penalty weight 1 before lambda applies and the optimizer is reset "
                  "(DomainBed draws int(10^U(0, 4)); merx its decades)");
  }

 private:
  double lambda_;
  int64_t anneal_iters_;
};

}  // namespace merx::regularizers
