// `brl`: batch regularization learning. merx's instantiation of the seed paper's abstract ("a plug-and-play
// batch regularization learning module that constrains weight discrepancies across datasets through
// information-theoretic regularization"); the paper's full text is not available, so the equations below are
// merx's reading of it, not the authors' (docs/methods.md §5).
//
// Per domain-balanced batch B = ∪_d B_d over the D source datasets, features z = f_θ(x) [B, F], shared head W
// (weight [K, F] and bias [K], the classifier used at test time) and D dataset heads W_d owned here:
//   L_cls = (1/|present domains|) Σ_d CE_d                        (the engine's per-domain losses; → θ, W)
//   L_dom = (1/|present domains|) Σ_d mean_{i∈B_d} CE(W_d sg(z_i), y_i)                             (→ W_d)
//   L_js  = mean_{i∈B} [H(1/D Σ_d p_d) − 1/D Σ_d H(p_d)],  p_d = softmax(sg(W_d) z_i / τ)             (→ θ)
//   L_w   = (1/D) Σ_d KL(N(W_d, σ²I) ‖ N(W, σ²I)) = (1/D) Σ_d ‖W_d − W‖²_F / (2σ²), σ = 1, biases included
//                                                                                             (→ W, W_d)
//   L_ent = −mean_{i∈B} H(softmax(W z_i))                                                     (→ θ, W)
//   L = L_cls + α L_dom + λ_js L_js + λ_w L_w + β L_ent        (sg = stop-gradient, i.e. detach)
// The generalized Jensen–Shannon divergence L_js is 0 iff all dataset heads agree, and ≤ log D. A weight of 0
// switches its term off (then it is still computed, without a graph, and logged).
//
// Checks (issue 16): diagnostics() reports ||W_d − W||_F (weights and biases) per source and their mean after
// each epoch (curves "brl/w_dist/<source>", "brl/w_dist/mean"). `domains: permuted` is the null control: each
// step the samples' domain ids are shuffled within the batch by a seeded permutation, keeping every
// sub-batch's size, so W_d is fitted on a random subset of the pooled batch instead of dataset d. Only L_dom
// uses domain ids; L_cls (the engine's per-domain losses), L_js, L_w and L_ent are unchanged.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

namespace F = torch::nn::functional;
using merx::regularizers::check_step;

class Brl final : public merx::Regularizer {
 public:
  explicit Brl(const merx::Params& p)
      : alpha_(p.real("alpha")),
        lambda_js_(p.real("lambda_js")),
        lambda_w_(p.real("lambda_w")),
        beta_(p.real("beta")),
        tau_(p.real("tau")),
        permuted_(p.string("domains") == "permuted") {}

  merx::RegularizerRequirements requirements() const override {
    merx::RegularizerRequirements r;
    r.min_source_domains = 2;
    r.needs_domain_balanced = true;
    return r;
  }

  void setup(const merx::RegularizerSetup& s) override {
    // The engine checks requirements() first; these repeat it for callers that do not.
    if (s.source_domains.size() < 2)
      throw std::invalid_argument(
          "brl needs at least 2 source domains (dataset heads are compared across "
          "datasets); this cell has " +
          std::to_string(s.source_domains.size()));
    if (s.sampler != "domain_balanced")
      throw std::invalid_argument(
          "brl needs training.sampler \"domain_balanced\" (every batch holds every "
          "source), not \"" +
          s.sampler + "\"");
    if (s.feature_dim < 1 || s.n_classes < 1)
      throw std::invalid_argument("brl: feature_dim and n_classes must be positive");
    if (!heads_.empty()) throw std::logic_error("brl: setup() called twice");
    at::Generator gen = merx::regularizers::seeded_generator(s.seed);
    // Its own stream for the permutations (the heads' initialisation does not depend on `domains`).
    perm_gen_ = merx::regularizers::seeded_generator(s.seed ^ 0x9e3779b97f4a7c15ULL);
    names_ = s.source_domains;
    for (size_t d = 0; d < s.source_domains.size(); ++d) {
      // Named by position (dataset names may hold characters a module name cannot).
      torch::nn::Linear head =
          register_module("head" + std::to_string(d), torch::nn::Linear(s.feature_dim, s.n_classes));
      merx::regularizers::init_linear(head, gen);
      heads_.push_back(head);
    }
    to(s.device);
  }

