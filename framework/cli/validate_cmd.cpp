// `merx validate SPEC [--set path=value]... [--allow-large]`: resolves the spec and every plugin it names,
// constructs each sweep point's backbone once (check_backbones: a model file that does not load fails here),
// checks the output database path, reads the datasets' annotation files (every clip problem is reported;
// frames are not opened) and prints either every problem (exit 2) or a summary of the cells and the folds
// with their train/test clips per class. A spec above kMaxPlanCells cells is refused before it is expanded
// unless --allow-large is given (merx/spec/plan.h). Changes nothing.
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/spec_common.h"
#include "merx/plugins/registry.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

int run(const SpecArgs& args) {
  PluginRegistry registry;
  const Plan plan = plan_from_args(args, registry);
  check_backbones(plan, registry);            // constructs each backbone once (e.g. loads a model file)
  Store::check_output(plan.output.string());  // UserError naming the path; the file is not touched
  for (const auto& w : plan.warnings) spdlog::warn("{}", w.format());

  const std::vector<FoldClasses> classes = fold_classes(plan);  // reads the annotation files (strict)
  std::cout << "spec OK: " << plan.name << " (" << plan.spec_file.string() << ")\n"
            << plan_summary_text(plan);
  print_fold_table(plan, classes, std::cout);
  std::cout << "\noutput: " << plan.output.string() << "\n";
  return 0;
}

}  // namespace

void add_validate_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("validate", "Check a spec and its plugins; print every problem or a summary of the cells");
  auto args = std::make_shared<SpecArgs>();
  add_spec_args(cmd, *args);
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace merx::cli
