// bench_train_steps [--steps N] [--repeats R] [--threads 1,2] [--no-python] [--check]
// Figures for issue 6 "Performance": STSTNet training steps per second (batch 32 of [3, 28, 28], Adam) with 1
// and 2 threads, measured
//   engine  inside merx: engine::run_cell on an in-memory cell (640 training clips of one source, sampler
//           `shuffle`, batch 32, selection `last`, epochs = N / 20); steps / Trainer time (batching, the
//           regularizer call `none`, loss read-back, curves) — and, for the overhead, the whole cell: plugin
//           creation, training, evaluation, metrics and Store::write_finished_cell into a temporary database;
//   bare    the same plugin module + head + Adam on one fixed batch: forward, cross-entropy, zero_grad,
//           backward, step and nothing else (the reference of the overhead);
//   python  bench/train_steps.py: the same model and loop in PyTorch (Debian's python3-torch over the same
//           LibTorch), run by this program as /usr/bin/python3 with the same thread count.
// Each figure is the best of R repeats (default 3) of N steps (default 300), after a warm-up; the three run
// interleaved so that load from other jobs hits them alike. Prints steps/s, merx / PyTorch, the engine
// overhead over the bare step, the load average and the process CPU time over wall time. Exit 0; with
// --check, 1 when merx is below PyTorch (< 1.0x) or the overhead is above 10 %; 2 on a setup error.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include "merx/backbone.h"
#include "merx/engine/cell.h"
#include "merx/plugins/registry.h"
#include "merx/store/store.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kClips = 640, kBatch = 32;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
double cpu_seconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

merx::engine::CellData make_cell() {
  torch::manual_seed(1);
  merx::engine::CellData d;
  d.classes = {"negative", "positive", "surprise"};
  d.source_domains = {"alpha"};
  d.train.x = torch::randn({kClips, 3, 28, 28});
  const torch::Tensor y = torch::randint(0, 3, {kClips}, torch::kLong);
  for (int64_t i = 0; i < kClips; ++i) {
    d.train.y.push_back(y[i].item<int64_t>());
    d.train.domain.push_back(0);
    d.train.keys.push_back("alpha/s" + std::to_string(i % 16) + "/c" + std::to_string(i));
    d.train.subjects.push_back("alpha/s" + std::to_string(i % 16));
  }
  d.test = merx::engine::TestSplit(torch::randn({96, 3, 28, 28}), std::vector<int64_t>(96, 1), [] {
    std::vector<std::string> k;
    for (int i = 0; i < 96; ++i) k.push_back("target/s/c" + std::to_string(i));
    return k;
  }());
  return d;
}

merx::engine::CellConfig make_config(int64_t steps) {
  merx::engine::CellConfig c;
  c.training.optimizer = "adam";
  c.training.lr = 1e-3;
  c.training.batch = kBatch;
  c.training.sampler = "shuffle";
  c.training.selection = "last";
  c.training.epochs = steps / (kClips / kBatch);
  c.cell_seed = 42;
  c.backbone = {"ststnet", {{"channels", 3}, {"size", 28}, {"dropout", 0.5}}};
  c.regularizer = {"none", nlohmann::json::object()};
  c.augmenter = {"none", nlohmann::json::object()};
  return c;
}

struct EngineFigure {
  double loop = 0;  // steps / training-loop seconds
  double cell = 0;  // steps / (whole run_cell + store write) seconds
};

EngineFigure engine_run(const merx::PluginRegistry& reg, const merx::engine::CellData& data, int64_t steps,
                        merx::Store& store, const std::string& identity) {
  const auto cfg = make_config(steps);
  const auto t0 = Clock::now();
  merx::engine::CellOutcome o = merx::engine::run_cell(cfg, reg, data);
  if (o.result.status != merx::CellStatus::Done)
    throw std::runtime_error("engine cell failed: " + o.result.error);
  o.result.identity = identity;
  o.model = {};
  store.write_finished_cell(o.result);
  const double whole = seconds_since(t0);
  const int64_t n = cfg.training.epochs * (kClips / kBatch);
  return {static_cast<double>(n) / *o.result.train_seconds, static_cast<double>(n) / whole};
}

double bare_run(const merx::PluginRegistry& reg, const merx::engine::CellData& data, int64_t steps) {
  torch::manual_seed(3);
  auto backbone = reg.create<merx::Backbone>("ststnet", {{"channels", 3}, {"size", 28}, {"dropout", 0.5}});
  torch::nn::Linear head(backbone->feature_dim(), 3);
  std::vector<torch::Tensor> params = backbone->parameters();
  for (const auto& p : head->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-3));
  backbone->train();
  const torch::Tensor xb = data.train.x.narrow(0, 0, kBatch).clone();
  const torch::Tensor yb =
      torch::tensor(std::vector<int64_t>(data.train.y.begin(), data.train.y.begin() + kBatch));
  auto step = [&] {
    const torch::Tensor loss = torch::nn::functional::cross_entropy(head->forward(backbone->forward(xb)), yb);
    opt.zero_grad();
    loss.backward();
    opt.step();
  };
  for (int i = 0; i < 30; ++i) step();
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < steps; ++i) step();
  return static_cast<double>(steps) / seconds_since(t0);
}

