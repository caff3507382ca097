// `au_gan`: the AU-guided GAN augmenter. merx's instantiation of the seed paper's abstract ("uses K-means
// clustering to obtain cluster centers of AU intensities for each category, which are then used to guide the
// GAN in generating balanced micro-expression samples"); the paper's full text is not available, so what
// follows is merx's reading of it (docs/methods.md §6 "What the plugin does exactly"), not the authors' method.
//
// Fitted once per training run on its samples (training minus validation split; never test clips):
//   1. AU vectors (parameter `au_source`, filled by the engine); NaN rows are left out of clustering and of
//      the GAN, and counted.
//   2. per (source, class) (or per class with balance `pooled`): K-means on the AU vectors; the prototype of
//      a cluster is the mean real tensor [C, H, W] of its clips.
//   3. G learns a residual around the prototype, conditioned on (z, AU vector, class, domain); its last layer
//      starts at zero, so an untrained G emits the prototype. For flow_strain inputs G makes (u, v) only and
//      the strain channel is computed from them (strain_of, scale calibrated on the real clips). The critic
//      is a projection critic (class, domain and AU condition in its realness), WGAN-GP or hinge, with
//      DiffAugment (flip negating u, translations) on real and fake alike. `generator: proto_noise` is the
//      no-GAN control: prototype + per-pixel noise with the cluster's residual standard deviation.
//   4. balance to `target` (median | max | a count) of each group's present classes; candidates whose
//      frozen-classifier confidence for their class is below `gate_confidence` are rejected (at most
//      max_draws x missing drawn); a (source, class) whose acceptance or diversity misses the gate gets no
//      samples, is listed in the artifact `quality.gate` and returned by warnings().
// Randomness: one CPU generator seeded with AugmenterSetup::seed (never torch's global one). Fits are cached
// in-process by a 128-bit content hash of (samples, setup, seed, parameters).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/linalg.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "kmeans.h"
#include "merx/augmenter.h"
#include "merx/plugin.h"

namespace {

namespace F = torch::nn::functional;
using nlohmann::json;

struct Settings {
  int64_t k, z_dim, n_critic, batch, steps, width, max_draws;
  double sigma_a, lambda_gp, lr, beta1, beta2, synthetic_weight, gate_confidence, gate_min_acceptance,
      gate_min_diversity, mode_seeking;
  std::string loss, balance, target, generator;
  json params;  // everything as resolved, for the cache key and the artifacts
};

// ---- networks ----

// G: the residual around the prototype. h = [z, a/5, onehot(c), onehot(d)] -> Linear -> [w, s0, s0]
// (s0 = ceil(max(H, W) / 4)) -> (nearest x2, conv3x3, LeakyReLU) x2 -> crop to [H, W] -> concat the
// standardised prototype [C, H, W] -> conv3x3 (-> w), LeakyReLU -> conv3x3 (-> Cg) = residual. `out` (the
// last conv) starts at zero weight and bias, so an untrained G emits the prototype exactly. No normalisation.
struct GeneratorImpl : torch::nn::Module {
  GeneratorImpl(int64_t in, int64_t c, int64_t cg, int64_t h, int64_t w, int64_t width)
      : h_(h), w_(w), width_(width), s0_((std::max(h, w) + 3) / 4) {
    // fc is a Linear layer written as a 1x1 convolution on [B, in, 1, 1]: the same weights ([out, in, 1, 1]
    // is Linear's [out, in]) and the same initial draws, but oneDNN's kernels instead of the reference BLAS
    // Debian's LibTorch links (a third of a fit's time went to sgemm in the Linear layers).
    fc = register_module("fc", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, width * s0_ * s0_, 1)));
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, width, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, width, 3).padding(1)));
    mix = register_module("mix", torch::nn::Conv2d(torch::nn::Conv2dOptions(width + c, width, 3).padding(1)));
    out = register_module("out", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, cg, 3).padding(1)));
  }
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& proto) {
    auto up = F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest);
    auto lrelu = F::LeakyReLUFuncOptions().negative_slope(0.2);
    torch::Tensor t =
        F::leaky_relu(fc->forward(h.view({h.size(0), h.size(1), 1, 1})), lrelu).view({h.size(0), width_, s0_, s0_});
    t = F::leaky_relu(conv1->forward(F::interpolate(t, up)), lrelu);
    t = F::leaky_relu(conv2->forward(F::interpolate(t, up)), lrelu);
    t = t.narrow(2, 0, h_).narrow(3, 0, w_);
    t = F::leaky_relu(mix->forward(torch::cat({t, proto}, 1)), lrelu);
    return out->forward(t);
  }
  int64_t h_, w_, width_, s0_;
  torch::nn::Conv2d fc{nullptr}, conv1{nullptr}, conv2{nullptr}, mix{nullptr}, out{nullptr};
};
TORCH_MODULE(Generator);

// D: a projection critic (Miyato & Koyama, ICLR 2018, Eq. 3): phi(x) = LeakyReLU(Linear(conv4x4/2 (C -> w),
// LeakyReLU, conv4x4/2 (w -> 2w), LeakyReLU)) in R^F, F = 4w; realness r(x, c, d, a) = psi(phi) +
// <E_c[c], phi> + <E_d[d], phi> + <V a/5, phi>: the class, the domain and the AU condition all enter the
// realness. No batch norm (WGAN-GP penalises per-sample gradients).
struct CriticImpl : torch::nn::Module {
  CriticImpl(int64_t c, int64_t h, int64_t w, int64_t width, int64_t a, int64_t k, int64_t d) {
    conv1 = register_module("conv1",
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(c, width, 4).stride(2).padding(1)));
    conv2 = register_module(
        "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, 2 * width, 4).stride(2).padding(1)));
    const int64_t h2 = (h / 2) / 2, w2 = (w / 2) / 2;  // (n + 2 - 4) / 2 + 1 = floor(n / 2), twice
    if (h2 < 1 || w2 < 1) throw std::invalid_argument("au_gan: inputs must be at least 4x4 pixels");
    const int64_t f = 4 * width;
    // fc = Linear(2w·h2·w2 -> F) on the flattened map, written as a convolution whose kernel covers the
    // whole h2 x w2 map (the same weights and draws; oneDNN instead of reference-BLAS sgemm, see Generator).
    fc = register_module("fc", torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * width, f, {h2, w2})));
    psi = register_module("psi", torch::nn::Linear(f, 1));
    emb_c = register_module("emb_c", torch::nn::Linear(torch::nn::LinearOptions(k, f).bias(false)));
    emb_d = register_module("emb_d", torch::nn::Linear(torch::nn::LinearOptions(d, f).bias(false)));
    emb_a = register_module("emb_a", torch::nn::Linear(torch::nn::LinearOptions(std::max<int64_t>(a, 1), f).bias(false)));
  }
  // x [B, C, H, W] standardised; c1, d1 one-hot [B, K], [B, D]; a01 [B, A] in [0, 1]. Returns [B].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c1, const torch::Tensor& d1,
                        const torch::Tensor& a01) {
    auto lrelu = F::LeakyReLUFuncOptions().negative_slope(0.2);
    torch::Tensor t = F::leaky_relu(conv1->forward(x), lrelu);
    t = F::leaky_relu(conv2->forward(t), lrelu);
    const torch::Tensor phi = F::leaky_relu(fc->forward(t).flatten(1), lrelu);
    torch::Tensor proj = emb_c->forward(c1) + emb_d->forward(d1);
    if (a01.size(1) > 0) proj = proj + emb_a->forward(a01);
    return psi->forward(phi).squeeze(1) + (proj * phi).sum(1);
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, fc{nullptr};
  torch::nn::Linear psi{nullptr}, emb_c{nullptr}, emb_d{nullptr}, emb_a{nullptr};
};
TORCH_MODULE(Critic);

