// `dann`: domain-adversarial training (Ganin et al., JMLR 2016) with DomainBed's discriminator and
// hyperparameters (algorithms.py `DANN`, networks.py `MLP`; the SMALL_IMAGES defaults, since merx's inputs
// are 28x28 flow images). A discriminator MLP (mlp_depth Linear layers of mlp_width, dropout and ReLU after
// each but the last) predicts the source domain of every feature vector:
//   L_disc = mean_{i∈B} CE(Disc(z_i), d_i) + grad_penalty · mean_i ‖∂(Σ_i CE_i)/∂z_i‖²
//   L = (1/D) Σ_d CE_d + L_disc(GRL_λ(z))
// where the gradient reversal layer GRL_λ is the identity forward and multiplies the gradient by −λ, so one
// optimizer step trains the discriminator on +∇L_disc and the backbone on ∇ERM − λ∇L_disc: the gradients
// of DomainBed's two losses (disc_loss; classifier_loss − λ·disc_loss).
// Differences from DomainBed, forced by one objective per step (merx/regularizer.h): both updates happen in
// the same step (DomainBed alternates d_steps_per_g_step discriminator steps with one generator step), and
// the discriminator group inherits the cell optimizer's betas (DomainBed: Adam beta1 = 0.5 for both).
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/autograd.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>

#include "../common.h"
#include "merx/plugin.h"
#include "merx/regularizer.h"

namespace {

namespace F = torch::nn::functional;

class Dann final : public merx::Regularizer {
 public:
  explicit Dann(const merx::Params& p)
      : lambda_(p.real("lambda")),
        lr_d_(p.real("lr_d")),
        weight_decay_d_(p.real("weight_decay_d")),
        grad_penalty_(p.real("grad_penalty")),
        width_(p.integer("mlp_width")),
        depth_(p.integer("mlp_depth")),
        dropout_(p.real("mlp_dropout")) {}

  merx::RegularizerRequirements requirements() const override {
    merx::RegularizerRequirements r;
    r.min_source_domains = 2;  // a discriminator needs two domains to tell apart
    return r;
  }

  void setup(const merx::RegularizerSetup& s) override {
    if (s.feature_dim < 1) throw std::invalid_argument("dann: feature_dim must be positive");
    if (!layers_.empty()) throw std::logic_error("dann: setup() called twice");
    n_domains_ = s.source_domains.size();
    at::Generator gen = merx::regularizers::seeded_generator(s.seed);
    int64_t in = s.feature_dim;
    for (int64_t l = 0; l < depth_; ++l) {
      const int64_t out = l + 1 == depth_ ? static_cast<int64_t>(n_domains_) : width_;
      torch::nn::Linear layer = register_module("disc" + std::to_string(l), torch::nn::Linear(in, out));
      merx::regularizers::init_linear(layer, gen);
      layers_.push_back(layer);
      in = out;
    }
    to(s.device);
  }

  merx::Objective objective(const merx::StepInput& in) override {
    merx::regularizers::check_step(in, n_domains_, "dann");
    const torch::Tensor erm = merx::regularizers::erm_loss(in);
    std::vector<torch::Tensor> zs, ds;
    for (const auto& db : in.domains) {
      zs.push_back(db.features);
      ds.push_back(torch::full({db.features.size(0)}, db.domain,
                               torch::TensorOptions().dtype(torch::kLong).device(db.features.device())));
    }
    const torch::Tensor z = torch::cat(zs);
    const torch::Tensor domain = torch::cat(ds);

    // Gradient reversal without a custom autograd node: value z, gradient −λ with respect to z.
    const torch::Tensor zd = z.detach();
    torch::Tensor disc_in = zd - lambda_ * (z - zd);
    if (!disc_in.requires_grad()) disc_in = disc_in.detach().requires_grad_(grad_penalty_ > 0);
    const torch::Tensor out = discriminate(disc_in);
    torch::Tensor disc_loss = F::cross_entropy(out, domain);
    std::vector<std::pair<std::string, torch::Tensor>> parts = {{"erm", erm.detach()}};
    if (grad_penalty_ > 0) {
      const torch::Tensor ce_sum =
          F::cross_entropy(out, domain, F::CrossEntropyFuncOptions().reduction(torch::kSum));
      const torch::Tensor g = torch::autograd::grad({ce_sum}, {disc_in}, {}, /*retain_graph=*/true,
                                                    /*create_graph=*/true)[0];
      const torch::Tensor gp = g.pow(2).sum(1).mean();
      parts.emplace_back("disc_ce", disc_loss.detach());
      parts.emplace_back("grad_penalty", gp.detach());
      disc_loss = disc_loss + grad_penalty_ * gp;
    }
    parts.emplace_back("disc", disc_loss.detach());
    return {erm + disc_loss, parts};
  }

