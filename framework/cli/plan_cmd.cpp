// `merx plan SPEC [--format table|json] [--set path=value]... [--allow-large]`: the cells of a spec with
// their identities, and the folds with their train/test clips per class (JSON: `fold_classes`).
#include <iostream>

#include "cli/commands.h"
#include "cli/spec_common.h"
#include "cli/table.h"
#include "merx/errors.h"

namespace merx::cli {
namespace {

int run(const SpecArgs& args, const std::string& format) {
  if (format != "table" && format != "json") throw UserError("--format: '" + format + "' is not table or json");
  const Plan plan = plan_from_args(args);
  const std::vector<FoldClasses> classes = fold_classes(plan);
  if (format == "json") {
    json j = plan_to_json(plan);
    j["fold_classes"] = fold_classes_json(classes);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  Table t({"CELL", "GROUP", "POINT", "SEED", "FOLD", "CELL SEED"});
  auto point_text = [&](size_t index) {  // "2 brl": the number alone meant looking it up in the spec
    for (const auto& p : plan.points)
      if (p.index == index && !p.variant.empty()) return std::to_string(index) + " " + p.variant;
    return std::to_string(index);
  };
  for (const auto& c : plan.cells)
    t.add({c.identity.substr(0, 16), c.group.substr(0, 12), point_text(c.point), std::to_string(c.seed), c.fold,
           std::to_string(c.cell_seed)});
  t.print(std::cout);
  print_fold_table(plan, classes, std::cout);
  std::cout << "\n" << plan_summary_text(plan);
  std::cout << "(identities shortened; --format json gives them in full)\n";
  return 0;
}

}  // namespace

void add_plan_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("plan", "List the cells of a spec with their identity hashes");
  auto args = std::make_shared<SpecArgs>();
  auto format = std::make_shared<std::string>("table");
  add_spec_args(cmd, *args);
  cmd->add_option("--format", *format, "table (default) or json");
  cmd->callback([&action, args, format] { action = [args, format] { return run(*args, *format); }; });
}

}  // namespace merx::cli
