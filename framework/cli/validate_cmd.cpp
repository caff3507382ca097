// `merx validate SPEC [--set path=value]...`: resolves the spec and every plugin it names, checks the output
// database path, and prints either every problem (exit 2) or a summary of the cells. Changes nothing.
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/spec_common.h"
#include "cli/table.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

int run(const SpecArgs& args) {
  const Plan plan = plan_from_args(args);
  Store::check_output(plan.output.string());  // UserError naming the path; the file is not touched
  for (const auto& w : plan.warnings) spdlog::warn("{}", w.format());

  std::cout << "spec OK: " << plan.name << " (" << plan.spec_file.string() << ")\n"
            << plan_summary_text(plan);
  Table t({"FOLD", "TRAIN", "TEST", "CELLS"});
  for (const auto& [fold, n] : plan.summary.cells_per_fold) {
    const Fold* f = plan.find_fold(fold);
    std::string train, test;
    for (const auto& d : f->train) train += (train.empty() ? "" : "+") + d;
    for (const auto& d : f->test) test += (test.empty() ? "" : "+") + d;
    t.add({fold, train, test, std::to_string(n)});
  }
  std::cout << "\n";
  t.print(std::cout);
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
