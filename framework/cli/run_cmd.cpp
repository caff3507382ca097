// `merx run SPEC [--output DB] [--rerun-failed] [--force] [--cache DIR] [--jobs N] [--threads-per-cell T]
// [--simulate-gpus N] [--slots-per-gpu K] [--shard i/N] [--prep-jobs N] [--set path=value]...
// [--allow-large]`: trains, evaluates and stores every cell of a spec (merx/engine/run.h) over a pool of
// slots. Progress on stderr: a live view on a terminal (counts, running cells with epoch, rate, ETA),
// otherwise one line per event (a cell starts, a cell ends); then a table of UF1/UAR per target with the
// pooled row on stdout. Cells already done are skipped ("nothing to do" when none is left). Exit 0 when
// every cell is done, 1 when some failed, 2 for user errors, 130 after Ctrl-C / SIGTERM (running cells are
// stored as interrupted and resume on the next run; a second Ctrl-C ends the process at once).
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/spec_common.h"
#include "cli/table.h"
#include "merx/engine/run.h"
#include "merx/leaderboard/leaderboard.h"
#include "merx/errors.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

struct RunArgs {
  SpecArgs spec;
  std::string output, cache;
  bool rerun_failed = false, force = false, no_summary = false, no_save_models = false;
  int jobs = 1, prep_jobs = 0, threads_per_cell = 0, simulate_gpus = 0, slots_per_gpu = 0;
  std::string shard;
};

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int sig) {
  g_stop.store(true);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

std::string fixed3(const std::optional<double>& v) {
  if (!v) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", *v);
  return buf;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}

std::string cell_label(const Plan& plan, const Cell& c) {
  const SweepPoint& pt = plan.points.at(c.point);
  std::string s = "fold " + c.fold + ", seed " + std::to_string(c.seed);
  if (plan.points.size() > 1)
    s += ", point " + std::to_string(c.point) + (pt.variant.empty() ? "" : " (`" + pt.variant + "`)");
  return s;
}

// Progress of the cells: on a terminal a block redrawn in place under the log lines (counts, rate, ETA, one
// line per running cell with its epoch); otherwise one log line per event. Called under the engine's lock.
class CellsView {
 public:
  CellsView(const Plan& plan, bool enabled)
      : plan_(plan), tty_(enabled && ::isatty(STDERR_FILENO)), enabled_(enabled), start_(Clock::now()) {}

  void started(const engine::CellProgress& p) {
    Running& r = running_[p.slot];
    r = {p.cell, Clock::now(), -1, 0};
    if (!tty_) {
      if (enabled_) spdlog::info("[{}] start {}", p.slot, cell_label(plan_, *p.cell));
      return;
    }
    redraw();
  }
  void epoch(const engine::CellProgress& p) {
    Running& r = running_[p.slot];
    r.epoch = p.epoch;
    r.epochs = p.epochs;
    if (!tty_) {
      spdlog::debug("[{}] {}: epoch {}/{}", p.slot, cell_label(plan_, *p.cell), p.epoch + 1, p.epochs);
      return;
    }
    if (Clock::now() - last_ > std::chrono::milliseconds(100)) redraw();
  }
  void finished(const engine::CellReport& r) {
    running_.erase(r.slot);
    total_ = r.total;
    ++(r.status == CellStatus::Done ? done_ : r.status == CellStatus::Failed ? failed_ : interrupted_);
    clear();
    const std::string head = "[" + std::to_string(done_ + failed_ + interrupted_) + "/" +
                             std::to_string(r.total) + "] " + cell_label(plan_, *r.cell) + ": ";
    if (r.status == CellStatus::Done)
      spdlog::info("{}done in {}, UF1 {}, UAR {}{} on {}", head, seconds(r.seconds), fixed3(r.uf1), fixed3(r.uar),
                   r.chosen_epoch ? ", epoch " + std::to_string(*r.chosen_epoch) : "", r.slot);
    else
      spdlog::error("{}{} after {} on {}: {}", head, r.status == CellStatus::Failed ? "FAILED" : "interrupted",
                    seconds(r.seconds), r.slot, r.error);
    if (tty_) redraw();
  }
  /// Removes the live block (before the final output).
  void close() { clear(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Running {
    const Cell* cell = nullptr;
    Clock::time_point since;
    int64_t epoch = -1, epochs = 0;
  };

  void clear() {
    if (!tty_ || lines_ == 0) return;
    std::fprintf(stderr, "\x1b[%zuA\x1b[J", lines_);
    lines_ = 0;
  }
  void redraw() {
    clear();
    last_ = Clock::now();
    const size_t ended = done_ + failed_ + interrupted_;
    const double secs = std::chrono::duration<double>(last_ - start_).count();
    const double rate = secs > 0 ? static_cast<double>(ended) / secs : 0;  // cells per second
    const size_t queued = total_ > ended + running_.size() ? total_ - ended - running_.size() : 0;
    std::string eta = "-";
    if (rate > 0) eta = seconds((static_cast<double>(queued + running_.size())) / rate);
    std::fprintf(stderr, "cells: %zu done, %zu running, %zu failed, %zu queued | %.2f cells/min | ETA %s\n",
                 done_, running_.size(), failed_ + interrupted_, queued, rate * 60.0, eta.c_str());
    lines_ = 1;
    for (const auto& [slot, r] : running_) {
      const double t = std::chrono::duration<double>(last_ - r.since).count();
      const std::string ep =
          r.epoch < 0 ? "starting" : "epoch " + std::to_string(r.epoch + 1) + "/" + std::to_string(r.epochs);
      std::fprintf(stderr, "  %-10s %s  %s  %s\n", slot.c_str(), cell_label(plan_, *r.cell).c_str(), ep.c_str(),
                   seconds(t).c_str());
      ++lines_;
    }
    std::fflush(stderr);
  }

  const Plan& plan_;
  bool tty_, enabled_;
  Clock::time_point start_, last_{};
  std::map<std::string, Running> running_;
  size_t total_ = 0, done_ = 0, failed_ = 0, interrupted_ = 0, lines_ = 0;
};

struct Row {
  std::optional<double> uf1, uar;
  int64_t clips = 0;
};

// Whole-set rows of one scope: target (or "" for pooled) -> name -> value.
void collect(const std::vector<MetricRow>& rows, MetricScope scope, std::map<std::string, Row>& out,
             std::map<std::string, std::optional<double>>* extra = nullptr) {
  for (const auto& m : rows) {
    if (m.scope != scope || m.class_name) continue;
    Row& r = out[m.target];
    if (m.name == "uf1") r.uf1 = m.value, r.clips = m.support;
    if (m.name == "uar") r.uar = m.value;
    if (extra && (m.name == "uf1_target_mean" || m.name == "uar_target_mean")) (*extra)[m.name] = m.value;
  }
}

// UF1/UAR per target and pooled for every group of the plan, from what the store holds.
void print_results(const Plan& plan, Store& store, std::ostream& out) {
  const bool per_target = plan.protocol.name == "lodo" || plan.protocol.name == "hde";
  Table t({"POINT", "SEED", "TARGET", "UF1", "UAR", "CLIPS"});
  for (const Group& g : plan.groups) {
    std::vector<const Cell*> cells;
    for (const auto& c : plan.cells)
      if (c.group == g.identity) cells.push_back(&c);
    if (cells.empty()) continue;
    const auto first = store.find_cell(cells.front()->identity);
    if (!first) continue;
    const GroupMetrics gm = store.read_group_metrics(first->key.group_id);
    const SweepPoint& pt = plan.points.at(g.point);
    const std::string point = std::to_string(g.point) + (pt.variant.empty() ? "" : " " + pt.variant);
    const std::string seed = std::to_string(g.seed);
    std::map<std::string, Row> targets, pooled;
    std::map<std::string, std::optional<double>> means;
    collect(gm.metrics, MetricScope::Target, targets);
    collect(gm.metrics, MetricScope::Pooled, pooled, &means);
    if (gm.metrics.empty()) {  // the group is not complete: what its done folds have
      size_t done = 0;
      for (const Cell* c : cells) {
        const auto r = store.read_cell(c->identity);
        if (!r || r->status != CellStatus::Done) continue;
        ++done;
        std::map<std::string, Row> fold;
        collect(r->metrics, MetricScope::Fold, fold);
        const auto rec = store.find_cell(c->identity);
        t.add({point, seed, (rec ? rec->key.target : c->fold) + " (fold " + c->fold + ")",
               fixed3(fold[""].uf1), fixed3(fold[""].uar), std::to_string(fold[""].clips)});
      }
      t.add({point, seed, "pooled", "-", "-",
             "incomplete: " + std::to_string(done) + " of " + std::to_string(cells.size()) + " folds done"});
      continue;
    }
    for (const auto& [target, r] : targets)
      t.add({point, seed, target, fixed3(r.uf1), fixed3(r.uar), std::to_string(r.clips)});
    const Row& p = pooled[""];
    t.add({point, seed, "pooled", fixed3(p.uf1), fixed3(p.uar), std::to_string(p.clips)});
    if (per_target)
      t.add({point, seed, "mean of targets", fixed3(means["uf1_target_mean"]),
             fixed3(means["uar_target_mean"]), ""});
  }
  if (t.empty()) return;
  out << "\n";
  t.print(out);
  out << "\nheadline: "
      << (per_target ? "per-target UF1/UAR and their mean over targets (" + plan.protocol.name + ")"
                     : "pooled UF1/UAR over all folds (" + plan.protocol.name + ")")
      << "\n";
}

int run(const RunArgs& a) {
  PluginRegistry registry;
  const Plan plan = plan_from_args(a.spec, registry);
  check_backbones(plan, registry);  // a backbone that cannot be built fails before any cell starts
  for (const auto& w : plan.warnings) spdlog::warn("{}", w.format());
  engine::RunOptions opt;
  opt.output = a.output;
  opt.rerun_failed = a.rerun_failed;
  opt.save_models = !a.no_save_models;
  opt.force = a.force;
  opt.cache_dir = a.cache;
  opt.prep_jobs = a.prep_jobs;
  opt.jobs = a.jobs;
  opt.threads_per_cell = a.threads_per_cell;
  opt.simulate_gpus = a.simulate_gpus;
  opt.slots_per_gpu = a.slots_per_gpu;
  if (!a.shard.empty()) opt.shard = engine::Shard::parse(a.shard);
  if (opt.output.empty() && opt.shard.active()) {  // a shard never writes into the spec's own database
    std::filesystem::path o = plan.output;
    o.replace_filename(o.stem().string() + ".shard-" + std::to_string(opt.shard.index) + "-of-" +
                       std::to_string(opt.shard.count) + o.extension().string());
    opt.output = o;
  }
  if (!opt.output.empty()) opt.output = std::filesystem::absolute(opt.output);
  Store::check_output((opt.output.empty() ? plan.output : opt.output).string());
  g_stop.store(false);
  opt.stop = &g_stop;
  opt.on_note = [](const std::string& s) { spdlog::info("{}", s); };
  CellsView view(plan, spdlog::default_logger()->should_log(spdlog::level::info));
  opt.on_cell = [&view](const engine::CellReport& r) { view.finished(r); };
  opt.on_progress = [&view](const engine::CellProgress& p) {
    if (p.epoch < 0)
      view.started(p);
    else
      view.epoch(p);
  };
  const auto prev = std::signal(SIGINT, on_sigint);
  const auto prev_term = std::signal(SIGTERM, on_sigint);  // Slurm's time limit: store cells as interrupted
  engine::RunSummary s;
  try {
    s = engine::run_plan(plan, registry, opt);
  } catch (...) {
    view.close();
    std::signal(SIGINT, prev);
    std::signal(SIGTERM, prev_term);
    throw;
  }
  view.close();
  std::signal(SIGINT, prev);
  std::signal(SIGTERM, prev_term);

  if (s.ran == 0 && s.busy == 0) {
    std::cout << "nothing to do: all " << s.cells << " cells of `" << plan.name << "` are "
              << (s.failed_before ? "finished (" + std::to_string(s.failed_before) +
                                        " failed; --rerun-failed retries them)"
                                  : "done")
              << " in " << s.output.string() << "\n";
  } else {
    std::cout << plan.name << ": " << s.ran << " cell" << (s.ran == 1 ? "" : "s") << " run (" << s.done
              << " done, " << s.failed << " failed"
              << (s.interrupted ? ", " + std::to_string(s.interrupted) + " interrupted" : "") << "), "
              << s.already_done << " already done"
              << (s.busy ? ", " + std::to_string(s.busy) + " held by another process" : "") << "; "
              << s.output.string() << "\n";
  }
  Store store = Store::open(s.output.string(), Store::Mode::ReadOnly);
  if (!a.no_summary) print_results(plan, store, std::cout);
  // The run ends with the leaderboard of the spec's experiment (finished groups only; none in a shard).
  if (!a.no_summary) try {
    leaderboard::Options lo;
    lo.experiment = plan.name;
    lo.current_data_version = plan.data_version;  // the data this spec loads now, not an older run's
    const leaderboard::Leaderboard lb = leaderboard::build(store, lo);
    if (!lb.tables.empty())
      std::cout << "\nleaderboard of `" << plan.name << "`:\n" << leaderboard::render(lb, leaderboard::Format::Table);
  } catch (const std::exception& e) {
    spdlog::warn("leaderboard: {}", e.what());
  }
  if (s.stopped) {
    spdlog::warn("stopped: the remaining cells run with the same command");
    return 130;
  }
  const size_t failed = s.failed + s.failed_before;
  if (failed > 0) {
    spdlog::error(
        "{} cell{} failed (reasons above and in the database); fix the cause and rerun with --rerun-failed",
        failed, failed == 1 ? "" : "s");
    return 1;
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, Action& action) {
  auto* cmd =
      app.add_subcommand("run", "Train, evaluate and store every cell of a spec (skips cells already done)");
  auto args = std::make_shared<RunArgs>();
  add_spec_args(cmd, args->spec);
  cmd->add_option("--output,-o", args->output, "Results database (default: the spec's `output`)");
  cmd->add_flag("--rerun-failed", args->rerun_failed, "Run failed cells again");
  cmd->add_flag("--no-save-models", args->no_save_models,
                "Do not write the cells' selected models to <db>-models/ (as the spec's save_models: false)");
  cmd->add_flag("--force", args->force, "Run every cell again, done ones included");
  cmd->add_flag("--no-summary", args->no_summary,
                "Skip the per-target table and the leaderboard at the end (`merx db leaderboard` prints them)");
  cmd->add_option("--cache", args->cache,
                  "Feature cache folder (default $MERX_CACHE_DIR, $XDG_CACHE_HOME/merx, ~/.cache/merx)");
  cmd->add_option("--jobs,-j", args->jobs,
                  "Cells at once on the CPU (slots; default 1, 0 = cores / threads per cell)")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--threads-per-cell", args->threads_per_cell,
                  "Torch threads per cell (default: 1 with several slots, else training.threads_per_cell)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--simulate-gpus", args->simulate_gpus,
                  "Schedule over N fake GPUs whose cells run on the CPU (tests the multi-GPU logic)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--slots-per-gpu", args->slots_per_gpu,
                  "Cells at once per GPU (default training.slots_per_gpu, 1)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--shard", args->shard,
                  "Only cells i, i+N, i+2N, ... of `merx plan` (0 <= i < N), into their own database "
                  "(default <output>.shard-i-of-N.sqlite)");
  cmd->add_option("--prep-jobs", args->prep_jobs, "Parallel samples while preprocessing (default: all cores)");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace merx::cli