// PyTorch's default initialisation of Linear/Conv2d (kaiming_uniform with a = sqrt(5): weight and bias ~
// U(-1/sqrt(fan_in), 1/sqrt(fan_in))), drawn from `gen`.
void init_params(torch::nn::Module& m, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (auto& sub : m.modules(/*include_self=*/false)) {
    auto params = sub->named_parameters(/*recurse=*/false);
    if (!params.contains("weight")) continue;
    const torch::Tensor w = params["weight"];
    const double fan_in = static_cast<double>(w.numel() / w.size(0));
    const double bound = 1.0 / std::sqrt(fan_in);
    for (auto& p : params) {
      torch::Tensor cpu = torch::empty(p.value().sizes(), torch::kFloat);
      cpu.uniform_(-bound, bound, gen);
      p.value().copy_(cpu);
    }
  }
}

// Optical strain of flow u, v [B, H, W] on the S x S grid (methods.md §4: eps = sqrt(u_x² + v_y² +
// ½(u_y + v_x)²)): derivatives per pixel by central differences (f[i+1] − f[i−1]) / 2 after replicate
// padding by one pixel (so at a border (f[1] − f[0]) / 2). Returns [B, H, W].
torch::Tensor strain_of(const torch::Tensor& u, const torch::Tensor& v) {
  auto dx = [](const torch::Tensor& f) {
    const torch::Tensor p = F::pad(f.unsqueeze(1), F::PadFuncOptions({1, 1, 0, 0}).mode(torch::kReplicate)).squeeze(1);
    return (p.narrow(2, 2, f.size(2)) - p.narrow(2, 0, f.size(2))) / 2.0;
  };
  auto dy = [](const torch::Tensor& f) {
    const torch::Tensor p = F::pad(f.unsqueeze(1), F::PadFuncOptions({0, 0, 1, 1}).mode(torch::kReplicate)).squeeze(1);
    return (p.narrow(1, 2, f.size(1)) - p.narrow(1, 0, f.size(1))) / 2.0;
  };
  const torch::Tensor ux = dx(u), vy = dy(v), uy = dy(u), vx = dx(v);
  return (ux * ux + vy * vy + 0.5 * (uy + vx).pow(2)).sqrt();
}

/// The count every present class of a group is brought to: `median` of the present classes' counts (the
/// upper of the two middle ones for an even number of classes), `max`, or an explicit count. 0 = nothing.
int64_t balance_target(std::vector<int64_t> counts, const std::string& target) {
  counts.erase(std::remove(counts.begin(), counts.end(), 0), counts.end());
  if (counts.empty()) return 0;
  std::sort(counts.begin(), counts.end());
  if (target == "max") return counts.back();
  if (target == "median") return counts[counts.size() / 2];
  return std::stoll(target);
}

// Multinomial logistic regression on flattened standardised x (L2 1e-3, 300 full-batch Adam steps, lr 0.05):
// the gate's frozen classifier. Weights drawn as zeros (deterministic).
struct Softmax {
  torch::Tensor w, b, mean, sd;
  torch::Tensor probs(const torch::Tensor& x) const {
    return torch::softmax(torch::addmm(b, ((x.flatten(1) - mean) / sd), w), 1);
  }
};
Softmax fit_softmax(const torch::Tensor& x, const torch::Tensor& y, int64_t k) {
  Softmax m;
  const torch::Tensor f = x.flatten(1);
  m.mean = f.mean(0, true);
  m.sd = f.std(0, true, true).clamp_min(1e-6);
  const torch::Tensor z = (f - m.mean) / m.sd;
  m.w = torch::zeros({z.size(1), k}).requires_grad_(true);
  m.b = torch::zeros({k}).requires_grad_(true);
  torch::AutoGradMode grad(true);
  torch::optim::Adam opt({m.w, m.b}, torch::optim::AdamOptions(0.05));
  for (int i = 0; i < 300; ++i) {
    const torch::Tensor loss =
        F::cross_entropy(torch::addmm(m.b, z, m.w), y) + 1e-3 * m.w.pow(2).sum();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  m.w = m.w.detach();
  m.b = m.b.detach();
  return m;
}

// Ridge regression x -> AU intensities (dual form on centred data, lambda = 0.1 · mean diag(X Xᵀ)): the
// gate's AU estimator, fitted on real clips only; the generator never trains against it.
struct Ridge {
  torch::Tensor xm, ym, coef;  // coef [D, A]
  torch::Tensor predict(const torch::Tensor& x) const {
    return torch::mm(x.flatten(1).to(torch::kDouble) - xm, coef) + ym;
  }
};
Ridge fit_ridge(const torch::Tensor& x, const torch::Tensor& a) {
  Ridge r;
  const torch::Tensor f = x.flatten(1).to(torch::kDouble);
  r.xm = f.mean(0, true);
  r.ym = a.to(torch::kDouble).mean(0, true);
  const torch::Tensor xc = f - r.xm, yc = a.to(torch::kDouble) - r.ym;
  const torch::Tensor gram = torch::mm(xc, xc.t());
  const double lam = 0.1 * gram.diagonal().mean().item<double>() + 1e-9;
  const torch::Tensor alpha =
      torch::linalg_solve(gram + lam * torch::eye(gram.size(0), torch::kDouble), yc);
  r.coef = torch::mm(xc.t(), alpha);
  return r;
}

// DiffAugment (Zhao et al., NeurIPS 2020) for flow: the same random transform for the real and the fake
// batch of one critic step — a horizontal flip that negates u (channel `u`, when the channels are flow) and
// a translation by (dx, dy) ∈ {−2..2}² pixels with zeros shifted in. Differentiable, so G learns through it.
torch::Tensor diff_augment(const torch::Tensor& x, bool flip, int64_t u, int64_t dx, int64_t dy) {
  torch::Tensor t = x;
  if (flip) {
    t = t.flip({3});
    if (u >= 0) {
      std::vector<torch::Tensor> ch = t.unbind(1);
      ch[static_cast<size_t>(u)] = -ch[static_cast<size_t>(u)];
      t = torch::stack(ch, 1);
    }
  }
  if (dx != 0 || dy != 0) {
    const int64_t H = t.size(2), W = t.size(3);
    t = F::pad(t, F::PadFuncOptions({2, 2, 2, 2}));
    t = t.narrow(2, 2 - dy, H).narrow(3, 2 - dx, W);
  }
  return t;
}

// ---- the fit ----

struct Fitted {
  torch::Tensor x, y, domain;  // generated samples (CPU): [M, C, H, W], [M], [M]
  json artifacts;
  std::vector<std::string> warnings;
};

// 64-bit FNV-1a over bytes, with two offsets for a 128-bit key.
struct Hash128 {
  uint64_t a = 1469598103934665603ULL, b = 0x9ae16a3b2f90404fULL;
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      a = (a ^ p[i]) * 1099511628211ULL;
      b = (b ^ p[i]) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
    }
  }
  void add(const std::string& s) {
    const uint64_t n = s.size();
    add(&n, sizeof n);
    add(s.data(), s.size());
  }
  void add(const torch::Tensor& t) {
    if (!t.defined()) return add(std::string("undefined"));
    const torch::Tensor c = t.contiguous().cpu();
    add(std::to_string(static_cast<int>(c.scalar_type())));
    for (int64_t s : c.sizes()) add(&s, sizeof s);
    add(c.data_ptr(), c.numel() * c.element_size());
  }
  std::string hex() const {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                  static_cast<unsigned long long>(b));
    return buf;
  }
};