  merx::Objective objective(const merx::StepInput& in) override {
    check_step(in, heads_.size(), "brl");
    if (in.head.is_empty()) throw std::invalid_argument("brl: the step has no shared head");
    const int64_t D = static_cast<int64_t>(heads_.size());
    head_ = in.head;  // read by diagnostics() after the epoch

    std::vector<torch::Tensor> zs, ss, ys;
    for (const auto& db : in.domains) {
      zs.push_back(db.features);
      ss.push_back(db.logits);
      ys.push_back(db.labels);
    }
    const torch::Tensor z = torch::cat(zs);  // [B, F]
    const torch::Tensor s = torch::cat(ss);  // [B, K]
    const int64_t B = z.size(0), K = s.size(1), Fdim = z.size(1);

    std::vector<torch::Tensor> ws, bs;
    for (auto& h : heads_) {
      ws.push_back(h->weight);
      bs.push_back(h->bias);
    }
    const torch::Tensor Wd = torch::stack(ws);  // [D, K, F]
    const torch::Tensor bd = torch::stack(bs);  // [D, K]

    // Runs `term` with a graph when its weight is positive; without one (logged only) when it is 0.
    auto compute = [](double weight, auto&& term) {
      if (weight > 0) return term();
      torch::NoGradGuard no_grad;
      return term();
    };

    const torch::Tensor l_cls = merx::regularizers::erm_loss(in);

    // `domains: permuted`: the rows of the batch in a random order, cut into the same sub-batch sizes.
    torch::Tensor zp = z.detach(), yp = torch::cat(ys);
    if (permuted_) {
      const torch::Tensor perm = torch::randperm(B, perm_gen_, torch::kLong).to(z.device());
      zp = zp.index_select(0, perm);
      yp = yp.index_select(0, perm);
    }
    const torch::Tensor l_dom = compute(alpha_, [&] {
      std::vector<torch::Tensor> per_domain;
      int64_t lo = 0;
      for (const auto& db : in.domains) {
        const int64_t n = db.features.size(0);
        per_domain.push_back(F::cross_entropy(heads_[db.domain]->forward(zp.narrow(0, lo, n)), yp.narrow(0, lo, n)));
        lo += n;
      }
      return torch::stack(per_domain).mean();
    });

    const torch::Tensor l_js = compute(lambda_js_, [&] {
      // Every sample through every dataset head at once: [B, D*K] -> [B, D, K].
      const torch::Tensor logits =
          torch::addmm(bd.detach().reshape({D * K}), z, Wd.detach().reshape({D * K, Fdim}).t())
              .view({B, D, K});
      const torch::Tensor logp = torch::log_softmax(logits / tau_, 2);
      const torch::Tensor h_each = -(logp.exp() * logp).sum(2);               // [B, D]
      const torch::Tensor log_mix = torch::logsumexp(logp, 1) - std::log(D);  // [B, K]
      const torch::Tensor h_mix = -(log_mix.exp() * log_mix).sum(1);          // [B]
      return (h_mix - h_each.mean(1)).mean();
    });

    const torch::Tensor l_w = compute(lambda_w_, [&] {
      torch::Tensor sq = (Wd - in.head->weight.unsqueeze(0)).pow(2).sum();
      if (in.head->bias.defined()) sq = sq + (bd - in.head->bias.unsqueeze(0)).pow(2).sum();
      return sq / (2.0 * static_cast<double>(D));  // σ = 1
    });

    const torch::Tensor l_ent = compute(beta_, [&] { return merx::regularizers::neg_mean_entropy(s); });

    torch::Tensor total = l_cls;
    if (alpha_ > 0) total = total + alpha_ * l_dom;
    if (lambda_js_ > 0) total = total + lambda_js_ * l_js;
    if (lambda_w_ > 0) total = total + lambda_w_ * l_w;
    if (beta_ > 0) total = total + beta_ * l_ent;
    return {total,
            {{"cls", l_cls.detach()},
             {"dom", l_dom.detach()},
             {"js", l_js.detach()},
             {"w", l_w.detach()},
             {"ent", l_ent.detach()}}};
  }

