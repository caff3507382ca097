#include "merx/engine/run.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "merx/buildinfo.h"
#include "merx/engine/cell.h"
#include "merx/engine/inputs.h"
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

}  // namespace

RunSummary run_plan(const Plan& plan, const PluginRegistry& registry, const RunOptions& opt) {
  RunSummary sum;
  sum.output = opt.output.empty() ? plan.output : opt.output;
  sum.cells = plan.cells.size();
  Store store = Store::open(sum.output.string());
  sum.experiment_id = store.upsert_experiment({plan.name, plan.spec, plan.spec_hash});

  std::vector<std::string> dataset_names;
  for (const auto& d : plan.datasets) dataset_names.push_back(d.name);
  std::map<std::string, int64_t> group_ids;
  for (const Group& g : plan.groups) {
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
    group_ids[g.identity] = store.upsert_group(gk);
  }
  std::vector<CellKey> keys;
  std::vector<std::string> identities;
  for (const Cell& c : plan.cells) {
    const Fold* f = plan.find_fold(c.fold);
    keys.push_back({c.identity, group_ids.at(c.group), c.fold, f ? joined(f->test, "+") : "", c.cell_seed});
    identities.push_back(c.identity);
  }
  store.enqueue_cells(keys);
  if (opt.force)
    store.requeue_cells(identities, {CellStatus::Done, CellStatus::Failed, CellStatus::Interrupted});
  else if (opt.rerun_failed)
    store.requeue_cells(identities, {CellStatus::Failed});

  // What is left: queued and interrupted cells (by identity: a cell may have been enqueued by an earlier
  // experiment with the same cells).
  std::vector<const Cell*> pending;
  std::set<size_t> points;
  for (const Cell& c : plan.cells) {
    const auto st = store.cell_status(c.identity);
    if (!st) throw StoreError("cell " + c.identity + " vanished from " + sum.output.string());
    if (*st == CellStatus::Done) {
      ++sum.already_done;
    } else if (*st == CellStatus::Running) {
      ++sum.busy;
    } else if (*st == CellStatus::Queued || *st == CellStatus::Interrupted) {
      pending.push_back(&c);
      points.insert(c.point);
    } else {
      ++sum.failed_before;  // failed and not asked to rerun
    }
  }
  if (pending.empty()) return sum;

  std::map<size_t, torch::Device> devices;
  for (size_t p : points) devices.emplace(p, resolve_device(plan.points.at(p)));

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

  size_t index = 0;
  for (const Cell* cell : pending) {
    if (opt.stop && opt.stop->load()) {
      sum.stopped = true;
      break;
    }
    const SweepPoint& pt = plan.points.at(cell->point);
    const torch::Device device = devices.at(cell->point);
    const int threads = static_cast<int>(pt.training.threads_per_cell);
    if (!store.claim_cell(cell->identity, Claim{host, device.str(), threads})) {
      ++sum.busy;  // another process took it meanwhile
      continue;
    }
    ++index;
    ++sum.ran;
    torch::set_num_threads(threads);
    const auto t0 = std::chrono::steady_clock::now();
    CellOutcome outcome;
    try {
      const auto p0 = std::chrono::steady_clock::now();
      const CellData data = inputs.cell_data(plan, *cell);
      const double prep = std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count();
      CellConfig cfg;
      cfg.training = pt.training;
      cfg.cell_seed = cell->cell_seed;
      cfg.backbone = {pt.backbone.name, pt.backbone.params};
      cfg.regularizer = {pt.regularizer.name, pt.regularizer.params};
      cfg.augmenter = {pt.augmenter.name, pt.augmenter.params};
      cfg.device = device;
      cfg.stop = opt.stop;
      outcome = run_cell(cfg, registry, data);
      outcome.result.prep_seconds = prep;
    } catch (const std::exception& e) {  // a cell whose data cannot be assembled fails alone
      outcome.result.status = CellStatus::Failed;
      outcome.result.error = e.what();
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
    outcome.model = {};  // release the network before the next cell
    store.write_finished_cell(r);
    if (const auto rec = store.find_cell(cell->identity))
      metrics::update_group_metrics(store, rec->key.group_id);

    switch (r.status) {
      case CellStatus::Done:
        ++sum.done;
        break;
      case CellStatus::Interrupted:
        ++sum.interrupted;
        break;
      default:
        ++sum.failed;
        break;
    }
    if (opt.on_cell) {
      CellReport rep;
      rep.index = index;
      rep.total = pending.size();
      rep.cell = cell;
      rep.status = r.status;
      rep.error = r.error;
      rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rep.uf1 = whole_set(r.metrics, "uf1");
      rep.uar = whole_set(r.metrics, "uar");
      rep.chosen_epoch = r.chosen_epoch;
      rep.device = r.device;
      opt.on_cell(rep);
    }
    if (r.status == CellStatus::Interrupted) {
      sum.stopped = true;
      break;
    }
  }
  return sum;
}

}  // namespace merx::engine