  std::vector<merx::ParamGroupSpec> param_groups() override {
    merx::ParamGroupSpec g;
    g.name = "dann.discriminator";
    g.lr = lr_d_;
    g.weight_decay = weight_decay_d_;
    for (auto& l : layers_) {
      g.parameters.push_back(l->weight);
      g.parameters.push_back(l->bias);
    }
    return {g};
  }

 private:
  // [B, F] -> domain logits [B, D] (DomainBed's MLP: Linear, dropout, ReLU; ...; Linear).
  torch::Tensor discriminate(torch::Tensor x) {
    for (size_t l = 0; l < layers_.size(); ++l) {
      x = layers_[l]->forward(x);
      if (l + 1 < layers_.size())
        x = torch::relu(F::dropout(x, F::DropoutFuncOptions().p(dropout_).training(is_training())));
    }
    return x;
  }

  double lambda_, lr_d_, weight_decay_d_, grad_penalty_;
  int64_t width_, depth_;
  double dropout_;
  size_t n_domains_ = 0;
  std::vector<torch::nn::Linear> layers_;
};

}  // namespace

MERX_PLUGIN(
    merx::Regularizer, Dann, "dann", "1.0.0",
    "DANN (DomainBed's discriminator and defaults): domain discriminator MLP trained through a gradient "
    "reversal layer in the same step",
    merx::ParamDecl::real("lambda", 1.0)
        .range(0, 1000)
        .search_as(merx::Search::log10_uniform(-2, 2))
        .doc_line("gradient reversal weight: the backbone descends ERM - lambda x L_disc"),
    merx::ParamDecl::real("lr_d", 1e-3)
        .range(0, 1)
        .search_as(merx::Search::log10_uniform(-4.5, -2.5))
        .doc_line("discriminator learning rate (DomainBed, small images)"),
    merx::ParamDecl::real("weight_decay_d", 0.0)
        .range(0, 1)
        .search_as(merx::Search::log10_uniform(-6, -2))
        .doc_line("discriminator weight decay"),
    merx::ParamDecl::real("grad_penalty", 0.0)
        .range(0, 1000)
        .search_as(merx::Search::log10_uniform(-2, 1))
        .doc_line("weight of the discriminator's input-gradient penalty mean ||dCE/dz||^2"),
    merx::ParamDecl::integer("mlp_width", 256)
        .range(1, 4096)
        .search_as(merx::Search::choice({64, 128, 256, 512, 1024}))
        .doc_line("discriminator hidden width (DomainBed draws int(2^U(6, 10)); merx its octaves)"),
    merx::ParamDecl::integer("mlp_depth", 3)
        .range(2, 10)
        .search_as(merx::Search::choice({3, 4, 5}))
        .doc_line("discriminator Linear layers, input and output included"),
    merx::ParamDecl::real("mlp_dropout", 0.0)
        .range(0, 0.95)
        .search_as(merx::Search::choice({0.0, 0.1, 0.5}))
        .doc_line("dropout after each hidden Linear of the discriminator"))