// In-process cache of fits: key -> future result, at most kCacheSize entries (least recently used goes).
class FitCache {
 public:
  static constexpr size_t kCacheSize = 16;
  using Ptr = std::shared_ptr<const Fitted>;

  /// The cached fit of `key`, or the result of `make()` (which runs in this thread; concurrent callers with
  /// the same key wait for it). `hit` tells which. An exception from make() is rethrown to every waiter and
  /// nothing is cached.
  template <class Make>
  Ptr get(const std::string& key, Make&& make, bool* hit) {
    std::shared_future<Ptr> fut;
    std::promise<Ptr> promise;
    bool mine = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        fut = it->second;
        order_.remove(key);
        order_.push_back(key);
      } else {
        fut = promise.get_future().share();
        entries_[key] = fut;
        order_.push_back(key);
        mine = true;
        while (order_.size() > kCacheSize) {
          entries_.erase(order_.front());
          order_.pop_front();
        }
      }
    }
    *hit = !mine;
    if (!mine) return fut.get();
    try {
      promise.set_value(make());
    } catch (...) {
      promise.set_exception(std::current_exception());
      std::lock_guard<std::mutex> lock(mutex_);
      entries_.erase(key);
      order_.remove(key);
    }
    return fut.get();
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_future<Ptr>> entries_;
  std::list<std::string> order_;
};

