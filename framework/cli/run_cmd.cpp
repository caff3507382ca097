// `merx run SPEC [--output DB] [--rerun-failed] [--force] [--cache DIR] [--jobs N] [--set path=value]...`:
// trains, evaluates and stores every cell of a spec (merx/engine/run.h), one progress line per cell on
// stderr, then a table of UF1/UAR per target with the pooled row on stdout. Cells already done are skipped
// ("nothing to do" when none is left). Exit 0 when every cell is done, 1 when some failed, 2 for user
// errors, 130 after Ctrl-C (the running cell is stored as interrupted and resumes on the next run).
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/spec_common.h"
#include "cli/table.h"
#include "merx/engine/run.h"
#include "merx/errors.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

struct RunArgs {
  SpecArgs spec;
  std::string output, cache;
  bool rerun_failed = false, force = false;
  int jobs = 0;
};

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
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
  for (const auto& w : plan.warnings) spdlog::warn("{}", w.format());
  engine::RunOptions opt;
  opt.output = a.output;
  opt.rerun_failed = a.rerun_failed;
  opt.force = a.force;
  opt.cache_dir = a.cache;
  opt.prep_jobs = a.jobs;
  if (!opt.output.empty()) opt.output = std::filesystem::absolute(opt.output);
  Store::check_output((opt.output.empty() ? plan.output : opt.output).string());
  g_stop.store(false);
  opt.stop = &g_stop;
  opt.on_note = [](const std::string& s) { spdlog::info("{}", s); };
  opt.on_cell = [&plan](const engine::CellReport& r) {
    const std::string head = "[" + std::to_string(r.index) + "/" + std::to_string(r.total) + "] " +
                             cell_label(plan, *r.cell) + ": ";
    if (r.status == CellStatus::Done)
      spdlog::info("{}done in {}, UF1 {}, UAR {}{}", head, seconds(r.seconds), fixed3(r.uf1), fixed3(r.uar),
                   r.chosen_epoch ? ", epoch " + std::to_string(*r.chosen_epoch) : "");
    else
      spdlog::error("{}{} after {}: {}", head, r.status == CellStatus::Failed ? "FAILED" : "interrupted",
                    seconds(r.seconds), r.error);
  };
  const auto prev = std::signal(SIGINT, on_sigint);
  engine::RunSummary s;
  try {
    s = engine::run_plan(plan, registry, opt);
  } catch (...) {
    std::signal(SIGINT, prev);
    throw;
  }
  std::signal(SIGINT, prev);

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
  print_results(plan, store, std::cout);
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
  cmd->add_flag("--force", args->force, "Run every cell again, done ones included");
  cmd->add_option("--cache", args->cache,
                  "Feature cache folder (default $MERX_CACHE_DIR, $XDG_CACHE_HOME/merx, ~/.cache/merx)");
  cmd->add_option("--jobs,-j", args->jobs, "Parallel samples while preprocessing (default: all cores)");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace merx::cli
