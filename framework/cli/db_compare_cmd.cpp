// `merx db compare|merge|export` (issue 7; registered by add_db_command in db_cmd.cpp):
//   compare A B [--vs BASE] --db FILE   paired comparison of methods (selectors: merx/compare/compare.h)
//   compare --family --db FILE          the comparisons the spec declares, Holm over that family
//   merge OUT IN...                     shard databases into one (merx/store/merge.h), then group metrics
//   export --db FILE --format csv DIR | --format megc FILE|DIR   (merx/store/export.h)
// Exit codes: 0 ok; 2 user errors (bad selector, refused pairing, conflicting cells, unusable files);
// 1 runtime failures.
#include <array>
#include <filesystem>
#include <iostream>
#include <memory>


#include "cli/commands.h"
#include "merx/compare/compare.h"
#include "merx/errors.h"
#include "merx/metrics/metrics.h"
#include "merx/store/export.h"
#include "merx/store/merge.h"
#include "merx/store/model_files.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

struct CompareArgs {
  std::string db, metric = "uf1", format = "text";
  std::string experiment, vs, unit = "seed";
  std::vector<std::string> sides;
  int64_t bootstrap = 2000;
  uint64_t bootstrap_seed = 0;
  bool family = false;
};

int compare_cmd(const CompareArgs& a) {
  const Store store = open_results_for_reading(a.db);
  compare::Options opt;
  opt.metric = leaderboard::parse_metric(a.metric);
  if (!a.experiment.empty()) opt.experiment = a.experiment;
  opt.unit = a.unit == "target_seed" ? compare::Unit::TargetSeed : compare::Unit::Seed;
  opt.bootstrap = a.bootstrap;
  opt.bootstrap_seed = a.bootstrap_seed;
  opt.family = a.family;
  if (a.family && (!a.sides.empty() || !a.vs.empty()))
    throw UserError("compare: --family takes the comparisons from the spec; give no selectors and no --vs");
  const auto cs =
      a.family ? compare::compare_family(store, opt)
               : compare::compare(store, a.sides, a.vs.empty() ? std::nullopt : std::optional<std::string>(a.vs),
                                  opt);
  if (a.format == "json")
    std::cout << compare::to_json(cs, opt).dump(2) << "\n";
  else
    std::cout << compare::render_text(cs, opt);
  return 0;
}

int merge_cmd(const std::string& out, const std::vector<std::string>& inputs) {
  const MergeSummary s = merge_databases(out, inputs);
  Store store = Store::open(out);
  std::size_t recomputed = 0;
  for (int64_t g : s.groups_changed) recomputed += metrics::update_group_metrics(store, g);
  std::cout << "merged " << s.inputs << " database" << (s.inputs == 1 ? "" : "s") << " into " << out << ": "
            << s.cells_added << " cells added, " << s.cells_replaced << " replaced (done over not done), "
            << s.cells_identical << " identical, " << s.cells_kept << " kept as they were; "
            << s.experiments_added << " experiment(s) and " << s.groups_added
            << " group(s) added; pooled metrics of " << recomputed << " of " << s.groups_changed.size()
            << " changed groups recomputed (the others have unfinished cells)\n";
  if (s.models_copied || s.models_missing)
    std::cout << "saved models: " << s.models_copied << " in " << models_dir(out).string()
              << (s.models_missing ? "; " + std::to_string(s.models_missing) +
                                         " missing beside their input database (merx predict will name them)"
                                   : std::string())
              << "\n";
  return 0;
}

int export_cmd(const std::string& db, const std::string& format, const std::string& dest,
               const std::string& experiment) {
  const Store store = open_results_for_reading(db);
  ExportSummary s;
  if (format == "csv") {
    if (!experiment.empty()) throw UserError("export: --experiment applies to --format megc only");
    s = export_csv(store, dest);
  } else if (format == "megc") {
    s = export_megc(store, dest, experiment.empty() ? std::nullopt : std::optional<std::string>(experiment));
  } else {
    throw UserError("export: --format must be csv or megc, not `" + format + "`");
  }
  std::cout << "wrote " << s.files.size() << " file" << (s.files.size() == 1 ? "" : "s") << " (" << s.rows
            << " rows) to " << dest << "\n";
  return 0;
}

}  // namespace

void add_db_compare_commands(CLI::App& db, Action& action) {
  auto ca = std::make_shared<CompareArgs>();
  auto* c = db.add_subcommand(
      "compare",
      "Paired comparison of methods, unit = seed (the target mean per seed; --unit target_seed for the "
      "non-independent (target, seed) pairs): mean difference with paired-t interval, paired t-test, "
      "Wilcoxon signed-rank (Holm with --vs and several selectors), and a paired bootstrap over test "
      "subjects from the stored predictions. Selector: KEY=VALUE[,KEY=VALUE...] with "
      "KEY experiment|variant|backbone|regularizer|augmenter|point|<param.path>, or a bare "
      "variant/experiment name");
  c->add_option("selectors", ca->sides, "A B (A - B), or several with --vs BASELINE");
  c->add_flag("--family", ca->family,
              "Every comparison the spec's `comparisons` declares, Holm over that family (--experiment "
              "names the spec when several declare one)");
  c->add_option("--vs", ca->vs, "Baseline selector: compare every selector with it");
  c->add_option("--db", ca->db, "Results database")->required();
  c->add_option("--metric", ca->metric, "uf1 | uar | acc (target-scope group figures)")->default_val("uf1");
  c->add_option("--experiment", ca->experiment, "Only groups of this experiment");
  c->add_option("--unit", ca->unit, "seed (default: per seed, the mean over the targets) | target_seed")
      ->check(CLI::IsMember({"seed", "target_seed"}))
      ->default_val("seed");
  c->add_option("--bootstrap", ca->bootstrap, "Subject-clustered bootstrap resamples (0 = off)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}))
      ->default_val(2000);
  c->add_option("--bootstrap-seed", ca->bootstrap_seed, "Seed of the bootstrap's resampling")->default_val(0);
  c->add_option("--format", ca->format, "text | json")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_val("text");
  c->callback([ca, &action] { action = [ca] { return compare_cmd(*ca); }; });

  auto mo = std::make_shared<std::string>();
  auto mi = std::make_shared<std::vector<std::string>>();
  auto* m = db.add_subcommand("merge",
                              "Merge shard databases into OUT (created if absent; unchanged on error), then "
                              "recompute the pooled metrics of the groups that received cells");
  m->add_option("out", *mo, "Output database")->required();
  m->add_option("inputs", *mi, "Input databases (shards)")->required();
  m->callback([mo, mi, &action] { action = [mo, mi] { return merge_cmd(*mo, *mi); }; });

  auto ea = std::make_shared<std::array<std::string, 4>>();  // db, format, dest, experiment
  auto* e = db.add_subcommand(
      "export",
      "Export every table as CSV (--format csv DIR) or per-clip predictions in the "
      "MEGC2019 layout (--format megc FILE|DIR: dataset, subject, filename, label, prediction)");
  e->add_option("--db", (*ea)[0], "Results database")->required();
  e->add_option("--format", (*ea)[1], "csv | megc")->required()->check(CLI::IsMember({"csv", "megc"}));
  e->add_option("dest", (*ea)[2], "Folder (csv; megc with one file per group) or file (megc, one group)")
      ->required();
  e->add_option("--experiment", (*ea)[3], "megc: only groups of this experiment");
  e->callback(
      [ea, &action] { action = [ea] { return export_cmd((*ea)[0], (*ea)[1], (*ea)[2], (*ea)[3]); }; });
}

}  // namespace merx::cli
