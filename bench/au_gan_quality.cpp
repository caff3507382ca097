// au_gan's output quality on real demo clips: are the generated samples recognisable as their class, as
// varied as the real ones, and do they carry their AU condition? And does more generator training help?
//
// Data: the demo corpus (merx synth --preset shift --seed 1, as tools/demo makes it; --corpus DIR, default
// build/demo/shift) loaded and preprocessed exactly as experiments/demo_lodo.json says (flow_strain 28, megc3
// labels, AUs from the corpus's OpenFace-style CSVs), through the engine's RunInputs: the training clips of one
// LODO fold (--target, default smic_like: sources casme2_like + samm_like), seed value 0, the `au_gan` variant.
// Those clips are split per (source, class) by a fixed permutation (seed 7): every 4th goes to B (real
// held-out), the rest to A. au_gan is fitted on A only, with the variant's parameters and the steps below.
//
// Figures, per (source, class) and overall:
//   accuracy   of the bench's OWN real-data classifier — a small CNN (conv3x3 16, pool, conv3x3 32, pool,
//              linear; per-channel standardisation; class-balanced batches of 32, 400 Adam steps, lr 1e-3,
//              torch seed 11), trained on A only and independent of the plugin's gate classifier — on the
//              generated samples vs on B. Goal: generated / real >= 0.8.
//   diversity  mean pairwise L2 distance between the flattened [3, 28, 28] tensors (the plugin's own
//              definition: mean_pairwise in au_gan.cpp, first 256 rows) of the generated samples vs the A clips
//              of the same (source, class); overall = mean over (source, class) of the ratio. Goal >= 0.5.
//   AU error   RMSE between the AU condition of each candidate and the AU vector the plugin's ridge estimator
//              (pixels -> 12 AUs, fitted on real clips only; G never trains against it) reads off it, vs the
//              same estimator on real held-out clips (artifact quality.au_rmse_*).
//   acceptance share of the drawn candidates that pass the quality gate's threshold (artifact quality.gate).
//   fit time   thread CPU time of fit() + extend(), torch on 1 intra-op thread. Goal at the demo steps: <= 30 s.
// Configurations: generator gan at the demo spec's steps and at 500 / 2000 (--steps a,b,c replaces the list),
// then two controls (skipped with --no-controls): the demo steps with the gate switched off (gate_confidence 0,
// gate_min_* 0: what the generator makes before selection), and generator proto_noise. --set key=value
// (repeatable) overrides a plugin parameter in every configuration (e.g. --set mode_seeking=0 for the ablation).
//
//   bench_au_gan_quality [--corpus DIR] [--target NAME] [--steps a,b,c] [--set k=v]... [--no-controls]
//                        [--json FILE] [--check]
// --check exits 1 when the gan configuration at the demo spec's steps misses a goal (accuracy ratio, diversity
// ratio or fit time).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "merx/augmenter.h"
#include "merx/engine/inputs.h"
#include "merx/engine/sampler.h"
#include "merx/plugins/registry.h"
#include "merx/spec/plan.h"
#include "merx/spec/spec.h"

namespace fs = std::filesystem;
using merx::json;

namespace {

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Mean pairwise L2 distance between the rows of x (first 256 rows), as au_gan.cpp's mean_pairwise.
double mean_pairwise(const torch::Tensor& x) {
  const int64_t n = std::min<int64_t>(x.size(0), 256);
  if (n < 2) return NAN;
  const torch::Tensor f = x.narrow(0, 0, n).flatten(1).to(torch::kDouble);
  return torch::cdist(f, f).sum().item<double>() / static_cast<double>(n * (n - 1));
}

struct CnnImpl : torch::nn::Module {
  CnnImpl(int64_t c, int64_t h, int64_t w, int64_t k) {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, 16, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1)));
    fc = register_module("fc", torch::nn::Linear(32 * (h / 4) * (w / 4), k));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
    x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2);
    return fc->forward(x.flatten(1));
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Cnn);

struct Classifier {
  Cnn net{nullptr};
  torch::Tensor mean, sd;
  torch::Tensor predict(const torch::Tensor& x) {
    torch::NoGradGuard ng;
    net->eval();
    return net->forward((x - mean) / sd).argmax(1);
  }
};