  std::vector<merx::ParamGroupSpec> param_groups() override {
    merx::ParamGroupSpec g;
    g.name = "brl.heads";
    for (auto& h : heads_) {
      g.parameters.push_back(h->weight);
      g.parameters.push_back(h->bias);
    }
    return {g};
  }

  /// ||W_d − W||_F per source ("w_dist/<source>", weights and biases together, as in L_w) and their mean
  /// ("w_dist/mean"), against the shared head of the last step; nothing before the first step.
  std::vector<std::pair<std::string, double>> diagnostics() override {
    std::vector<std::pair<std::string, double>> out;
    if (head_.is_empty()) return out;
    torch::NoGradGuard no_grad;
    double sum = 0;
    for (size_t d = 0; d < heads_.size(); ++d) {
      torch::Tensor sq = (heads_[d]->weight - head_->weight).pow(2).sum();
      if (head_->bias.defined()) sq = sq + (heads_[d]->bias - head_->bias).pow(2).sum();
      const double dist = std::sqrt(sq.item<double>());
      sum += dist;
      out.emplace_back("w_dist/" + names_[d], dist);
    }
    out.emplace_back("w_dist/mean", sum / static_cast<double>(heads_.size()));
    return out;
  }

 private:
  double alpha_, lambda_js_, lambda_w_, beta_, tau_;
  bool permuted_;
  std::vector<torch::nn::Linear> heads_;  // W_d, in RegularizerSetup::source_domains order
  std::vector<std::string> names_;        // RegularizerSetup::source_domains
  torch::nn::Linear head_{nullptr};       // the shared head W of the last step
  at::Generator perm_gen_;                // `domains: permuted` only
};

}  // namespace

MERX_PLUGIN(
    merx::Regularizer, Brl, "brl", "1.0.0",
    "Batch regularization learning (merx's instantiation of the seed paper's abstract; full text not "
    "available): dataset heads W_d, generalized Jensen-Shannon term, weight KL, confidence penalty",
    merx::ParamDecl::real("alpha", 1.0)
        .range(0, 100)
        .doc_line(
            "weight of L_dom, the dataset heads' own cross-entropy on detached features (trains W_d only)"),
    merx::ParamDecl::real("lambda_js", 1.0)
        .range(0, 100)
        .search_as(merx::Search::log10_uniform(-2, 1))
        .doc_line("weight of L_js, the generalized Jensen-Shannon divergence of the dataset heads' "
                  "predictions (trains the backbone only); 0 = off"),
    merx::ParamDecl::real("lambda_w", 1e-3)
        .range(0, 10)
        .search_as(merx::Search::log10_uniform(-5, -1))
        .doc_line("weight of L_w = (1/D) sum_d ||W_d - W||^2 / 2, the weight-space KL with sigma = 1 "
                  "(trains W and W_d); 0 = off"),
    merx::ParamDecl::real("beta", 0.1)
        .range(0, 10)
        .search_as(merx::Search::log10_uniform(-3, 0, 0.5))
        .doc_line("weight of L_ent = -mean H(softmax(W z)), the confidence penalty (trains backbone "
                  "and W); 0 = off"),
    merx::ParamDecl::real("tau", 1.0)
        .range(0.01, 100)
        .doc_line("temperature of the dataset heads' softmax inside L_js"),
    merx::ParamDecl::string("domains", "true")
        .one_of({"true", "permuted"})
        .doc_line("\"permuted\" (null control): each step the samples' domain ids are shuffled within the "
                  "batch, keeping sub-batch sizes, so each W_d fits a random subset instead of its dataset"))
