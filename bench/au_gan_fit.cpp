// Issue 8 (Performance): fitting `au_gan` on ~300 training samples at 28x28 takes under 30 s on one core with
// the demo settings.
//
// The plugin is the built .so, loaded through the plugin host (<exe dir>/../plugins). Data: 300 clips
// [3, 28, 28] (class pattern + source shift + noise), 3 sources x 3 classes with the demo corpus's kind of
// imbalance (per source 60/25/15 clips: every source generates 35 + 45 = 80 samples, 240 in all), 12 AU
// intensities per clip. torch on 1 intra-op thread. Each configuration is fitted once (a fresh seed each
// time, so the in-process fit cache never answers); the figure is the thread's CPU time of fit() + extend(),
// wall time beside it.
//
//   bench_au_gan_fit [--check] [--full] [--set name=value ...]
// Default: the demo settings (steps 150, n_critic 2, width 16, batch 32 — docs/benchmarks.md); --full also
// times the methods.md defaults (2,000 steps, n_critic 5, width 32, batch 64). --set overrides a parameter of
// the demo settings (JSON value). With --check exits 1 when the demo settings take 30 s or more.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "merx/augmenter.h"
#include "merx/plugins/registry.h"
#include "merx/spec/params_check.h"

namespace {

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

merx::SampleSet make_data() {
  torch::manual_seed(123);
  const torch::Tensor patterns = torch::randn({3, 3, 28, 28});
  const torch::Tensor au_centres = torch::rand({3, 12}) * 4;
  std::vector<int64_t> y, d;
  const int64_t per_class[3] = {60, 25, 15};
  for (int64_t s = 0; s < 3; ++s)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < per_class[c]; ++i) {
        y.push_back(c);
        d.push_back(s);
      }
  const int64_t n = static_cast<int64_t>(y.size());
  merx::SampleSet set;
  set.y = torch::tensor(y, torch::kLong);
  set.domain = torch::tensor(d, torch::kLong);
  set.x = patterns.index_select(0, set.y) + 0.3 * set.domain.to(torch::kFloat).view({n, 1, 1, 1}) +
          0.8 * torch::randn({n, 3, 28, 28});
  set.au = (au_centres.index_select(0, set.y) + 0.5 * torch::randn({n, 12})).clamp(0, 5);
  set.au_ids = {1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17};
  return set;
}

struct Timing {
  double cpu, wall;
  int64_t generated;
};

Timing fit_once(const merx::PluginRegistry& reg, const merx::json& given, const merx::SampleSet& data,
                uint64_t seed) {
  const merx::PluginInfo* info = reg.find(merx::PluginKind::Augmenter, "au_gan");
  if (info == nullptr) {
    std::fprintf(stderr,
                 "bench_au_gan_fit: plugin au_gan not found next to the executable (build it first)\n");
    std::exit(2);
  }
  std::vector<merx::Problem> problems;
  const merx::json params = merx::check_params(info->params, given, "params", "au_gan", problems);
  if (!problems.empty()) {
    std::fprintf(stderr, "bench_au_gan_fit: %s\n", problems[0].format().c_str());
    std::exit(2);
  }
  auto aug = reg.create<merx::Augmenter>("au_gan", params);
  merx::AugmenterSetup setup;
  setup.source_domains = {"a", "b", "c"};
  setup.class_names = {"negative", "positive", "surprise"};
  setup.seed = seed;
  const double c0 = cpu_seconds();
  const auto w0 = std::chrono::steady_clock::now();
  aug->fit(setup, data);
  const merx::SampleSet more = aug->extend(data);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  return {cpu_seconds() - c0, wall, more.y.defined() ? more.y.numel() : 0};
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false, full = false;
  merx::json demo = {{"steps", 150}, {"n_critic", 2}, {"width", 16}, {"batch", 32}};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--check")) {
      check = true;
    } else if (!std::strcmp(argv[i], "--full")) {
      full = true;
    } else if (!std::strcmp(argv[i], "--set") && i + 1 < argc) {
      const std::string kv = argv[++i];
      const auto eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "bench_au_gan_fit: --set name=value\n");
        return 2;
      }
      demo[kv.substr(0, eq)] = merx::json::parse(kv.substr(eq + 1));
    } else {
      std::fprintf(stderr, "usage: bench_au_gan_fit [--check] [--full] [--set name=value ...]\n");
      return 2;
    }
  }
  torch::set_num_threads(1);
  merx::DiscoveryOptions o;
  o.environment = false;
  const merx::PluginRegistry reg = merx::PluginRegistry::discover(o);
  const merx::SampleSet data = make_data();
  const Timing t = fit_once(reg, demo, data, 1);
  std::printf(
      "au_gan fit, 300 clips [3, 28, 28], demo settings %s: %.2f s CPU (wall %.2f s), %lld generated; "
      "goal < 30 s\n",
      demo.dump().c_str(), t.cpu, t.wall, static_cast<long long>(t.generated));
  if (full) {
    const Timing f = fit_once(reg, merx::json::object(), data, 2);
    std::printf(
        "au_gan fit, methods.md defaults (2000 steps, n_critic 5, width 32, batch 64): %.2f s CPU (wall "
        "%.2f s)\n",
        f.cpu, f.wall);
  }
  return check && t.cpu >= 30.0 ? 1 : 0;
}
