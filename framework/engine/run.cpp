#include "merx/engine/run.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <oneapi/tbb/global_control.h>
#include <spdlog/spdlog.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <opencv2/core/utility.hpp>

#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "merx/buildinfo.h"
#include "merx/engine/cell.h"
#include "merx/engine/inputs.h"
#include "merx/engine/saved_model.h"
#include "merx/preprocessing/recipe.h"
#include "merx/errors.h"
#include "merx/hash.h"
#include "merx/metrics/metrics.h"

namespace merx::engine {
namespace {

std::string hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string joined(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// auto -> CUDA when LibTorch reports a device, else CPU; cuda without a device is the user's error.
torch::Device resolve_device(const SweepPoint& pt) {
  const std::string& want = pt.training.device;
  const bool cuda = torch::cuda::is_available();
  if (want == "cuda" && !cuda)
    throw UserError("training.device is `cuda` (" + pt.label() +
                    ") but LibTorch reports no CUDA device on this machine; use `auto` or `cpu`");
  if (want == "cuda" || (want == "auto" && cuda)) return torch::Device(torch::kCUDA, 0);
  return torch::Device(torch::kCPU);
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}

std::optional<double> whole_set(const std::vector<MetricRow>& rows, const std::string& name) {
  for (const auto& m : rows)
    if (m.name == name && !m.class_name && m.scope == MetricScope::Fold) return m.value;
  return std::nullopt;
}

// The database's run lock: every `merx run` on it holds a shared flock(2) on `<db>-run.lock` while it runs.
// Whoever gets it exclusively first knows no other run is alive, so `running` cells are orphans of a killed
// run. The file stays (removing it would race with a process that has it open).
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& db) {
    const std::string path = db.string() + "-run.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return;  // read-only folder etc.: no orphan detection, the run itself still works
    alone_ = ::flock(fd_, LOCK_EX | LOCK_NB) == 0;
  }
  /// True when no other `merx run` holds the database (checked at construction, lock still exclusive).
  bool alone() const { return alone_; }
  /// From now on other runs may join (shared lock).
  void share() {
    if (fd_ >= 0) ::flock(fd_, LOCK_SH);
  }
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
  bool alone_ = false;
};

struct Slot {
  std::string label;     // "cpu:0", "cuda:1", "sim-gpu:2", "cuda:1#0"
  torch::Device device;  // where its cells' tensors live (CPU for cpu and simulated slots)
};

}  // namespace

Shard Shard::parse(const std::string& text) {
  const auto slash = text.find('/');
  Shard s;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    size_t used = 0;
    const std::string a = text.substr(0, slash), b = text.substr(slash + 1);
    const long long i = std::stoll(a, &used);
    if (used != a.size()) throw std::invalid_argument("index");
    const long long n = std::stoll(b, &used);
    if (used != b.size()) throw std::invalid_argument("count");
    if (n < 1 || i < 0 || i >= n) throw std::invalid_argument("range");
    s.index = static_cast<size_t>(i);
    s.count = static_cast<size_t>(n);
  } catch (const std::exception&) {
    throw UserError("--shard: '" + text + "' is not i/N with 0 <= i < N (e.g. 0/4 for the first of four)");
  }
  return s;
}

std::string Shard::text() const {
  return std::to_string(index) + "/" + std::to_string(count);
}

std::vector<size_t> shard_cells(const Plan& plan, const Shard& shard) {
  std::vector<size_t> out;
  const size_t n = std::max<size_t>(shard.count, 1);
  for (size_t i = shard.index % n; i < plan.cells.size(); i += n) out.push_back(i);
  return out;
}

