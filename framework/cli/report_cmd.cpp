// `merx report --db FILE [--experiment NAME] [--metric uf1|uar|acc] -o report.html`: one self-contained HTML
// file (merx/report/report.h) that opens offline. Exit 0; 2 for a missing or foreign database, an unknown
// experiment or an unwritable output; 1 for runtime failures.
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "merx/errors.h"
#include "merx/report/report.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

struct ReportArgs {
  std::string db, experiment, metric = "uf1", output = "report.html", title;
};

int report_cmd(const ReportArgs& a) {
  const Store store = open_results_for_reading(a.db);  // upgrades an older schema when writable
  report::Options opt;
  if (!a.experiment.empty()) opt.experiment = a.experiment;
  opt.metric = leaderboard::parse_metric(a.metric);
  opt.title = a.title;
  report::write_html(store, opt, a.output);
  std::cout << "wrote " << a.output << " (" << std::filesystem::file_size(a.output)
            << " bytes; opens offline)\n";
  return 0;
}

}  // namespace

void add_report_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand("report",
                                 "Write one self-contained HTML report (leaderboards, bar charts, confusion "
                                 "heatmaps, per-class F1, training "
                                 "curves, provenance) that opens offline");
  cmd->add_option("--db", a->db, "Results database")->required();
  cmd->add_option("--experiment", a->experiment, "Only this experiment");
  cmd->add_option("--metric", a->metric, "uf1 | uar | acc")->default_val("uf1");
  cmd->add_option("-o,--output", a->output, "HTML file to write")->default_val("report.html");
  cmd->add_option("--title", a->title, "Page title (default: merx report: <database file>)");
  cmd->callback([a, &action] { action = [a] { return report_cmd(*a); }; });
}

}  // namespace merx::cli