Classifier train_cnn(const torch::Tensor& x, const torch::Tensor& y, int64_t k) {
  torch::manual_seed(11);
  Classifier c;
  c.mean = x.mean({0, 2, 3}, true);
  c.sd = x.std({0, 2, 3}, true, true).clamp_min(1e-6);
  c.net = Cnn(x.size(1), x.size(2), x.size(3), k);
  torch::optim::Adam opt(c.net->parameters(), torch::optim::AdamOptions(1e-3));
  const torch::Tensor xs = (x - c.mean) / c.sd;
  std::vector<std::vector<int64_t>> of_class(static_cast<size_t>(k));
  for (int64_t i = 0; i < y.numel(); ++i) of_class[static_cast<size_t>(y[i].item<int64_t>())].push_back(i);
  std::vector<int64_t> present;
  for (int64_t j = 0; j < k; ++j)
    if (!of_class[static_cast<size_t>(j)].empty()) present.push_back(j);
  std::mt19937_64 rng(11);
  c.net->train();
  for (int step = 0; step < 400; ++step) {
    std::vector<int64_t> b;
    for (int i = 0; i < 32; ++i) {
      const auto& r = of_class[static_cast<size_t>(present[rng() % present.size()])];
      b.push_back(r[rng() % r.size()]);
    }
    const torch::Tensor bi = torch::tensor(b, torch::kLong);
    const torch::Tensor loss =
        torch::nn::functional::cross_entropy(c.net->forward(xs.index_select(0, bi)), y.index_select(0, bi));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  return c;
}

torch::Tensor rows(const torch::Tensor& t, const std::vector<int64_t>& r) {
  return t.index_select(0, torch::tensor(r, torch::kLong));
}

double mean_of(const torch::Tensor& b) { return b.numel() ? b.to(torch::kDouble).mean().item<double>() : NAN; }

std::string fmt(double v, const char* f = "%.2f") {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path corpus = fs::path(MERX_BUILD_DIR) / "demo" / "shift";
  std::string target = "smic_like", json_out;
  std::vector<int64_t> steps;  // empty: the demo spec's steps, 500, 2000
  json overrides = json::object();
  bool check = false, controls = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc) {
      corpus = argv[++i];
    } else if (a == "--target" && i + 1 < argc) {
      target = argv[++i];
    } else if (a == "--json" && i + 1 < argc) {
      json_out = argv[++i];
    } else if (a == "--steps" && i + 1 < argc) {
      steps.clear();
      std::stringstream ss(argv[++i]);
      for (std::string t; std::getline(ss, t, ',');) steps.push_back(std::stoll(t));
    } else if (a == "--set" && i + 1 < argc) {
      const std::string kv = argv[++i];
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "bench_au_gan_quality: --set wants key=value, not '%s'\n", kv.c_str());
        return 2;
      }
      const std::string v = kv.substr(eq + 1);
      json value = json::parse(v, nullptr, /*allow_exceptions=*/false);
      overrides[kv.substr(0, eq)] = value.is_discarded() ? json(v) : value;  // a number, or else a string
    } else if (a == "--no-controls") {
      controls = false;
    } else if (a == "--check") {
      check = true;
    } else {
      std::fprintf(stderr, "usage: bench_au_gan_quality [--corpus DIR] [--target NAME] [--steps a,b,c] "
                           "[--set key=value]... [--no-controls] [--json FILE] [--check]\n");
      return 2;
    }
  }
  if (!fs::is_directory(corpus)) {
    std::fprintf(stderr, "bench_au_gan_quality: no corpus at %s (build/bin/merx synth --preset shift --seed 1 --out %s)\n",
                 corpus.c_str(), corpus.c_str());
    return 2;
  }
  torch::set_num_threads(1);

  // The demo spec, its au_gan variant, the fold whose target is `target`, seed value 0.
  const std::string corpus_abs = fs::absolute(corpus).string();
  const merx::EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "MERX_DEMO_DIR") return corpus_abs;
    if (name == "MERX_DEMO_DB") return (fs::temp_directory_path() / "bench_au_gan_quality.sqlite").string();
    return std::nullopt;
  };
  const merx::SpecSource spec =
      merx::load_spec(fs::path(MERX_SOURCE_DIR) / "experiments" / "demo_lodo.json", {}, env);
  merx::DiscoveryOptions o;
  o.environment = false;
  const merx::PluginRegistry reg = merx::PluginRegistry::discover(o);
  const merx::Plan plan = merx::make_plan(spec, reg);
  size_t point = plan.points.size();
  for (const auto& p : plan.points)
    if (p.variant == "au_gan") point = p.index;
  const merx::Cell* cell = nullptr;
  for (const auto& c : plan.cells)
    if (c.point == point && c.fold == target && (cell == nullptr || c.seed < cell->seed)) cell = &c;
  if (cell == nullptr) {
    std::fprintf(stderr, "bench_au_gan_quality: no au_gan cell with fold '%s' in demo_lodo.json\n", target.c_str());
    return 2;
  }
  merx::engine::InputOptions io;
  io.jobs = 2;
  const auto p0 = std::chrono::steady_clock::now();
  const merx::engine::RunInputs inputs = merx::engine::RunInputs::build(plan, {point}, io);
  const merx::engine::CellData cd = inputs.cell_data(plan, *cell);
  std::printf("inputs: %zu clips loaded and preprocessed in %.1f s (%zu computed, %zu cached)\n",
              inputs.stats().samples, std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count(),
              inputs.stats().computed, inputs.stats().cached);

  const torch::Tensor x = cd.train.x.to(torch::kFloat).contiguous();
  const torch::Tensor y = torch::tensor(cd.train.y, torch::kLong), dom = torch::tensor(cd.train.domain, torch::kLong);
  const int64_t n = x.size(0), K = static_cast<int64_t>(cd.classes.size()),
                D = static_cast<int64_t>(cd.source_domains.size());

  // A / B split per (source, class).
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937_64(7));
  std::map<std::pair<int64_t, int64_t>, int64_t> seen;
  std::vector<int64_t> A, B;
  for (int64_t i : perm) {
    const auto key = std::make_pair(dom[i].item<int64_t>(), y[i].item<int64_t>());
    (seen[key]++ % 4 == 3 ? B : A).push_back(i);
  }
  std::sort(A.begin(), A.end());
  std::sort(B.begin(), B.end());
  merx::SampleSet train;
  train.x = rows(x, A);
  train.y = rows(y, A);
  train.domain = rows(dom, A);
  train.au = rows(cd.train.au.to(torch::kFloat), A);
  train.au_ids = cd.train.au_ids;
  const torch::Tensor xb = rows(x, B), yb = rows(y, B), db = rows(dom, B);
  std::printf("fold %s (sources", target.c_str());
  for (const auto& s : cd.source_domains) std::printf(" %s", s.c_str());
  std::printf("): %lld training clips -> A %zu (classifier and au_gan), B %zu (real held-out)\n",
              static_cast<long long>(n), A.size(), B.size());

  const auto c0 = std::chrono::steady_clock::now();
  Classifier clf = train_cnn(train.x, train.y, K);
  const torch::Tensor pb = clf.predict(xb);
  std::printf("CNN trained on A in %.1f s; accuracy on A %.3f, on B %.3f\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count(),
              mean_of(clf.predict(train.x) == train.y), mean_of(pb == yb));

  struct Config {
    std::string name;
    json set;
  };
  std::vector<Config> configs;
  const json& demo_params = plan.points[point].augmenter.params;
  const int64_t demo_steps = demo_params.value("steps", int64_t{500});
  if (steps.empty()) steps = {demo_steps, 500, 2000};
  for (int64_t s : steps) configs.push_back({"gan " + std::to_string(s) + " steps", {{"steps", s}}});
  if (controls) {
    configs.push_back({"gan " + std::to_string(demo_steps) + " steps, no gate",
                       {{"steps", demo_steps}, {"gate_confidence", 0.0}, {"gate_min_acceptance", 0.0},
                        {"gate_min_diversity", 0.0}}});
    configs.push_back({"proto_noise", {{"generator", "proto_noise"}}});
  }
  std::printf("demo configuration: %s; overrides %s\n", demo_params.dump().c_str(), overrides.dump().c_str());

  const merx::PluginInfo* info = reg.find(merx::PluginKind::Augmenter, "au_gan");
  merx::AugmenterSetup setup;
  setup.source_domains = cd.source_domains;
  setup.class_names = cd.classes;
  setup.seed = merx::engine::derive_seed(cell->cell_seed, "augmenter:au_gan");
  setup.channels = {"u", "v", "strain"};

  json report = {{"fold", target}, {"clips_A", A.size()}, {"clips_B", B.size()},
                 {"cnn_accuracy_B", mean_of(pb == yb)}, {"configs", json::array()}};
  bool goals_demo = true, demo_seen = false;
  for (const Config& cfg : configs) {
    json params = plan.points[point].augmenter.params;
    for (auto it = overrides.begin(); it != overrides.end(); ++it) params[it.key()] = it.value();
    for (auto it = cfg.set.begin(); it != cfg.set.end(); ++it) params[it.key()] = it.value();
    auto aug = reg.create<merx::Augmenter>("au_gan", params);
    (void)info;
    const double t0 = cpu_seconds();
    const auto w0 = std::chrono::steady_clock::now();
    aug->fit(setup, train);
    const merx::SampleSet gen = aug->extend(train);
    const double cpu = cpu_seconds() - t0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    const json art = aug->artifacts();
    const json& q = art["quality"];
    const int64_t m = gen.y.defined() ? gen.y.numel() : 0;
    const torch::Tensor pg = m > 0 ? clf.predict(gen.x.to(torch::kFloat)) : torch::zeros({0}, torch::kLong);
    std::printf("\n== %s: fit + extend %.1f s CPU (wall %.1f s), %lld generated, params %s\n", cfg.name.c_str(), cpu,
                wall, static_cast<long long>(m), cfg.set.dump().c_str());
    std::printf("  %-12s %-10s %5s %5s %5s | %8s %8s %6s | %8s %8s %6s | %6s %7s\n", "source", "class", "A", "B",
                "gen", "acc_real", "acc_gen", "ratio", "div_real", "div_gen", "ratio", "accept", "au_rmse");
    json groups = json::array();
    double div_ratio_sum = 0;
    int div_ratio_n = 0;
    for (int64_t d = 0; d < D; ++d)
      for (int64_t c = 0; c < K; ++c) {
        std::vector<int64_t> ra, rb, rg;
        for (size_t i = 0; i < A.size(); ++i)
          if (train.y[static_cast<int64_t>(i)].item<int64_t>() == c && train.domain[static_cast<int64_t>(i)].item<int64_t>() == d)
            ra.push_back(static_cast<int64_t>(i));
        for (size_t i = 0; i < B.size(); ++i)
          if (yb[static_cast<int64_t>(i)].item<int64_t>() == c && db[static_cast<int64_t>(i)].item<int64_t>() == d)
            rb.push_back(static_cast<int64_t>(i));
        for (int64_t i = 0; i < m; ++i)
          if (gen.y[i].item<int64_t>() == c && gen.domain[i].item<int64_t>() == d) rg.push_back(i);
        if (ra.empty()) continue;
        const double acc_real = rb.empty() ? NAN : mean_of(rows(pb, rb) == c);
        const double acc_gen = rg.empty() ? NAN : mean_of(rows(pg, rg) == c);
        const double div_real = mean_pairwise(rows(train.x, ra));
        const double div_gen = rg.size() >= 2 ? mean_pairwise(rows(gen.x, rg)) : NAN;
        double accept = NAN, au_rmse = NAN;
        std::string gate_note;
        for (const auto& e : q["gate"])
          if (e["domain"] == cd.source_domains[static_cast<size_t>(d)] && e["class"] == cd.classes[static_cast<size_t>(c)]) {
            accept = e["acceptance"].get<double>();
            if (e.contains("au_rmse_generated")) au_rmse = e["au_rmse_generated"].get<double>();
            if (!e["passed"].get<bool>()) gate_note = "  gate failed: " + e["reason"].get<std::string>();
          }
        if (std::isfinite(div_gen) && std::isfinite(div_real) && div_real > 0) {
          div_ratio_sum += div_gen / div_real;
          ++div_ratio_n;
        }
        std::printf("  %-12s %-10s %5zu %5zu %5zu | %8s %8s %6s | %8s %8s %6s | %6s %7s%s\n",
                    cd.source_domains[static_cast<size_t>(d)].c_str(), cd.classes[static_cast<size_t>(c)].c_str(),
                    ra.size(), rb.size(), rg.size(), fmt(acc_real).c_str(), fmt(acc_gen).c_str(),
                    fmt(acc_gen / acc_real).c_str(), fmt(div_real, "%.1f").c_str(), fmt(div_gen, "%.1f").c_str(),
                    fmt(div_gen / div_real).c_str(), fmt(accept).c_str(), fmt(au_rmse).c_str(), gate_note.c_str());
        groups.push_back({{"source", cd.source_domains[static_cast<size_t>(d)]}, {"class", cd.classes[static_cast<size_t>(c)]},
                          {"A", ra.size()}, {"B", rb.size()}, {"generated", rg.size()}, {"acc_real", acc_real},
                          {"acc_generated", acc_gen}, {"div_real", div_real}, {"div_generated", div_gen},
                          {"acceptance", accept}, {"au_rmse_generated", au_rmse}});
      }
    const double acc_real = mean_of(pb == yb), acc_gen = m > 0 ? mean_of(pg == gen.y) : NAN;
    const double div_ratio = div_ratio_n > 0 ? div_ratio_sum / div_ratio_n : NAN;
    double drawn = 0, accepted = 0;
    for (const auto& e : q["gate"]) {
      drawn += e["drawn"].get<double>();
      accepted += e.contains("passed_threshold") ? e["passed_threshold"].get<double>() : e["accepted"].get<double>();
    }
    const double au_gen = q.value("au_rmse_generated", NAN), au_real = q.value("au_rmse_real_heldout", NAN);
    std::printf("  overall: accuracy real B %.3f, generated %s (ratio %s, goal >= 0.8); diversity ratio (mean over "
                "groups) %s (goal >= 0.5); gate acceptance %s; AU RMSE generated %s vs real held-out %s; "
                "strain scale %s (relative error %s)\n",
                acc_real, fmt(acc_gen, "%.3f").c_str(), fmt(acc_gen / acc_real).c_str(), fmt(div_ratio).c_str(),
                fmt(drawn > 0 ? accepted / drawn : NAN).c_str(), fmt(au_gen).c_str(), fmt(au_real).c_str(),
                fmt(art["fit"].value("strain_scale", NAN), "%.3f").c_str(),
                fmt(art["fit"].value("strain_relative_error", NAN), "%.3f").c_str());
    if (cfg.name == "gan " + std::to_string(demo_steps) + " steps") {
      demo_seen = true;
      goals_demo = acc_gen / acc_real >= 0.8 && div_ratio >= 0.5 && cpu <= 30.0;
      std::printf("  demo configuration goals (accuracy ratio >= 0.8, diversity ratio >= 0.5, fit <= 30 s CPU): %s\n",
                  goals_demo ? "met" : "NOT met");
    }
    report["configs"].push_back({{"name", cfg.name}, {"set", cfg.set}, {"cpu_seconds", cpu}, {"wall_seconds", wall},
                                 {"generated", m}, {"accuracy_real", acc_real}, {"accuracy_generated", acc_gen},
                                 {"diversity_ratio", div_ratio}, {"acceptance", drawn > 0 ? accepted / drawn : NAN},
                                 {"au_rmse_generated", au_gen}, {"au_rmse_real_heldout", au_real},
                                 {"groups", groups}, {"warnings", aug->warnings()}});
    std::fflush(stdout);
  }
  if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
  if (check && !demo_seen) {
    std::fprintf(stderr, "bench_au_gan_quality: --check needs the demo steps (%lld) among --steps\n",
                 static_cast<long long>(demo_steps));
    return 1;
  }
  return check && !goals_demo ? 1 : 0;
}