RunSummary run_plan(const Plan& plan, const PluginRegistry& registry, const RunOptions& opt) {
  using Clock = std::chrono::steady_clock;
  RunSummary sum;
  sum.output = opt.output.empty() ? plan.output : opt.output;
  if (opt.shard.count < 1 || opt.shard.index >= opt.shard.count)
    throw UserError("--shard " + opt.shard.text() + ": the index must lie in [0, N)");
  std::vector<const Cell*> mine;  // this run's cells (a shard's, or all) in plan order
  for (size_t i : shard_cells(plan, opt.shard)) mine.push_back(&plan.cells[i]);
  sum.cells = mine.size();
  Store store = Store::open(sum.output.string());
  RunLock run_lock(sum.output);
  sum.experiment_id = store.upsert_experiment({plan.name, plan.spec, plan.spec_hash});

  std::set<std::string> my_groups;
  for (const Cell* c : mine) my_groups.insert(c->group);
  // Groups whose every fold is in this run's database: only they get pooled metrics here.
  std::set<std::string> whole_groups = my_groups;
  if (opt.shard.active())
    for (const Cell& c : plan.cells)
      if (!std::binary_search(mine.begin(), mine.end(), &c)) whole_groups.erase(c.group);

  // The protocol's domains: a counterfactual twin changes no leaderboard block, it only adds fold metrics.
  const std::vector<std::string> dataset_names = plan.domains();
  std::map<std::string, int64_t> group_ids;
  for (const Group& g : plan.groups) {
    if (!my_groups.count(g.identity)) continue;
    const SweepPoint& pt = plan.points.at(g.point);
    GroupKey gk;
    gk.experiment_id = sum.experiment_id;
    gk.identity = g.identity;
    gk.point_index = static_cast<int64_t>(g.point);
    gk.variant = pt.variant;
    gk.point_hash = pt.hash;
    gk.assignments = pt.assignments;
    for (const auto& [k, v] : pt.draws.items()) gk.assignments[k] = v;
    gk.seed = g.seed;
    gk.protocol = plan.protocol.name;
    gk.datasets = dataset_names;
    gk.data_version = plan.data_version;
    group_ids[g.identity] = store.upsert_group(gk);
  }
  std::vector<CellKey> keys;
  std::vector<std::string> identities;
  for (const Cell* c : mine) {
    const Fold* f = plan.find_fold(c->fold);
    keys.push_back({c->identity, group_ids.at(c->group), c->fold, f ? joined(f->test, "+") : "", c->cell_seed});
    identities.push_back(c->identity);
  }
  store.enqueue_cells(keys);
  if (run_lock.alone()) sum.reclaimed = store.requeue_cells(identities, {CellStatus::Running});
  run_lock.share();
  if (opt.force)
    store.requeue_cells(identities, {CellStatus::Done, CellStatus::Failed, CellStatus::Interrupted});
  else if (opt.rerun_failed)
    store.requeue_cells(identities, {CellStatus::Failed});
  if (sum.reclaimed && opt.on_note)
    opt.on_note(std::to_string(sum.reclaimed) + " cell" + (sum.reclaimed == 1 ? "" : "s") +
                " left `running` by a run that was killed: queued again");

  // What is left: queued and interrupted cells (by identity: a cell may have been enqueued by an earlier
  // experiment with the same cells).
  std::vector<const Cell*> pending;
  std::set<size_t> points;
  for (const Cell* c : mine) {
    const auto st = store.cell_status(c->identity);
    if (!st) throw StoreError("cell " + c->identity + " vanished from " + sum.output.string());
    if (*st == CellStatus::Done) {
      ++sum.already_done;
    } else if (*st == CellStatus::Running) {
      ++sum.busy;
    } else if (*st == CellStatus::Queued || *st == CellStatus::Interrupted) {
      pending.push_back(c);
      points.insert(c->point);
    } else {
      ++sum.failed_before;  // failed and not asked to rerun
    }
  }
  if (pending.empty()) return sum;

  std::map<size_t, torch::Device> devices;
  bool any_cuda = false;
  int64_t spec_threads = 1, spec_slots_per_gpu = 1;
  for (size_t p : points) {
    const SweepPoint& pt = plan.points.at(p);
    const torch::Device d = resolve_device(pt);
    any_cuda = any_cuda || d.is_cuda();
    devices.emplace(p, d);
    spec_threads = std::max(spec_threads, pt.training.threads_per_cell);
    spec_slots_per_gpu = std::max(spec_slots_per_gpu, pt.training.slots_per_gpu);
  }

  // The slots.
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int per_gpu = opt.slots_per_gpu > 0 ? opt.slots_per_gpu : static_cast<int>(spec_slots_per_gpu);
  std::vector<Slot> slots;
  if (opt.simulate_gpus > 0) {
    if (any_cuda)
      throw UserError("--simulate-gpus runs cells on the CPU; set training.device to `cpu` (this machine has CUDA)");
    for (int g = 0; g < opt.simulate_gpus; ++g)
      for (int k = 0; k < per_gpu; ++k)
        slots.push_back({"sim-gpu:" + std::to_string(g) + (per_gpu > 1 ? "#" + std::to_string(k) : ""),
                         torch::Device(torch::kCPU)});
    sum.slot_kind = "simulated gpu";
  } else if (any_cuda) {
    const int n = static_cast<int>(torch::cuda::device_count());
    for (int g = 0; g < n; ++g)
      for (int k = 0; k < per_gpu; ++k)
        slots.push_back({"cuda:" + std::to_string(g) + (per_gpu > 1 ? "#" + std::to_string(k) : ""),
                         torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(g))});
    sum.slot_kind = "cuda";
  }
  int threads = opt.threads_per_cell;
  if (slots.empty()) {
    int jobs = opt.jobs;
    if (jobs <= 0) jobs = std::max(1, cores / std::max(1, threads > 0 ? threads : 1));
    for (int k = 0; k < jobs; ++k) slots.push_back({"cpu:" + std::to_string(k), torch::Device(torch::kCPU)});
    sum.slot_kind = "cpu";
  }
  if (slots.size() > pending.size()) slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(pending.size()), slots.end());
  if (threads <= 0) threads = slots.size() > 1 ? 1 : static_cast<int>(spec_threads);
  sum.slots = slots.size();
  sum.threads_per_cell = threads;
  if (opt.on_note && sum.slot_kind != "cuda" && static_cast<int>(slots.size()) * threads > cores)
    opt.on_note("warning: " + std::to_string(slots.size()) + " slots x " + std::to_string(threads) +
                " threads per cell exceed the " + std::to_string(cores) + " cores; cells will compete for them");

  InputOptions io;
  io.cache_dir = opt.cache_dir;
  io.jobs = opt.prep_jobs;
  const RunInputs inputs = RunInputs::build(plan, std::vector<size_t>(points.begin(), points.end()), io);
  if (opt.on_note) {
    const InputStats& s = inputs.stats();
    opt.on_note("inputs: " + std::to_string(s.samples) + " clips x " + std::to_string(s.recipes) + " recipe" +
                (s.recipes == 1 ? "" : "s") + " (" + std::to_string(s.cached) + " cached, " +
                std::to_string(s.computed) + " computed, " + std::to_string(s.failed) + " failed) in " +
                seconds_text(s.seconds));
    opt.on_note("cells: " + std::to_string(pending.size()) + " on " + std::to_string(slots.size()) + " " +
                sum.slot_kind + " slot" + (slots.size() == 1 ? "" : "s") + ", " + std::to_string(threads) +
                " torch thread" + (threads == 1 ? "" : "s") + " per cell" +
                (opt.shard.active() ? ", shard " + opt.shard.text() : ""));
  }

  const std::string host = hostname();
  std::map<std::filesystem::path, std::string> sha_cache;
  auto provenance = [&](PluginKind kind, const PluginRef& ref) {
    PluginProvenance p;
    p.name = ref.name;
    p.version = ref.version;
    std::filesystem::path file = ref.file;
    if (const PluginInfo* info = registry.find(kind, ref.name)) file = info->file;
    if (!file.empty()) {
      auto it = sha_cache.find(file);
      if (it == sha_cache.end()) it = sha_cache.emplace(file, sha256_file(file)).first;
      p.sha256 = it->second;
    }
    return p;
  };
  // Plugin hashes up front (single-threaded), so the slots only read sha_cache.
  for (size_t p : points) {
    const SweepPoint& pt = plan.points.at(p);
    provenance(PluginKind::Backbone, pt.backbone);
    provenance(PluginKind::Regularizer, pt.regularizer);
    provenance(PluginKind::Augmenter, pt.augmenter);
  }

  // What a saved model needs to be rebuilt and fed as in training (merx/engine/saved_model.h).
  const bool save_models = plan.save_models && opt.save_models;
  auto manifest = [&](const Cell& cell, const SweepPoint& pt, const CellData& data, CellOutcome& o) {
    ModelManifest m;
    m.cell_identity = cell.identity;
    m.classes = data.classes;
    m.backbone = pt.backbone.name;
    m.backbone_version = pt.backbone.version;
    m.backbone_params = pt.backbone.params;
    m.input = o.model.backbone->input_shape();
    m.feature_dim = o.model.backbone->feature_dim();
    m.recipe = pt.recipe.name;
    m.recipe_params = pt.recipe.params;
    m.recipe_config = prep::RecipeConfig::from_params(pt.recipe.name, pt.recipe.params).to_json();
    m.labels = pt.labels.name;
    m.label_map = pt.labels.map;
    m.chosen_epoch = o.result.chosen_epoch;
    m.libtorch_version = TORCH_VERSION;
    m.merx_version = version_string();
    return m;
  };

  std::mutex store_mutex;  // the Store (one connection), the summary and the callbacks
  std::atomic<size_t> next{0};
  size_t index = 0;

  // One slot: takes the next pending cell until none is left or the stop flag is set.
  auto slot_loop = [&](const Slot& slot) {
    torch::set_num_threads(threads);  // this thread's OpenMP team size (set once per slot thread)
    for (;;) {
      if (opt.stop && opt.stop->load()) break;
      const size_t k = next.fetch_add(1);
      if (k >= pending.size()) break;
      const Cell* cell = pending[k];
      const SweepPoint& pt = plan.points.at(cell->point);
      const torch::Device device = devices.at(cell->point).is_cuda() ? slot.device : devices.at(cell->point);
      size_t my_index = 0;
      {
        std::lock_guard<std::mutex> lock(store_mutex);
        if (!store.claim_cell(cell->identity, Claim{host, device.str(), threads})) {
          ++sum.busy;  // another process took it meanwhile
          continue;
        }
        my_index = ++index;
        ++sum.ran;
        if (opt.on_progress) opt.on_progress({cell, slot.label, -1, 0});
      }
      const auto t0 = Clock::now();
      CellOutcome outcome;
      try {
        const auto p0 = Clock::now();
        const CellData data = inputs.cell_data(plan, *cell);
        const double prep = std::chrono::duration<double>(Clock::now() - p0).count();
        CellConfig cfg;
        cfg.training = pt.training;
        cfg.cell_seed = cell->cell_seed;
        cfg.backbone = {pt.backbone.name, pt.backbone.params};
        cfg.regularizer = {pt.regularizer.name, pt.regularizer.params};
        cfg.augmenter = {pt.augmenter.name, pt.augmenter.params};
        cfg.recipe = pt.recipe.name;
        cfg.label = "cell " + cell->identity.substr(0, 12) + " (fold " + cell->fold + ", seed " +
                    std::to_string(cell->seed) + (pt.variant.empty() ? "" : ", variant `" + pt.variant + "`") +
                    ")";
        cfg.device = device;
        cfg.stop = opt.stop;
        if (opt.on_progress)
          cfg.on_epoch = [&](int64_t e, int64_t n) {
            std::lock_guard<std::mutex> lock(store_mutex);
            opt.on_progress({cell, slot.label, e, n});
          };
        outcome = run_cell(cfg, registry, data);
        outcome.result.prep_seconds = prep;
        if (save_models && outcome.result.status == CellStatus::Done && outcome.model.backbone) {
          try {
            const SavedModelRef ref =
                write_model_file(store.path(), model_bytes(outcome.model, manifest(*cell, pt, data, outcome)));
            outcome.result.model_sha256 = ref.sha256;
            outcome.result.model_bytes = ref.bytes;
          } catch (const std::exception& e) {  // the results stay valid without the file
            spdlog::warn("{}: model not saved: {}", cfg.label, e.what());
          }
        }
      } catch (const std::exception& e) {  // a cell whose data cannot be assembled fails alone
        outcome.result.status = CellStatus::Failed;
        outcome.result.error = e.what();
        outcome.result.selection = pt.training.selection;
      } catch (...) {
        outcome.result.status = CellStatus::Failed;
        outcome.result.error = "unknown exception";
        outcome.result.selection = pt.training.selection;
      }
      CellResult& r = outcome.result;
      r.identity = cell->identity;
      r.host = host;
      r.device = device.str();
      r.threads = threads;
      r.git_commit = git_commit();
      r.merx_version = version_string();
      r.libtorch_version = TORCH_VERSION;
      r.backbone = provenance(PluginKind::Backbone, pt.backbone);
      r.regularizer = provenance(PluginKind::Regularizer, pt.regularizer);
      r.augmenter = provenance(PluginKind::Augmenter, pt.augmenter);
      r.artifacts.push_back({"engine.slot", {{"slot", slot.label}, {"device", device.str()}, {"threads", threads}}});
      outcome.model = {};  // release the network before the next cell

      std::lock_guard<std::mutex> lock(store_mutex);
      store.write_finished_cell(r);
      if (whole_groups.count(cell->group))
        if (const auto rec = store.find_cell(cell->identity)) metrics::update_group_metrics(store, rec->key.group_id);
      switch (r.status) {
        case CellStatus::Done:
          ++sum.done;
          break;
        case CellStatus::Interrupted:
          ++sum.interrupted;
          sum.stopped = true;
          break;
        default:
          ++sum.failed;
          break;
      }
      if (opt.on_cell) {
        CellReport rep;
        rep.index = my_index;
        rep.total = pending.size();
        rep.cell = cell;
        rep.status = r.status;
        rep.error = r.error;
        rep.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        rep.uf1 = whole_set(r.metrics, "uf1");
        rep.uar = whole_set(r.metrics, "uar");
        rep.chosen_epoch = r.chosen_epoch;
        rep.device = r.device;
        rep.slot = slot.label;
        rep.threads = threads;
        opt.on_cell(rep);
      }
    }
  };

  // Threads: set once before cells start; OpenCV's pool limited to the same count while cells run.
  const int cv_threads = cv::getNumThreads();
  torch::set_num_threads(threads);
  cv::setNumThreads(threads);
  {
    // TBB's default pool is one thread per core; simulated or per-GPU slots may need more.
    tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                    std::max<size_t>(slots.size(), static_cast<size_t>(cores)));
    tbb::task_arena arena(static_cast<int>(slots.size()));
    arena.execute([&] {
      tbb::task_group tg;
      for (const Slot& slot : slots)
        tg.run([&slot, &slot_loop] { tbb::this_task_arena::isolate([&] { slot_loop(slot); }); });
      tg.wait();
    });
  }
  cv::setNumThreads(cv_threads);
  if (opt.stop && opt.stop->load() && next.load() < pending.size()) sum.stopped = true;  // cells not started
  return sum;
}

}  // namespace merx::engine
