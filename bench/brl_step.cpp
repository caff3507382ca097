// Issue 8 (Performance): one BRL training step costs <= 1.3x an ERM step (`none`) for STSTNet at batch 32
// with 2 and with 3 sources.
//
// Both plugins and the backbone are the built .so files, loaded through the plugin host (default folders:
// <exe dir>/../plugins). One step = what the engine does per batch: STSTNet forward on the whole
// domain-balanced batch [D*b, 3, 28, 28], shared head Linear(400, 3), per-domain mean cross-entropy, the
// regularizer's objective, reading the total and each component as numbers (as the engine does), zero_grad,
// backward, Adam step over backbone, head and the regularizer's parameter groups. torch runs on 1 intra-op
// thread (merx's default per cell). Random inputs; the figure is the median over `--repeats` timed blocks of
// `--steps` steps of the thread's CPU time (wall time printed beside it), ERM and BRL blocks interleaved so
// that a change in machine load hits both. `batch` counts clips per source domain (merx's `training.batch`
// under the domain-balanced sampler); `--per-step` also times batch 32 in all (b = 16 with 2 sources, 11
// with 3).
//
//   bench_brl_step [--steps N] [--repeats R] [--check] [--per-step]
// Prints one line per configuration; with --check exits 1 when a ratio exceeds 1.3.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "merx/backbone.h"
#include "merx/plugins/registry.h"
#include "merx/regularizer.h"
#include "merx/spec/params_check.h"

namespace {

namespace F = torch::nn::functional;

template <class T>
std::shared_ptr<T> build(const merx::PluginRegistry& reg, merx::PluginKind kind, const std::string& name,
                         const merx::json& given = merx::json::object()) {
  const merx::PluginInfo* info = reg.find(kind, name);
  if (info == nullptr) {
    std::fprintf(stderr, "bench_brl_step: plugin %s not found next to the executable (build it first)\n",
                 name.c_str());
    std::exit(2);
  }
  std::vector<merx::Problem> problems;
  const merx::json params = merx::check_params(info->params, given, "params", name, problems);
  if (!problems.empty()) {
    std::fprintf(stderr, "bench_brl_step: %s\n", problems[0].format().c_str());
    std::exit(2);
  }
  return reg.create<T>(name, params);
}

struct Trainer {
  std::shared_ptr<merx::Backbone> backbone;
  torch::nn::Linear head{nullptr};
  std::shared_ptr<merx::Regularizer> reg;
  std::unique_ptr<torch::optim::Adam> opt;
  int64_t step = 0;
  double sink = 0;  // keeps the logged values alive