double python_run(int threads, int64_t steps) {
  const std::string cmd = "/usr/bin/python3 '" + std::string(MERX_SOURCE_DIR) +
                          "/bench/train_steps.py' --threads " + std::to_string(threads) + " --steps " +
                          std::to_string(steps) + " --repeats 1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof(buf), p)) out += buf;
  const int rc = ::pclose(p);
  const auto at = out.find("steps_per_second ");
  if (rc != 0 || at == std::string::npos) throw std::runtime_error("`" + cmd + "` failed: " + out);
  return std::stod(out.substr(at + 17));
}

std::string load_average() {
  double l[3] = {0, 0, 0};
  if (::getloadavg(l, 3) != 3) return "?";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 300;
  int repeats = 3;
  bool check = false, python = true;
  std::vector<int> thread_counts = {1, 2};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc)
      steps = std::max<int64_t>(20, std::atoll(argv[++i]) / 20 * 20);
    else if (a == "--repeats" && i + 1 < argc)
      repeats = std::max(1, std::atoi(argv[++i]));
    else if (a == "--threads" && i + 1 < argc) {
      thread_counts.clear();
      std::stringstream s(argv[++i]);
      for (std::string t; std::getline(s, t, ',');)
        thread_counts.push_back(std::max(1, std::atoi(t.c_str())));
    } else if (a == "--check")
      check = true;
    else if (a == "--no-python")
      python = false;
    else {
      std::cerr
          << "usage: bench_train_steps [--steps N] [--repeats R] [--threads 1,2] [--no-python] [--check]\n";
      return 2;
    }
  }
  try {
    merx::DiscoveryOptions o;
    o.environment = false;
    const merx::PluginRegistry reg = merx::PluginRegistry::discover(o);
    const merx::engine::CellData data = make_cell();
    const fs::path dir = fs::temp_directory_path() / ("merx_bench_train_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    merx::Store store = merx::Store::open((dir / "bench.sqlite").string());
    const int64_t exp = store.upsert_experiment({"bench", nlohmann::json::object(), std::string(64, '0')});
    merx::GroupKey g;
    g.experiment_id = exp;
    g.identity = std::string(64, '1');
    g.protocol = "lodo";
    const int64_t group = store.upsert_group(g);
    int cell_no = 0;
    auto next_identity = [&] {
      char buf[65];
      std::snprintf(buf, sizeof(buf), "%064d", ++cell_no);
      store.enqueue_cells({{buf, group, "target", "target", 1}});
      return std::string(buf);
    };

    std::printf(
        "bench_train_steps: STSTNet, batch %lld of [3, 28, 28], Adam; %lld steps, best of %d; load %s\n",
        static_cast<long long>(kBatch), static_cast<long long>(steps), repeats, load_average().c_str());
    std::printf("%-8s %12s %12s %12s %12s %10s %10s %10s\n", "threads", "engine", "engine+cell", "bare",
                "pytorch", "ratio", "overhead", "cpu/wall");
    bool ok = true;
    for (int t : thread_counts) {
      torch::set_num_threads(t);
      engine_run(reg, data, 40, store, next_identity());  // warm-up
      EngineFigure best_engine;
      double best_bare = 0, best_py = 0;
      double cpu = 0, wall = 0;  // of the in-process runs only
      for (int r = 0; r < repeats; ++r) {
        const double cpu0 = cpu_seconds();
        const auto w0 = Clock::now();
        const EngineFigure e = engine_run(reg, data, steps, store, next_identity());
        best_engine.loop = std::max(best_engine.loop, e.loop);
        best_engine.cell = std::max(best_engine.cell, e.cell);
        best_bare = std::max(best_bare, bare_run(reg, data, steps));
        cpu += cpu_seconds() - cpu0;
        wall += seconds_since(w0);
        if (python) best_py = std::max(best_py, python_run(t, steps));
      }
      const double cpu_wall = cpu / wall;
      const double ratio = python ? best_engine.loop / best_py : 0;
      const double overhead = 1.0 - best_engine.cell / best_bare;  // share of the engine's step time
      std::printf("%-8d %12.1f %12.1f %12.1f %12.1f %9.2fx %9.1f%% %10.2f\n", t, best_engine.loop,
                  best_engine.cell, best_bare, best_py, ratio, 100 * overhead, cpu_wall);
      ok = ok && (!python || ratio >= 1.0) && overhead <= 0.10;
    }
    std::printf(
        "engine: steps / training-loop time; engine+cell: steps / (plugins, training, evaluation, metrics,\n"
        "store write); ratio = engine / pytorch; overhead = 1 - (engine+cell) / bare. cpu/wall: cores the\n"
        "engine and bare runs got (process CPU time / wall time; about the thread count on an idle "
        "machine).\n");
    std::error_code ec;
    fs::remove_all(dir, ec);
    return check && !ok ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_train_steps: " << e.what() << "\n";
    return 2;
  }
}
