// Shared by the commands that take a SPEC (`validate`, `plan`, later `run`): read it, discover plugins
// (including the spec's plugin_paths) and make the plan.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "merx/spec/folds.h"
#include "merx/spec/plan.h"

namespace merx::cli {

struct SpecArgs {
  std::string file;
  std::vector<std::string> sets;
  bool allow_large = false;  // --allow-large: expand a spec above kMaxPlanCells cells (PlanOptions)
};

/// Adds the SPEC positional (optional when `required` is false), the repeatable `--set path=value` option and
/// the `--allow-large` flag.
void add_spec_args(CLI::App* cmd, SpecArgs& args, bool required = true);

/// load_spec + plugin discovery (+ plugin_paths) + make_plan. Throws UserError/ValidationError.
Plan plan_from_args(const SpecArgs& args);
/// The same, keeping the discovered plugins (`merx run` builds its cells' plugins from them).
Plan plan_from_args(const SpecArgs& args, PluginRegistry& registry);

/// Constructs the backbone of every sweep point once (one per distinct name + resolved parameters) and checks
/// its input_shape() against the recipe, so a plugin that refuses its parameters or its file (e.g.
/// `torchscript` with a model that does not load or does not take the declared input) fails `merx validate`
/// and the start of `merx run`, not the middle of training. Throws ValidationError with one problem per
/// failing point at path `backbone` (its message prefixed with the point's label when the spec sweeps).
void check_backbones(const Plan& plan, const PluginRegistry& registry);

/// Train/test clips per class of every fold, for one label setting shared by some sweep points
/// (usually all of them), counted from the annotation files (merx/spec/folds.h, frames not opened).
struct FoldClasses {
  std::vector<size_t> points;         // sweep points with this label setting
  std::string labels;                 // the mapping's name (native, megc3, custom)
  std::vector<std::string> classes;   // LabelledSamples::classes
  size_t unlabelled = 0;              // clips with no class (in no fold)
  std::vector<FoldSplit> folds;       // plan.folds order; FoldSplit::train/test emptied (counts kept)
};

/// One FoldClasses per distinct label setting of the plan's sweep points (in point order). Loads the
/// datasets strictly, sheets only: a clip problem is a DatasetError listing every one. Logs a warning for
/// every fold with no train or no test clip.
std::vector<FoldClasses> fold_classes(const Plan& plan);

/// Prints the fold table (FOLD, TRAIN, TEST, CELLS, clip counts and train/test clips per class), one per
/// label setting.
void print_fold_table(const Plan& plan, const std::vector<FoldClasses>& classes, std::ostream& out);

/// The same as JSON: [{"points", "labels", "classes", "unlabelled", "folds": [{"id", "train", "test",
/// "train_counts": {class: n}, "test_counts": {...}, "train_subjects", "test_subjects"}]}].
nlohmann::json fold_classes_json(const std::vector<FoldClasses>& classes);

}  // namespace merx::cli
