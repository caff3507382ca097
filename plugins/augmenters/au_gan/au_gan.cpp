// `au_gan`: the AU-guided GAN augmenter. merx's instantiation of the seed paper's abstract ("uses K-means
// clustering to obtain cluster centers of AU intensities for each category, which are then used to guide the
// GAN in generating balanced micro-expression samples"); the paper's full text is not available, so what
// follows is merx's reading of it (methods.md §6, docs/methods.md), not the authors' method.
//
// Fitted once per training run on its samples (training minus validation split; the engine never passes
// test or validation clips):
//   1. AU vectors a ∈ [0, 5]^A from ONE source per fit (parameter `au_source`, read by the engine, which
//      fills SampleSet::au from it); a NaN row (no AU information) is left out of clustering and of the GAN,
//      and counted (artifact `fit.clips_without_au`), never given zeros.
//   2. balance `per_source` (default): for each source d and each class c below d's largest class, K-means
//      (kmeans.h: k-means++ seeded, k' = min(k, n)) on the AU vectors of (d, c), or on class c's vectors
//      of every source when (d, c) has fewer than k; `pooled`: per class over all sources, generated samples
//      in the domain `synthetic` (merx/augmenter.h, interface 2).
//   3. a conditional GAN in the recipe's tensor space x [C, H, W] (standardised per channel with the fit
//      samples' mean and standard deviation): G(z, a/5, onehot(c)) with z ~ N(0, I_zdim); D(x) → (realness,
//      â/5, class logits). `loss` wgan_gp (default; Gulrajani et al. 2017, λ_gp = 10, n_critic critic steps
//      per generator step) or ns (non-saturating GAN, Goodfellow et al. 2014). D also minimises
//      λ_au·mean((â−a)²/25) + λ_cls·CE on real samples; G minimises its adversarial loss + the same two
//      terms on its samples with their conditions. Adam(lr, (beta1, beta2)) for both.
//   4. generation: the missing count of each (d, c) with conditions a = clip(μ_j + ε, 0, 5), ε ~ N(0, σ_a²I),
//      centre j drawn with probability ∝ its cluster size.
//   5. artifacts (merx/augmenter.h): `generated` (counts per source and class before / generated / after),
//      `quality` (a nearest-class-mean classifier fitted on the real fit samples: its accuracy on the
//      generated samples per class, and on the real ones for reference; AU regression RMSE of D's head on
//      generated and on real samples, in intensity units; diversity = mean pairwise L2 distance per class,
//      generated vs real), `fit` (sizes, steps, seconds, cache hit).
// Randomness: one CPU generator seeded with AugmenterSetup::seed (never torch's global one), so a fit depends
// only on (its samples, seed, parameters). Fits are cached in-process by exactly that (a 128-bit content hash
// of x, y, domain, au, sources, classes, seed and parameters): cells that share fold, seed and validation
// split — e.g. au_gan with and without brl — fit once per process.
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
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "kmeans.h"
#include "merx/augmenter.h"
#include "merx/plugin.h"