FitCache& cache() {
  static FitCache c;
  return c;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Mean pairwise L2 distance between the rows of x [n, D] (0 for n < 2); at most the first 256 rows.
double mean_pairwise(const torch::Tensor& x) {
  const int64_t n = std::min<int64_t>(x.size(0), 256);
  if (n < 2) return 0.0;
  const torch::Tensor f = x.narrow(0, 0, n).flatten(1).to(torch::kDouble);
  const torch::Tensor d = torch::cdist(f, f);
  return d.sum().item<double>() / static_cast<double>(n * (n - 1));
}

class AuGan final : public merx::Augmenter {
 public:
  explicit AuGan(const merx::Params& p) {
    s_.k = p.integer("k");
    s_.z_dim = p.integer("z_dim");
    s_.n_critic = p.integer("n_critic");
    s_.batch = p.integer("batch");
    s_.steps = p.integer("steps");
    s_.width = p.integer("width");
    s_.sigma_a = p.real("sigma_a");
    s_.lambda_gp = p.real("lambda_gp");
    s_.mode_seeking = p.real("mode_seeking");
    s_.lr = p.real("lr");
    s_.beta1 = p.real("beta1");
    s_.beta2 = p.real("beta2");
    s_.synthetic_weight = p.real("synthetic_weight");
    s_.gate_confidence = p.real("gate_confidence");
    s_.gate_min_acceptance = p.real("gate_min_acceptance");
    s_.gate_min_diversity = p.real("gate_min_diversity");
    s_.max_draws = p.integer("max_draws");
    s_.loss = p.string("loss");
    s_.balance = p.string("balance");
    s_.target = p.string("target");
    s_.generator = p.string("generator");
    if (s_.target != "median" && s_.target != "max") {
      size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(s_.target, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != s_.target.size() || v < 1)
        throw std::invalid_argument("au_gan: target must be median, max or a positive count, not '" +
                                    s_.target + "'");
    }
    s_.params = p.raw();
  }

  merx::AugmenterMode mode() const override { return merx::AugmenterMode::Extend; }

  void fit(const merx::AugmenterSetup& setup, const merx::SampleSet& train) override {
    check(setup, train);
    Hash128 h;
    h.add(train.x.to(torch::kFloat));
    h.add(train.y.to(torch::kLong));
    h.add(train.domain.to(torch::kLong));
    h.add(train.au.defined() ? train.au.to(torch::kFloat) : train.au);
    for (int64_t id : train.au_ids) h.add(&id, sizeof id);
    for (const auto& d : setup.source_domains) h.add(d);
    h.add(std::string("|"));
    for (const auto& c : setup.class_names) h.add(c);
    h.add(&setup.seed, sizeof setup.seed);
    h.add(s_.params.dump());
    bool hit = false;
    const auto t0 = std::chrono::steady_clock::now();
    fitted_ = cache().get(
        h.hex(), [&] { return run_fit(setup, train); }, &hit);
    device_ = setup.device;
    extra_ = {{"cache", hit ? "hit" : "miss"}, {"key", h.hex()}, {"seconds_this_cell", seconds_since(t0)}};
  }

  merx::SampleSet extend(const merx::SampleSet&) override {
    if (!fitted_) throw std::logic_error("au_gan: extend() before fit()");
    merx::SampleSet out;
    out.x = fitted_->x.to(device_);
    out.y = fitted_->y.to(device_);
    out.domain = fitted_->domain.to(device_);
    return out;
  }

  double synthetic_loss_weight() const override { return s_.synthetic_weight; }

  std::vector<std::string> warnings() const override {
    return fitted_ ? fitted_->warnings : std::vector<std::string>{};
  }

  json artifacts() const override {
    if (!fitted_) return nullptr;
    json a = fitted_->artifacts;
    for (auto it = extra_.begin(); it != extra_.end(); ++it) a["fit"][it.key()] = it.value();
    return a;
  }

 private:
  static void check(const merx::AugmenterSetup& setup, const merx::SampleSet& t) {
    if (!t.x.defined() || t.x.dim() != 4) throw std::invalid_argument("au_gan: x must be [N, C, H, W]");
    const int64_t n = t.x.size(0);
    if (!t.y.defined() || t.y.numel() != n || !t.domain.defined() || t.domain.numel() != n)
      throw std::invalid_argument("au_gan: y and domain must have N = " + std::to_string(n) + " entries");
    // Inputs must be finite: a non-finite input is a leak or a broken tensor, never something to learn from.
    const int64_t bad = (~torch::isfinite(t.x.flatten(1)).all(1)).sum().item<int64_t>();
    if (bad > 0)
      throw std::invalid_argument("au_gan: " + std::to_string(bad) + " of the " + std::to_string(n) +
                                  " training inputs hold NaN or infinite values");
    if (!t.au.defined() || t.au.numel() == 0)
      throw std::invalid_argument(
          "au_gan: the training samples carry no AU intensities (augmenter.params.au_source: the corpus "
          "annotations code no AUs, or no OpenFace files / landmarks were found)");
    if (t.au.dim() != 2 || t.au.size(0) != n || t.au.size(1) != static_cast<int64_t>(t.au_ids.size()))
      throw std::invalid_argument("au_gan: au must be [N, A] with A = au_ids.size()");
    const auto y = t.y.to(torch::kCPU, torch::kLong), d = t.domain.to(torch::kCPU, torch::kLong);
    const int64_t k = static_cast<int64_t>(setup.class_names.size());
    const int64_t ds = static_cast<int64_t>(setup.source_domains.size());
    if (n > 0 && (y.min().item<int64_t>() < 0 || y.max().item<int64_t>() >= k ||
                  d.min().item<int64_t>() < 0 || d.max().item<int64_t>() >= ds))
      throw std::invalid_argument("au_gan: class or domain id outside the setup's lists");
  }

  std::shared_ptr<const Fitted> run_fit(const merx::AugmenterSetup& setup,
                                        const merx::SampleSet& train) const {
    const auto t0 = std::chrono::steady_clock::now();
    torch::NoGradGuard outer_no_grad;  // re-enabled where the GAN and the gate classifier train
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(setup.seed);
    std::mt19937_64 rng(setup.seed ^ 0x5bd1e995ULL);  // K-means seeding, centre choice, augment draws

    const torch::Tensor x = train.x.to(torch::kCPU, torch::kFloat).contiguous();
    const torch::Tensor y = train.y.to(torch::kCPU, torch::kLong).contiguous();
    const torch::Tensor dom = train.domain.to(torch::kCPU, torch::kLong).contiguous();
    const torch::Tensor au = train.au.to(torch::kCPU, torch::kFloat).contiguous();
    const int64_t n = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t A = au.size(1);
    const int64_t K = static_cast<int64_t>(setup.class_names.size());
    const int64_t D = static_cast<int64_t>(setup.source_domains.size());
    const bool pooled = s_.balance == "pooled";
    const int64_t out_domains = pooled ? 1 : D;  // pooled: one row, the synthetic domain

    // Channels: flow_strain -> G makes (u, v) and strain is computed; flow -> u is negated by a flip.
    const std::vector<std::string> uvs = {"u", "v", "strain"};
    const bool strain = setup.channels.empty() ? C == 3 : setup.channels == uvs;
    int64_t u_ch = -1;
    for (size_t i = 0; i < setup.channels.size(); ++i)
      if (setup.channels[i] == "u") u_ch = static_cast<int64_t>(i);
    if (setup.channels.empty() && C >= 2) u_ch = 0;
    const int64_t Cg = strain ? 2 : C;

    const torch::Tensor has_au = torch::isfinite(au).all(1);
    const torch::Tensor au_c = torch::nan_to_num(au, 0.0).clamp(0.0, 5.0);
    const auto has = has_au.accessor<bool, 1>();
    const auto ya = y.accessor<int64_t, 1>();
    const auto da = dom.accessor<int64_t, 1>();
    const auto aa = au_c.accessor<float, 2>();
    std::vector<int64_t> with_au;
    int64_t without = 0;
    for (int64_t i = 0; i < n; ++i) (has[i] ? with_au.push_back(i) : void(++without));
    auto group_of = [&](int64_t i) { return pooled ? int64_t{0} : da[i]; };

    // Counts per (output domain, class) over every training sample and the need up to the target.
    std::vector<std::vector<int64_t>> count(static_cast<size_t>(out_domains), std::vector<int64_t>(K, 0));
    for (int64_t i = 0; i < n; ++i) ++count[static_cast<size_t>(group_of(i))][static_cast<size_t>(ya[i])];
    std::vector<std::vector<int64_t>> need = count;
    std::vector<int64_t> targets;
    for (auto& row : need) {
      const int64_t t = balance_target(row, s_.target);
      targets.push_back(t);
      for (auto& v : row) v = v > 0 ? std::max<int64_t>(0, t - v) : 0;  // an absent class stays absent
    }

    json fit_info = {{"training_clips", n},         {"clips_with_au", static_cast<int64_t>(with_au.size())},
                     {"clips_without_au", without}, {"au_ids", train.au_ids},
                     {"balance", s_.balance},       {"target", s_.target},
                     {"targets", targets},          {"generator", s_.generator},
                     {"loss", s_.loss},             {"steps", s_.steps},
                     {"mode_seeking", s_.mode_seeking},
                     {"n_critic", s_.n_critic},     {"strain_computed", strain}};

    // Strain scale: alpha minimising ||alpha·strain_of(u, v) − strain||² over the real fit clips (the
    // recipe computes strain at its flow size before resizing, so the S x S derivative differs by a scale).
    double alpha = 1.0;
    if (strain && n > 0) {
      const torch::Tensor sh = strain_of(x.select(1, 0), x.select(1, 1)).to(torch::kDouble);
      const torch::Tensor sr = x.select(1, 2).to(torch::kDouble);
      const double den = (sh * sh).sum().item<double>();
      if (den > 0) alpha = (sh * sr).sum().item<double>() / den;
      const double tot = (sr * sr).sum().item<double>();
      fit_info["strain_scale"] = alpha;
      fit_info["strain_relative_error"] =
          tot > 0 ? std::sqrt((alpha * sh - sr).pow(2).sum().item<double>() / tot) : 0.0;
    }
    // Completes a tensor [B, Cg, H, W] in recipe units to [B, C, H, W].
    auto complete = [&](const torch::Tensor& g) {
      if (!strain) return g;
      return torch::cat({g, (alpha * strain_of(g.select(1, 0), g.select(1, 1))).unsqueeze(1)}, 1);
    };

    // Gate split: per class, every 4th clip of a seeded permutation is held out (a class with >= 2 clips
    // keeps >= 1 out); the frozen classifier and the AU ridge are fitted on the rest.
    std::vector<int64_t> fit_rows, held_rows;
    {
      const torch::Tensor perm = torch::randperm(n, gen, torch::kLong);
      std::vector<int64_t> seen(static_cast<size_t>(K), 0);
      for (int64_t r = 0; r < n; ++r) {
        const int64_t i = perm[r].item<int64_t>();
        ((seen[static_cast<size_t>(ya[i])]++ % 4) == 1 ? held_rows : fit_rows).push_back(i);
      }
      std::sort(fit_rows.begin(), fit_rows.end());
      std::sort(held_rows.begin(), held_rows.end());
    }
    auto rows = [](const torch::Tensor& t, const std::vector<int64_t>& r) {
      return t.index_select(0, torch::tensor(r, torch::kLong));
    };
    const Softmax clf = fit_softmax(rows(x, fit_rows), rows(y, fit_rows), K);
    std::vector<int64_t> ridge_rows;
    for (int64_t i : fit_rows)
      if (has[i]) ridge_rows.push_back(i);
    const bool have_ridge = ridge_rows.size() >= 2 && A > 0;
    Ridge ridge;
    if (have_ridge) ridge = fit_ridge(rows(x, ridge_rows), rows(au_c, ridge_rows));

    // Clusters: K-means on the AU vectors of every (group, class); prototype = mean real tensor of a
    // cluster's clips, residual sd = their per-pixel standard deviation (of the (group, class) when the
    // cluster has one clip).
    struct Cluster {
      int64_t group, cls;
      std::vector<double> centre;
      int64_t size;
    };
    std::vector<Cluster> cl;
    std::vector<torch::Tensor> protos, resid_sd;
    std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> of_group;
    std::vector<int64_t> clip_cluster(static_cast<size_t>(n), -1);
    json clusters = json::array(), skipped = json::array();
    for (int64_t g = 0; g < out_domains; ++g)
      for (int64_t c = 0; c < K; ++c) {
        std::vector<int64_t> idx;
        std::vector<double> v;
        for (int64_t i : with_au)
          if (ya[i] == c && group_of(i) == g) {
            idx.push_back(i);
            for (int64_t j = 0; j < A; ++j) v.push_back(aa[i][j]);
          }
        const std::string gname = pooled ? "synthetic" : setup.source_domains[static_cast<size_t>(g)];
        const std::string cname = setup.class_names[static_cast<size_t>(c)];
        if (idx.empty()) {
          if (need[static_cast<size_t>(g)][static_cast<size_t>(c)] > 0)
            skipped.push_back({{"domain", gname},
                               {"class", cname},
                               {"missing", need[static_cast<size_t>(g)][static_cast<size_t>(c)]},
                               {"reason", "no training clip of this (source, class) has AU intensities"}});
          continue;
        }
        const merx::au_gan::KMeansResult km = merx::au_gan::kmeans(
            v, idx.size(), static_cast<size_t>(std::max<int64_t>(A, 1)), static_cast<size_t>(s_.k), rng());
        const torch::Tensor xg = rows(x, idx);
        const torch::Tensor group_sd = idx.size() > 1 ? xg.std(0, true) : torch::zeros({C, H, W});
        clusters.push_back({{"domain", gname},
                            {"class", cname},
                            {"vectors", idx.size()},
                            {"k", km.k},
                            {"sizes", km.sizes},
                            {"centres", km.centres}});
        for (size_t j = 0; j < km.k; ++j) {
          std::vector<int64_t> members;
          for (size_t r = 0; r < idx.size(); ++r)
            if (km.labels[r] == static_cast<int>(j)) {
              members.push_back(idx[r]);
              clip_cluster[static_cast<size_t>(idx[r])] = static_cast<int64_t>(cl.size());
            }
          const torch::Tensor xm = rows(x, members);
          protos.push_back(xm.mean(0));
          resid_sd.push_back(members.size() > 1 ? xm.std(0, true) : group_sd);
          of_group[{g, c}].push_back(cl.size());
          cl.push_back({g, c,
                        std::vector<double>(km.centres.begin() + static_cast<std::ptrdiff_t>(j * static_cast<size_t>(A)),
                                            km.centres.begin() + static_cast<std::ptrdiff_t>((j + 1) * static_cast<size_t>(A))),
                        km.sizes[j]});
        }
      }

    auto f = std::make_shared<Fitted>();
    f->x = torch::zeros({0, C, H, W});
    f->y = torch::zeros({0}, torch::kLong);
    f->domain = torch::zeros({0}, torch::kLong);
    const int64_t nf = static_cast<int64_t>(with_au.size());
    int64_t total_need = 0;
    for (const auto& row : need)
      for (int64_t v : row) total_need += v;

    // Standardisation per channel (fit clips with AUs) and the networks.
    torch::Tensor mean = torch::zeros({1, C, 1, 1}), sd = torch::ones({1, C, 1, 1});
    if (nf > 1) {
      const torch::Tensor xr = rows(x, with_au);
      mean = xr.mean({0, 2, 3}, true);
      sd = xr.std({0, 2, 3}, /*unbiased=*/true, /*keepdim=*/true).clamp_min(1e-6);
    }
    const torch::Tensor P = protos.empty() ? torch::zeros({0, C, H, W}) : torch::stack(protos);
    const torch::Tensor Ps = (P - mean) / sd;
    const torch::Tensor eyeK = torch::eye(K), eyeD = torch::eye(std::max<int64_t>(D, 1));
    const int64_t Dn = std::max<int64_t>(D, 1);
    Generator G(s_.z_dim + A + K + Dn, C, Cg, H, W, s_.width);
    init_params(*G, gen);
    for (auto& p : G->out->parameters()) p.zero_();  // an untrained G emits the prototype
    // Generated tensor in recipe units from conditions: h = [z, a/5, c, d], cluster ids.
    auto generate = [&](const torch::Tensor& h, const torch::Tensor& cid) {
      const torch::Tensor ps = Ps.index_select(0, cid);
      const torch::Tensor r = G->forward(h, ps);
      const torch::Tensor g = ps.narrow(1, 0, Cg) + r;
      return complete(g * sd.narrow(1, 0, Cg) + mean.narrow(1, 0, Cg));
    };
    auto cond = [&](const torch::Tensor& a01, const torch::Tensor& c, const torch::Tensor& d1) {
      return torch::cat({torch::randn({a01.size(0), s_.z_dim}, gen), a01, eyeK.index_select(0, c), d1}, 1);
    };

    double last_d = 0, last_g = 0;
    if (s_.generator == "gan" && total_need > 0 && nf > 0 && s_.steps > 0) {
      const torch::Tensor idx = torch::tensor(with_au, torch::kLong);
      const torch::Tensor xs = (x.index_select(0, idx) - mean) / sd;
      const torch::Tensor ar = au_c.index_select(0, idx) / 5.0;
      const torch::Tensor yr = y.index_select(0, idx);
      const torch::Tensor dr = eyeD.index_select(0, dom.index_select(0, idx));
      std::vector<int64_t> cc;
      for (int64_t i : with_au) cc.push_back(clip_cluster[static_cast<size_t>(i)]);
      const torch::Tensor cr = torch::tensor(cc, torch::kLong);
      Critic Dc(C, H, W, s_.width, A, K, Dn);
      init_params(*Dc, gen);
      torch::optim::Adam opt_g(G->parameters(),
                               torch::optim::AdamOptions(s_.lr).betas(std::make_tuple(s_.beta1, s_.beta2)));
      torch::optim::Adam opt_d(Dc->parameters(),
                               torch::optim::AdamOptions(s_.lr).betas(std::make_tuple(s_.beta1, s_.beta2)));
      const int64_t b = std::min(s_.batch, nf);
      std::uniform_int_distribution<int64_t> shift(-2, 2);
      std::bernoulli_distribution coin(0.5);
      torch::AutoGradMode enable_grad(true);
      for (int64_t step = 0; step < s_.steps; ++step) {
        for (int64_t it = 0; it < s_.n_critic; ++it) {
          const torch::Tensor bi = torch::randint(0, nf, {b}, gen, torch::kLong);
          const torch::Tensor ab = ar.index_select(0, bi), yb = yr.index_select(0, bi),
                              db = dr.index_select(0, bi), c1 = eyeK.index_select(0, yb);
          torch::Tensor fake;
          {
            torch::NoGradGuard ng;
            fake = (generate(cond(ab, yb, db), cr.index_select(0, bi)) - mean) / sd;
          }
          const bool fl = coin(rng);
          const int64_t sx = shift(rng), sy = shift(rng);
          const torch::Tensor xb = diff_augment(xs.index_select(0, bi), fl, u_ch, sx, sy);
          fake = diff_augment(fake, fl, u_ch, sx, sy);
          const torch::Tensor r_real = Dc->forward(xb, c1, db, ab), r_fake = Dc->forward(fake, c1, db, ab);
          torch::Tensor loss;
          if (s_.loss == "wgan_gp") {
            const torch::Tensor eps = torch::rand({b, 1, 1, 1}, gen);
            const torch::Tensor mix = (eps * xb + (1 - eps) * fake).requires_grad_(true);
            const torch::Tensor r_mix = Dc->forward(mix, c1, db, ab);
            const torch::Tensor grad = torch::autograd::grad({r_mix.sum()}, {mix}, {}, true, true)[0];
            loss = r_fake.mean() - r_real.mean() +
                   s_.lambda_gp * (grad.flatten(1).norm(2, 1) - 1).pow(2).mean();
          } else {  // hinge (Miyato & Koyama 2018)
            loss = F::relu(1 - r_real).mean() + F::relu(1 + r_fake).mean();
          }
          opt_d.zero_grad();
          loss.backward();
          opt_d.step();
          last_d = loss.item<double>();
        }
        // G step. With mode seeking each condition appears twice with independent z (first half, second
        // half of the batch), and G is also rewarded for making the two differ (Mao et al., "Mode Seeking
        // Generative Adversarial Networks for Diverse Image Synthesis", CVPR 2019, Eq. 3: maximise
        // mean|G(c, z1) − G(c, z2)| / mean|z1 − z2|, as the loss λ_ms / (ratio + 1e-5)). Without it (λ_ms 0)
        // the batch is b independent conditions, as in 2.0.
        const bool ms = s_.mode_seeking > 0 && b >= 2;
        torch::Tensor bi = torch::randint(0, nf, {ms ? b / 2 : b}, gen, torch::kLong);
        if (ms) bi = torch::cat({bi, bi});
        const torch::Tensor ab = ar.index_select(0, bi), yb = yr.index_select(0, bi),
                            db = dr.index_select(0, bi);
        const bool fl = coin(rng);
        const int64_t sx = shift(rng), sy = shift(rng);
        const torch::Tensor h = cond(ab, yb, db);
        const torch::Tensor gs = (generate(h, cr.index_select(0, bi)) - mean) / sd;
        const torch::Tensor fake = diff_augment(gs, fl, u_ch, sx, sy);
        torch::Tensor loss = -Dc->forward(fake, eyeK.index_select(0, yb), db, ab).mean();
        if (ms) {
          const int64_t half = bi.size(0) / 2;
          const torch::Tensor dg = (gs.narrow(0, 0, half) - gs.narrow(0, half, half)).abs().mean();
          const torch::Tensor dz =
              (h.narrow(0, 0, half).narrow(1, 0, s_.z_dim) - h.narrow(0, half, half).narrow(1, 0, s_.z_dim)).abs().mean();
          loss = loss + s_.mode_seeking / (dg / dz + 1e-5);
        }
        opt_g.zero_grad();
        loss.backward();
        opt_g.step();
        last_g = loss.item<double>();
        if (!std::isfinite(last_g) || !std::isfinite(last_d))
          throw std::runtime_error("au_gan: non-finite GAN loss at generator step " + std::to_string(step) +
                                   " (D " + std::to_string(last_d) + ", G " + std::to_string(last_g) + ")");
      }
      fit_info["final_loss_d"] = last_d;
      fit_info["final_loss_g"] = last_g;
    }
    fit_info["train_seconds"] = seconds_since(t0);

    // Generation with the gate, per (group, class): candidates in rounds until `need` pass the classifier's
    // confidence threshold or max_draws · need were drawn.
    std::normal_distribution<double> jitter(0.0, s_.sigma_a);
    std::vector<torch::Tensor> out_x;
    std::vector<int64_t> out_y, out_d;
    json gate = json::array();
    std::vector<std::string> warns;
    double acc_gen_num = 0, acc_gen_den = 0;
    double rmse_gen_num = 0, rmse_gen_den = 0;
    std::vector<torch::Tensor> all_cand;
    for (const auto& [gc, ids] : of_group) {
      const auto [g, c] = gc;
      const int64_t m = need[static_cast<size_t>(g)][static_cast<size_t>(c)];
      if (m == 0) continue;
      const std::string gname = pooled ? "synthetic" : setup.source_domains[static_cast<size_t>(g)];
      const std::string cname = setup.class_names[static_cast<size_t>(c)];
      std::vector<double> sizes;
      for (size_t j : ids) sizes.push_back(static_cast<double>(cl[j].size));
      std::discrete_distribution<size_t> pick(sizes.begin(), sizes.end());
      std::vector<torch::Tensor> accepted, cands, conds;
      int64_t n_acc = 0, drawn = 0, n_pass = 0;  // n_pass: candidates over the threshold, kept or not
      const int64_t budget = s_.max_draws * m;
      while (n_acc < m && drawn < budget) {
        const int64_t r = std::min<int64_t>(std::max<int64_t>(m - n_acc, 16), budget - drawn);
        std::vector<float> a;
        std::vector<int64_t> cid;
        for (int64_t i = 0; i < r; ++i) {
          const size_t j = ids[pick(rng)];
          cid.push_back(static_cast<int64_t>(j));
          for (int64_t q = 0; q < A; ++q)
            a.push_back(static_cast<float>(std::clamp(cl[j].centre[static_cast<size_t>(q)] + jitter(rng), 0.0, 5.0)));
        }
        const torch::Tensor at = torch::tensor(a, torch::kFloat).view({r, A});
        const torch::Tensor ct = torch::tensor(cid, torch::kLong);
        torch::Tensor xg;
        if (s_.generator == "gan") {
          const torch::Tensor d1 = pooled ? torch::full({r, Dn}, 1.0 / static_cast<double>(Dn))
                                          : eyeD.index_select(0, torch::full({r}, g, torch::kLong));
          xg = generate(cond(at / 5.0, torch::full({r}, c, torch::kLong), d1), ct);
        } else {  // proto_noise: prototype + N(0, residual sd²) per pixel, strain recomputed
          const torch::Tensor sdv = torch::stack(resid_sd).index_select(0, ct);
          xg = complete((P.index_select(0, ct) + sdv * torch::randn(P.index_select(0, ct).sizes(), gen))
                            .narrow(1, 0, Cg));
        }
        const torch::Tensor conf = clf.probs(xg).select(1, c);
        const torch::Tensor ok = conf >= s_.gate_confidence;
        const torch::Tensor ok_idx = ok.nonzero().squeeze(1);
        const int64_t take = std::min<int64_t>(ok_idx.numel(), m - n_acc);
        n_pass += ok_idx.numel();
        accepted.push_back(xg.index_select(0, ok_idx.narrow(0, 0, take)));
        n_acc += take;
        drawn += r;
        cands.push_back(xg);
        conds.push_back(at);
        acc_gen_num += (clf.probs(xg).argmax(1) == c).sum().item<double>();
        acc_gen_den += static_cast<double>(r);
      }
      const torch::Tensor cand = torch::cat(cands), acc = torch::cat(accepted);
      all_cand.push_back(cand);
      std::vector<int64_t> real_idx;
      for (int64_t i = 0; i < n; ++i)
        if (ya[i] == c && group_of(i) == g) real_idx.push_back(i);
      const double div_real = mean_pairwise(rows(x, real_idx));
      const double div_gen = mean_pairwise(acc.size(0) >= 2 ? acc : cand);
      // Acceptance = the share of drawn candidates that pass the threshold (not the share kept: rounds draw
      // at least 16, so accepted / drawn would be at most missing / 16 and fail every small class).
      const double acceptance = static_cast<double>(n_pass) / static_cast<double>(std::max<int64_t>(drawn, 1));
      json e = {{"domain", gname},        {"class", cname},           {"real", count[static_cast<size_t>(g)][static_cast<size_t>(c)]},
                {"missing", m},           {"drawn", drawn},           {"accepted", n_acc},  {"passed_threshold", n_pass},
                {"acceptance", acceptance}, {"diversity_generated", div_gen}, {"diversity_real", div_real}};
      if (have_ridge) {
        const double se = (ridge.predict(cand) - torch::cat(conds).to(torch::kDouble)).pow(2).sum().item<double>();
        rmse_gen_num += se;
        rmse_gen_den += static_cast<double>(cand.size(0) * A);
        e["au_rmse_generated"] = std::sqrt(se / static_cast<double>(cand.size(0) * A));
      }
      std::string why;
      if (acceptance < s_.gate_min_acceptance)
        why = "acceptance " + std::to_string(acceptance) + " < gate_min_acceptance " + std::to_string(s_.gate_min_acceptance);
      else if (div_real > 0 && div_gen < s_.gate_min_diversity * div_real)
        why = "diversity " + std::to_string(div_gen) + " < gate_min_diversity x real " + std::to_string(div_real);
      e["passed"] = why.empty();
      if (!why.empty()) {
        e["reason"] = why;
        warns.push_back("au_gan: source '" + gname + "' class '" + cname + "' failed the quality gate (" + why +
                        "): nothing generated for it (" + std::to_string(m) + " missing)");
      } else if (n_acc > 0) {
        out_x.push_back(acc);
        out_y.insert(out_y.end(), static_cast<size_t>(n_acc), c);
        out_d.insert(out_d.end(), static_cast<size_t>(n_acc), pooled ? merx::Augmenter::synthetic_domain(setup) : g);
      }
      gate.push_back(e);
    }
    if (!out_x.empty()) {
      f->x = torch::cat(out_x).contiguous();
      f->y = torch::tensor(out_y, torch::kLong);
      f->domain = torch::tensor(out_d, torch::kLong);
    }
    for (const auto& s : skipped)
      warns.push_back("au_gan: source '" + s["domain"].get<std::string>() + "' class '" +
                      s["class"].get<std::string>() + "': " + s["reason"].get<std::string>());
    f->warnings = warns;

    // Quality figures: the frozen classifier on real held-out clips vs on every generated candidate.
    json quality = json::object();
    quality["classifier"] =
        "multinomial logistic regression on standardised pixels (L2 1e-3, 300 Adam steps), fitted on 3/4 of the "
        "real fit clips, frozen";
    quality["au_estimator"] = "ridge regression x -> AU fitted on the same real clips (not trained against by G)";
    if (!held_rows.empty()) {
      const torch::Tensor ph = clf.probs(rows(x, held_rows)).argmax(1);
      quality["accuracy_real_heldout"] = (ph == rows(y, held_rows)).to(torch::kDouble).mean().item<double>();
      if (have_ridge) {
        std::vector<int64_t> hr;
        for (int64_t i : held_rows)
          if (has[i]) hr.push_back(i);
        if (!hr.empty())
          quality["au_rmse_real_heldout"] =
              (ridge.predict(rows(x, hr)) - rows(au_c, hr).to(torch::kDouble)).pow(2).mean().sqrt().item<double>();
      }
    }
    if (acc_gen_den > 0) quality["accuracy_generated"] = acc_gen_num / acc_gen_den;
    if (rmse_gen_den > 0) quality["au_rmse_generated"] = std::sqrt(rmse_gen_num / rmse_gen_den);
    if (!all_cand.empty()) quality["diversity_generated"] = mean_pairwise(torch::cat(all_cand));
    quality["diversity_real"] = mean_pairwise(x);
    quality["gate"] = gate;
    quality["gate_confidence"] = s_.gate_confidence;

    // Counts: before / generated / after, per output domain and class.
    json counts = json::object();
    std::vector<std::vector<int64_t>> made(static_cast<size_t>(out_domains), std::vector<int64_t>(K, 0));
    for (size_t i = 0; i < out_y.size(); ++i)
      ++made[pooled ? 0 : static_cast<size_t>(out_d[i])][static_cast<size_t>(out_y[i])];
    for (int64_t d = 0; d < out_domains; ++d) {
      json row = json::object();
      for (int64_t c = 0; c < K; ++c) {
        const int64_t before = count[static_cast<size_t>(d)][static_cast<size_t>(c)];
        const int64_t g = made[static_cast<size_t>(d)][static_cast<size_t>(c)];
        row[setup.class_names[static_cast<size_t>(c)]] = {{"real", before}, {"generated", g}, {"after", before + g}};
      }
      counts[pooled ? "synthetic (pooled over sources)" : setup.source_domains[static_cast<size_t>(d)]] = row;
    }
    fit_info["seconds"] = seconds_since(t0);
    fit_info["generated"] = f->y.numel();
    f->artifacts = {{"generated", {{"counts", counts}, {"skipped", skipped}, {"clusters", clusters}}},
                    {"quality", quality},
                    {"fit", fit_info}};
    return f;
  }

  Settings s_;
  std::shared_ptr<const Fitted> fitted_;
  torch::Device device_ = torch::kCPU;
  json extra_;
};

}  // namespace