  void run(const torch::Tensor& x, const std::vector<torch::Tensor>& y, int64_t b) {
    const torch::Tensor z = backbone->forward(x);
    const torch::Tensor s = head->forward(z);
    merx::StepInput in;
    for (size_t d = 0; d < y.size(); ++d) {
      merx::DomainBatch db;
      db.domain = static_cast<int64_t>(d);
      db.features = z.narrow(0, static_cast<int64_t>(d) * b, b);
      db.logits = s.narrow(0, static_cast<int64_t>(d) * b, b);
      db.labels = y[d];
      in.domain_losses.push_back(F::cross_entropy(db.logits, db.labels));
      in.domains.push_back(db);
    }
    in.head = head;
    in.step = step++;
    in.total_steps = 1 << 30;
    const merx::Objective o = reg->objective(in);
    // The engine reads the total and every component each step (curves, non-finite check): so does this.
    double logged = o.total.item<double>();
    for (const auto& c : o.components) logged += c.second.item<double>();
    sink += logged;
    opt->zero_grad();
    o.total.backward();
    opt->step();
  }
};

Trainer make_trainer(const merx::PluginRegistry& plugins, const std::string& reg_name, int64_t n_domains) {
  torch::manual_seed(1);
  Trainer t;
  t.backbone = build<merx::Backbone>(plugins, merx::PluginKind::Backbone, "ststnet");
  t.head = torch::nn::Linear(t.backbone->feature_dim(), 3);
  t.reg = build<merx::Regularizer>(plugins, merx::PluginKind::Regularizer, reg_name);
  merx::RegularizerSetup s;
  for (int64_t d = 0; d < n_domains; ++d) s.source_domains.push_back("source" + std::to_string(d));
  s.feature_dim = t.backbone->feature_dim();
  s.n_classes = 3;
  s.sampler = "domain_balanced";
  s.seed = 5;
  t.reg->setup(s);
  std::vector<torch::Tensor> params = t.backbone->parameters();
  for (const auto& p : t.head->parameters()) params.push_back(p);
  for (const auto& g : t.reg->param_groups())
    for (const auto& p : g.parameters) params.push_back(p);
  t.opt = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(1e-3));
  t.backbone->train();
  return t;
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 200, repeats = 7;
  bool check = false, per_step = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) {
      steps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--check")) {
      check = true;
    } else if (!std::strcmp(argv[i], "--per-step")) {
      per_step = true;
    } else {
      std::fprintf(stderr, "usage: bench_brl_step [--steps N] [--repeats R] [--check] [--per-step]\n");
      return 2;
    }
  }
  if (steps < 1 || repeats < 1) {
    std::fprintf(stderr, "bench_brl_step: --steps and --repeats must be positive\n");
    return 2;
  }
  torch::set_num_threads(1);
  const merx::PluginRegistry plugins = merx::PluginRegistry::discover();

  struct Config {
    int64_t domains, per_domain;
  };
  std::vector<Config> configs = {{2, 32}, {3, 32}};
  if (per_step) configs.insert(configs.end(), {{2, 16}, {3, 11}});
  bool ok = true;
  for (const Config& c : configs) {
    torch::manual_seed(2);
    const torch::Tensor x = torch::randn({c.domains * c.per_domain, 3, 28, 28});
    std::vector<torch::Tensor> y;
    for (int64_t d = 0; d < c.domains; ++d) y.push_back(torch::randint(3, {c.per_domain}, torch::kLong));
    Trainer erm = make_trainer(plugins, "none", c.domains);
    Trainer brl = make_trainer(plugins, "brl", c.domains);
    for (int i = 0; i < 20; ++i) {  // warm-up: allocator, oneDNN primitives
      erm.run(x, y, c.per_domain);
      brl.run(x, y, c.per_domain);
    }
    // Per block: ms per step of this thread's CPU time (all of torch's work at 1 thread runs on it, so
    // other jobs on the machine do not count) and of wall time.
    std::vector<double> cpu_erm, cpu_brl, wall_erm, wall_brl;
    auto time_block = [&](Trainer& t, std::vector<double>& cpu, std::vector<double>& wall) {
      const double c0 = thread_cpu_ms();
      const auto w0 = std::chrono::steady_clock::now();
      for (int i = 0; i < steps; ++i) t.run(x, y, c.per_domain);
      wall.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count() / steps);
      cpu.push_back((thread_cpu_ms() - c0) / steps);
    };
    for (int r = 0; r < repeats; ++r) {
      time_block(erm, cpu_erm, wall_erm);
      time_block(brl, cpu_brl, wall_brl);
    }
    const double me = median(cpu_erm), mb = median(cpu_brl), ratio = mb / me;
    std::printf(
        "sources %lld, %lld clips per source (%lld per step): CPU time ERM %.3f ms/step, BRL %.3f "
        "ms/step, ratio %.3f (goal <= 1.3); wall ERM %.3f, BRL %.3f, ratio %.3f\n",
        static_cast<long long>(c.domains), static_cast<long long>(c.per_domain),
        static_cast<long long>(c.domains * c.per_domain), me, mb, ratio, median(wall_erm), median(wall_brl),
        median(wall_brl) / median(wall_erm));
    if (ratio > 1.3) ok = false;
  }
  return check && !ok ? 1 : 0;
}