namespace {

namespace F = torch::nn::functional;
using nlohmann::json;

struct Settings {
  int64_t k, z_dim, n_critic, batch, steps, width;
  double sigma_a, lambda_gp, lr, beta1, beta2, lambda_au, lambda_cls;
  std::string loss, balance;
  json params;  // everything as resolved, for the cache key and the artifacts
};

// ---- networks ----

// G: [z, a/5, onehot(c)] -> Linear -> [2w, s0, s0] -> (upsample x2, conv3x3, LeakyReLU) -> (upsample x2,
// conv3x3) -> crop to [C, H, W]; s0 = ceil(max(H, W) / 4). No normalisation layers (eval = train).
struct GeneratorImpl : torch::nn::Module {
  GeneratorImpl(int64_t in, int64_t c, int64_t h, int64_t w, int64_t width)
      : c_(c), h_(h), w_(w), width_(width), s0_((std::max(h, w) + 3) / 4) {
    fc = register_module("fc", torch::nn::Linear(in, 2 * width * s0_ * s0_));
    conv1 =
        register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * width, width, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, c, 3).padding(1)));
  }
  torch::Tensor forward(const torch::Tensor& in) {
    auto up = F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest);
    torch::Tensor t = F::leaky_relu(fc->forward(in), F::LeakyReLUFuncOptions().negative_slope(0.2))
                          .view({in.size(0), 2 * width_, s0_, s0_});
    t = F::leaky_relu(conv1->forward(F::interpolate(t, up)), F::LeakyReLUFuncOptions().negative_slope(0.2));
    t = conv2->forward(F::interpolate(t, up));
    return t.narrow(2, 0, h_).narrow(3, 0, w_);
  }
  int64_t c_, h_, w_, width_, s0_;
  torch::nn::Linear fc{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(Generator);

// D: conv4x4/2 (C -> w) LeakyReLU, conv4x4/2 (w -> 2w) LeakyReLU, Linear -> [1 + A + K]: realness, â/5,
// class logits. No batch norm (WGAN-GP penalises per-sample gradients).
struct DiscriminatorImpl : torch::nn::Module {
  DiscriminatorImpl(int64_t c, int64_t h, int64_t w, int64_t width, int64_t a, int64_t k) : a_(a), k_(k) {
    conv1 = register_module("conv1",
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(c, width, 4).stride(2).padding(1)));
    conv2 = register_module(
        "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, 2 * width, 4).stride(2).padding(1)));
    const int64_t h2 = (h / 2) / 2, w2 = (w / 2) / 2;  // (n + 2 - 4) / 2 + 1 = floor(n / 2), twice
    if (h2 < 1 || w2 < 1) throw std::invalid_argument("au_gan: inputs must be at least 4x4 pixels");
    fc = register_module("fc", torch::nn::Linear(2 * width * h2 * w2, 1 + a + k));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto lrelu = F::LeakyReLUFuncOptions().negative_slope(0.2);
    torch::Tensor t = F::leaky_relu(conv1->forward(x), lrelu);
    t = F::leaky_relu(conv2->forward(t), lrelu);
    return fc->forward(t.flatten(1));
  }
  int64_t a_, k_;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Discriminator);

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

// ---- the fit ----

struct Fitted {
  torch::Tensor x, y, domain;  // generated samples (CPU): [M, C, H, W], [M], [M]
  json artifacts;
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
    s_.lr = p.real("lr");
    s_.beta1 = p.real("beta1");
    s_.beta2 = p.real("beta2");
    s_.lambda_au = p.real("lambda_au");
    s_.lambda_cls = p.real("lambda_cls");
    s_.loss = p.string("loss");
    s_.balance = p.string("balance");
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
    torch::NoGradGuard outer_no_grad;  // re-enabled where the GAN trains
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(setup.seed);
    std::mt19937_64 rng(setup.seed ^ 0x5bd1e995ULL);  // K-means seeding and centre choice

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

    // Which samples have AU information; clamp to 0..5.
    const torch::Tensor has_au = torch::isfinite(au).all(1);
    const torch::Tensor au_c = au.clamp(0.0, 5.0);
    const auto has = has_au.accessor<bool, 1>();
    const auto ya = y.accessor<int64_t, 1>();
    const auto da = dom.accessor<int64_t, 1>();
    const auto aa = au_c.accessor<float, 2>();
    std::vector<int64_t> with_au;
    int64_t without = 0;
    for (int64_t i = 0; i < n; ++i) (has[i] ? with_au.push_back(i) : void(++without));

    // Counts per (output domain, class) over every training sample (with or without AUs) and the need.
    std::vector<std::vector<int64_t>> count(static_cast<size_t>(out_domains), std::vector<int64_t>(K, 0));
    for (int64_t i = 0; i < n; ++i)
      ++count[pooled ? 0 : static_cast<size_t>(da[i])][static_cast<size_t>(ya[i])];
    std::vector<std::vector<int64_t>> need = count;
    for (auto& row : need) {
      const int64_t top = *std::max_element(row.begin(), row.end());
      for (auto& v : row) v = top > 0 ? top - v : 0;  // a source without any clip is left alone
    }

    // AU vectors of a class (optionally of one source).
    auto vectors = [&](int64_t c, int64_t d) {
      std::vector<double> v;
      for (int64_t i : with_au)
        if (ya[i] == c && (d < 0 || da[i] == d))
          for (int64_t j = 0; j < A; ++j) v.push_back(aa[i][j]);
      return v;
    };

    // Conditions of every sample to generate: K-means centres, centre ∝ cluster size, jitter, clip.
    std::vector<float> cond;
    std::vector<int64_t> gen_y, gen_d;
    json clusters = json::array(), skipped = json::array();
    std::normal_distribution<double> jitter(0.0, s_.sigma_a);
    for (int64_t d = 0; d < out_domains; ++d)
      for (int64_t c = 0; c < K; ++c) {
        const int64_t m = need[static_cast<size_t>(d)][static_cast<size_t>(c)];
        if (m == 0) continue;
        const std::string dname = pooled ? "synthetic" : setup.source_domains[static_cast<size_t>(d)];
        const std::string cname = setup.class_names[static_cast<size_t>(c)];
        std::vector<double> v = vectors(c, pooled ? -1 : d);
        std::string from = pooled ? "pooled" : "source";
        if (static_cast<int64_t>(v.size()) / std::max<int64_t>(A, 1) < s_.k && !pooled) {
          v = vectors(c, -1);
          from = "pooled_fallback";
        }
        const size_t nv = A > 0 ? v.size() / static_cast<size_t>(A) : 0;
        if (nv == 0) {
          skipped.push_back({{"domain", dname},
                             {"class", cname},
                             {"missing", m},
                             {"reason", "no training clip of this class has AU intensities"}});
          continue;
        }
        const merx::au_gan::KMeansResult km =
            merx::au_gan::kmeans(v, nv, static_cast<size_t>(A), static_cast<size_t>(s_.k), rng());
        clusters.push_back({{"domain", dname},
                            {"class", cname},
                            {"from", from},
                            {"vectors", nv},
                            {"k", km.k},
                            {"sizes", km.sizes},
                            {"centres", km.centres}});
        std::discrete_distribution<size_t> pick(km.sizes.begin(), km.sizes.end());
        for (int64_t g = 0; g < m; ++g) {
          const size_t j = pick(rng);
          for (int64_t a = 0; a < A; ++a)
            cond.push_back(static_cast<float>(std::clamp(
                km.centres[j * static_cast<size_t>(A) + static_cast<size_t>(a)] + jitter(rng), 0.0, 5.0)));
          gen_y.push_back(c);
          gen_d.push_back(pooled ? merx::Augmenter::synthetic_domain(setup) : d);
        }
      }
    const int64_t M = static_cast<int64_t>(gen_y.size());

    auto f = std::make_shared<Fitted>();
    json fit_info = {{"training_clips", n},         {"clips_with_au", static_cast<int64_t>(with_au.size())},
                     {"clips_without_au", without}, {"au_ids", train.au_ids},
                     {"balance", s_.balance},       {"loss", s_.loss},
                     {"steps", s_.steps},           {"n_critic", s_.n_critic}};
    f->x = torch::zeros({0, C, H, W});
    f->y = torch::zeros({0}, torch::kLong);
    f->domain = torch::zeros({0}, torch::kLong);

    // The GAN on the samples with AUs.
    const int64_t nf = static_cast<int64_t>(with_au.size());
    json quality = json::object();
    if (M > 0 && nf > 0) {
      const torch::Tensor idx = torch::tensor(with_au, torch::kLong);
      const torch::Tensor xr = x.index_select(0, idx);
      const torch::Tensor mean = xr.mean({0, 2, 3}, true),
                          sd = xr.std({0, 2, 3}, /*unbiased=*/true, /*keepdim=*/true).clamp_min(1e-6);
      const torch::Tensor xs = ((xr - mean) / sd).to(setup.device);
      const torch::Tensor ar = (au_c.index_select(0, idx) / 5.0).to(setup.device);
      const torch::Tensor yr = y.index_select(0, idx).to(setup.device);

      Generator G(s_.z_dim + A + K, C, H, W, s_.width);
      Discriminator Dn(C, H, W, s_.width, A, K);
      init_params(*G, gen);
      init_params(*Dn, gen);
      G->to(setup.device);
      Dn->to(setup.device);
      torch::optim::Adam opt_g(G->parameters(),
                               torch::optim::AdamOptions(s_.lr).betas(std::make_tuple(s_.beta1, s_.beta2)));
      torch::optim::Adam opt_d(Dn->parameters(),
                               torch::optim::AdamOptions(s_.lr).betas(std::make_tuple(s_.beta1, s_.beta2)));
      const int64_t b = std::min(s_.batch, nf);
      const torch::Tensor eye = torch::eye(K).to(setup.device);
      auto draw = [&](const torch::Tensor& t) { return t.to(setup.device); };
      auto heads = [&](const torch::Tensor& out) {
        return std::make_tuple(out.narrow(1, 0, 1).squeeze(1), out.narrow(1, 1, A), out.narrow(1, 1 + A, K));
      };
      auto g_in = [&](const torch::Tensor& a01, const torch::Tensor& cls) {
        return torch::cat({draw(torch::randn({a01.size(0), s_.z_dim}, gen)), a01, eye.index_select(0, cls)},
                          1);
      };
      double last_d = 0, last_g = 0;
      {
        torch::AutoGradMode enable_grad(true);
        for (int64_t step = 0; step < s_.steps; ++step) {
          for (int64_t it = 0; it < s_.n_critic; ++it) {
            const torch::Tensor bi = draw(torch::randint(0, nf, {b}, gen, torch::kLong));
            const torch::Tensor xb = xs.index_select(0, bi), ab = ar.index_select(0, bi),
                                yb = yr.index_select(0, bi);
            torch::Tensor fake;
            {
              torch::NoGradGuard ng;
              fake = G->forward(g_in(ab, yb));
            }
            auto [r_real, a_real, c_real] = heads(Dn->forward(xb));
            auto [r_fake, a_fake_unused, c_fake_unused] = heads(Dn->forward(fake));
            torch::Tensor adv;
            if (s_.loss == "wgan_gp") {
              const torch::Tensor eps = draw(torch::rand({b, 1, 1, 1}, gen));
              const torch::Tensor mix = (eps * xb + (1 - eps) * fake).requires_grad_(true);
              auto [r_mix, a_mix_unused, c_mix_unused] = heads(Dn->forward(mix));
              const torch::Tensor grad = torch::autograd::grad({r_mix.sum()}, {mix}, {}, true, true)[0];
              const torch::Tensor gp = (grad.flatten(1).norm(2, 1) - 1).pow(2).mean();
              adv = r_fake.mean() - r_real.mean() + s_.lambda_gp * gp;
            } else {
              adv = F::softplus(-r_real).mean() + F::softplus(r_fake).mean();
            }
            const torch::Tensor loss = adv + s_.lambda_au * (a_real - ab).pow(2).mean() +
                                       s_.lambda_cls * F::cross_entropy(c_real, yb);
            opt_d.zero_grad();
            loss.backward();
            opt_d.step();
            last_d = loss.item<double>();
          }
          const torch::Tensor bi = draw(torch::randint(0, nf, {b}, gen, torch::kLong));
          const torch::Tensor ab = ar.index_select(0, bi), yb = yr.index_select(0, bi);
          const torch::Tensor fake = G->forward(g_in(ab, yb));
          auto [r_fake, a_fake, c_fake] = heads(Dn->forward(fake));
          const torch::Tensor adv = s_.loss == "wgan_gp" ? -r_fake.mean() : F::softplus(-r_fake).mean();
          const torch::Tensor loss =
              adv + s_.lambda_au * (a_fake - ab).pow(2).mean() + s_.lambda_cls * F::cross_entropy(c_fake, yb);
          opt_g.zero_grad();
          loss.backward();
          opt_g.step();
          last_g = loss.item<double>();
          if (!std::isfinite(last_g) || !std::isfinite(last_d))
            throw std::runtime_error("au_gan: non-finite GAN loss at generator step " + std::to_string(step) +
                                     " (D " + std::to_string(last_d) + ", G " + std::to_string(last_g) + ")");
        }
      }
      fit_info["final_loss_d"] = last_d;
      fit_info["final_loss_g"] = last_g;

      // Generation, in chunks.
      const torch::Tensor a_gen = torch::tensor(cond, torch::kFloat).view({M, A});
      const torch::Tensor y_gen = torch::tensor(gen_y, torch::kLong);
      std::vector<torch::Tensor> xs_gen, a_hat;
      for (int64_t lo = 0; lo < M; lo += 256) {
        const int64_t m = std::min<int64_t>(256, M - lo);
        const torch::Tensor ab = draw(a_gen.narrow(0, lo, m) / 5.0), yb = draw(y_gen.narrow(0, lo, m));
        const torch::Tensor g = G->forward(g_in(ab, yb));
        xs_gen.push_back(g.cpu());
        a_hat.push_back(std::get<1>(heads(Dn->forward(g))).cpu() * 5.0);
      }
      const torch::Tensor gx = torch::cat(xs_gen) * sd + mean;  // back to the recipe's units
      f->x = gx.contiguous();
      f->y = y_gen;
      f->domain = torch::tensor(gen_d, torch::kLong);

      // Quality figures.
      torch::Tensor real_a_hat;
      {
        std::vector<torch::Tensor> parts;
        for (int64_t lo = 0; lo < nf; lo += 256) {
          const int64_t m = std::min<int64_t>(256, nf - lo);
          parts.push_back(std::get<1>(heads(Dn->forward(xs.narrow(0, lo, m)))).cpu() * 5.0);
        }
        real_a_hat = torch::cat(parts);
      }
      quality["au_rmse_generated"] = (torch::cat(a_hat) - a_gen).pow(2).mean().sqrt().item<double>();
      quality["au_rmse_real"] = (real_a_hat - au_c.index_select(0, idx)).pow(2).mean().sqrt().item<double>();
      // Nearest class mean in tensor space, fitted on every real fit sample.
      const torch::Tensor flat = x.flatten(1).to(torch::kDouble);
      std::vector<torch::Tensor> means;
      std::vector<int64_t> present;
      for (int64_t c = 0; c < K; ++c) {
        const torch::Tensor mask = y == c;
        if (mask.any().item<bool>()) {
          means.push_back(flat.index({mask}).mean(0));
          present.push_back(c);
        }
      }
      const torch::Tensor mu = torch::stack(means);
      const torch::Tensor present_t = torch::tensor(present, torch::kLong);
      auto classify = [&](const torch::Tensor& v) {
        return present_t.index_select(0, torch::cdist(v.flatten(1).to(torch::kDouble), mu).argmin(1));
      };
      const torch::Tensor pred_gen = classify(gx), pred_real = classify(x);
      json per_class = json::object();
      for (int64_t c = 0; c < K; ++c) {
        const torch::Tensor mg = y_gen == c, mr = y == c;
        const int64_t ng = mg.sum().item<int64_t>(), nr = mr.sum().item<int64_t>();
        json e = {{"generated", ng}, {"real", nr}};
        if (ng > 0) {
          e["accuracy_generated"] = (pred_gen.index({mg}) == c).to(torch::kDouble).mean().item<double>();
          e["diversity_generated"] = mean_pairwise(gx.index({mg}));
        }
        if (nr > 0) {
          e["accuracy_real"] = (pred_real.index({mr}) == c).to(torch::kDouble).mean().item<double>();
          e["diversity_real"] = mean_pairwise(x.index({mr}));
        }
        per_class[setup.class_names[static_cast<size_t>(c)]] = e;
      }
      quality["classifier"] = "nearest class mean (Euclidean, tensor space) fitted on the real fit samples";
      quality["accuracy_generated"] = (pred_gen == y_gen).to(torch::kDouble).mean().item<double>();
      quality["accuracy_real"] = (pred_real == y).to(torch::kDouble).mean().item<double>();
      quality["diversity_generated"] = mean_pairwise(gx);
      quality["diversity_real"] = mean_pairwise(x);
      quality["per_class"] = per_class;
    }

    // Counts: before / generated / after, per output domain and class.
    json counts = json::object();
    std::vector<std::vector<int64_t>> made(static_cast<size_t>(out_domains), std::vector<int64_t>(K, 0));
    for (int64_t i = 0; i < static_cast<int64_t>(f->y.numel()); ++i)
      ++made[pooled ? 0 : static_cast<size_t>(gen_d[static_cast<size_t>(i)])]
            [static_cast<size_t>(gen_y[static_cast<size_t>(i)])];
    for (int64_t d = 0; d < out_domains; ++d) {
      json row = json::object();
      for (int64_t c = 0; c < K; ++c) {
        const int64_t before = count[static_cast<size_t>(d)][static_cast<size_t>(c)];
        const int64_t g = made[static_cast<size_t>(d)][static_cast<size_t>(c)];
        row[setup.class_names[static_cast<size_t>(c)]] = {
            {"real", before}, {"generated", g}, {"after", before + g}};
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
    merx::Augmenter, AuGan, "au_gan", "1.0.0",
    "AU-guided conditional GAN: K-means AU centres per source and class condition a WGAN-GP that "
    "generates samples until each source's classes are balanced (merx's instantiation of the seed "
    "paper, methods.md §6)",
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
    merx::ParamDecl::integer("k", 3).range(1, 64).doc_line("K-means clusters per (source, class)"),
    merx::ParamDecl::real("sigma_a", 0.25)
        .range(0, 5)
        .doc_line("standard deviation of the jitter added to a centre (AU intensity units)"),
    merx::ParamDecl::integer("z_dim", 64).range(1, 1024).doc_line("noise dimensions of G"),
    merx::ParamDecl::string("loss", "wgan_gp")
        .one_of({"wgan_gp", "ns"})
        .doc_line("adversarial loss: WGAN-GP or the non-saturating GAN loss"),
    merx::ParamDecl::real("lambda_gp", 10).range(0, 1000).doc_line("gradient-penalty weight (wgan_gp)"),
    merx::ParamDecl::integer("n_critic", 5).range(1, 100).doc_line("D steps per G step"),
    merx::ParamDecl::real("lr", 1e-4).range(1e-7, 1).doc_line("Adam learning rate of G and D"),
    merx::ParamDecl::real("beta1", 0.5).range(0, 0.999).doc_line("Adam beta1"),
    merx::ParamDecl::real("beta2", 0.9).range(0, 0.9999).doc_line("Adam beta2"),
    merx::ParamDecl::real("lambda_au", 1)
        .range(0, 1000)
        .doc_line("weight of the AU-regression term (squared error on a/5)"),
    merx::ParamDecl::real("lambda_cls", 1).range(0, 1000).doc_line("weight of the class term"),
    merx::ParamDecl::integer("batch", 64).range(2, 4096).doc_line("GAN batch size"),
    merx::ParamDecl::integer("steps", 2000)
        .range(0, 1000000)
        .doc_line("generator steps (the demo uses fewer, docs/benchmarks.md)"),
    merx::ParamDecl::integer("width", 32)
        .range(4, 512)
        .doc_line("channels of the first D conv / last G conv (doubled in the other layer)"))