MERX_PLUGIN(
    merx::Augmenter, AuGan, "au_gan", "2.1.0",
    "AU-guided conditional GAN: K-means AU clusters per source and class give prototypes; G learns the "
    "variation around them (projection critic, DiffAugment); a frozen-classifier quality gate; balances "
    "each source's classes to a declared target (merx's instantiation of the seed paper, methods.md §6)",
    merx::ParamDecl::string("au_source", "annotations")
        .one_of({"annotations", "openface", "flow_roi"})
        .doc_line("where the AU intensities come from (one source per fit; docs/spec.md): the corpus "
                  "annotations, the datasets' OpenFace CSV files (dataset option `openface`), or the "
                  "flow_roi estimator (flow magnitude in each AU's landmark region)"),
    merx::ParamDecl::string("balance", "per_source")
        .one_of({"per_source", "pooled"})
        .doc_line("per_source: balance the classes within each source, generated samples keep that "
                  "source's domain; pooled: over all sources, generated samples in the domain "
                  "`synthetic`"),
    merx::ParamDecl::string("target", "median")
        .doc_line("count each present class is brought to: median (of the group's present classes, the "
                  "upper middle one for an even number), max, or a positive count; larger classes are kept"),
    merx::ParamDecl::string("generator", "gan")
        .one_of({"gan", "proto_noise"})
        .doc_line("gan: the residual GAN; proto_noise: the no-GAN control, prototype + per-pixel Gaussian "
                  "noise with the cluster's residual standard deviation (same gate and balancing)"),
    merx::ParamDecl::real("synthetic_weight", 1)
        .range(0, 10)
        .doc_line("weight of a generated sample's cross-entropy relative to a real one's"),
    merx::ParamDecl::real("gate_confidence", 0.5)
        .range(0, 1)
        .doc_line("a candidate is kept only when the frozen classifier gives its class at least this"),
    merx::ParamDecl::real("gate_min_acceptance", 0.25)
        .range(0, 1)
        .doc_line("a (source, class) whose candidates are accepted less often fails the gate"),
    merx::ParamDecl::real("gate_min_diversity", 0.25)
        .range(0, 10)
        .doc_line("a (source, class) whose generated diversity is below this times the real one fails"),
    merx::ParamDecl::integer("max_draws", 4)
        .range(1, 100)
        .doc_line("at most max_draws x missing candidates are drawn per (source, class)"),
    merx::ParamDecl::integer("k", 3).range(1, 64).doc_line("K-means clusters per (source, class)"),
    merx::ParamDecl::real("sigma_a", 0.25)
        .range(0, 5)
        .doc_line("standard deviation of the jitter added to a centre (AU intensity units)"),
    merx::ParamDecl::integer("z_dim", 16).range(1, 1024).doc_line("noise dimensions of G"),
    merx::ParamDecl::string("loss", "wgan_gp")
        .one_of({"wgan_gp", "hinge"})
        .doc_line("adversarial loss: WGAN-GP or the hinge loss of projection discriminators"),
    merx::ParamDecl::real("lambda_gp", 10).range(0, 1000).doc_line("gradient-penalty weight (wgan_gp)"),
    merx::ParamDecl::real("mode_seeking", 5)
        .range(0, 100)
        .doc_line("weight of the mode-seeking term (Mao et al., CVPR 2019) that rewards G for different "
                  "outputs from different z under one condition; 0 = off (2.0 behaviour)"),
    merx::ParamDecl::integer("n_critic", 2).range(1, 100).doc_line("critic steps per G step"),
    merx::ParamDecl::real("lr", 5e-4).range(1e-7, 1).doc_line("Adam learning rate of G and the critic"),
    merx::ParamDecl::real("beta1", 0.5).range(0, 0.999).doc_line("Adam beta1"),
    merx::ParamDecl::real("beta2", 0.9).range(0, 0.9999).doc_line("Adam beta2"),
    merx::ParamDecl::integer("batch", 32).range(2, 4096).doc_line("GAN batch size"),
    merx::ParamDecl::integer("steps", 500)
        .range(0, 1000000)
        .doc_line("generator steps (docs/benchmarks.md: dose-response 150/500/2000)"),
    merx::ParamDecl::integer("width", 16)
        .range(4, 512)
        .doc_line("channels of G's convs and the critic's first conv (doubled in its second)"))
