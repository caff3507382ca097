// From a spec to a plan: validation with exact JSON paths, sweep expansion, protocol folds, and the stable
// identities that make reruns idempotent. docs/spec.md is the user-facing description; this header is the
// contract for the CLI, the engine and the store.
//
// Vocabulary (methods.md §1):
//   sweep point  one setting of everything a sweep may change: plugins + their parameters, recipe, training,
//                labels (from `sweep.variants` x `sweep.grid` x `sweep.random`; one point without a sweep)
//   fold         one train/test split of the protocol (lodo: a target dataset; hde: a pair; kfold_subject:
//                k0..k{k-1}; loso: a global subject `dataset/subject`)
//   cell         (sweep point, seed value, fold): the unit that is trained and stored
//   group        (sweep point, seed value): all folds of one protocol run, the unit metrics are pooled over
//
// Identities (SHA-256 hex of a canonical JSON, merx/spec/spec.h canonical_json) — see docs/spec.md
// "Identity" for the exact documents:
//   cell identity  fold, seed value, plugins (name, version, EXPLICIT params; a file-valued param by the
//                  SHA-256 of the file, never its path), recipe (name, explicit
//                  params), training (explicit, without threads_per_cell/device), labels (membership file by
//                  its SHA-256), and the fold's datasets (name, adapter, options, annotation-file SHA-256).
//                  Not in it: `name`, `description`, `output`, dataset roots, `plugin_paths`, thread counts,
//                  device, variant names, key order, whitespace.
//   group identity as the cell, with the protocol (name + explicit params) and all datasets instead of the
//                  fold.
//   point hash     the sweep-point part alone (plugins, recipe, training, labels).
//   cell seed      merx::hash64(canonical {"fold": id, "seed": value}) — the same for every sweep point and
//                  method, so paired comparisons share initialisation and batch order.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "merx/errors.h"
#include "merx/plugins/registry.h"
#include "merx/spec/settings.h"
#include "merx/spec/spec.h"

namespace merx {

/// The plugins make_plan validates against: a snapshot of a PluginRegistry (or a hand-made one in tests).
struct PluginCatalog {
  std::vector<PluginInfo> plugins;     // accepted plugins
  std::vector<RefusedPlugin> refused;  // files found but refused, to explain "unknown plugin"

  /// Copies plugins() and refused() out of a discovered registry.
  static PluginCatalog from(const PluginRegistry& registry);
  const PluginInfo* find(PluginKind kind, const std::string& name) const;  // nullptr when absent
  std::vector<std::string> names(PluginKind kind) const;                   // sorted
};

/// A dataset of the spec, resolved. Paths are absolute (relative ones resolved against the spec folder).
struct DatasetSpec {
  std::string name;                   // unique within the spec: [A-Za-z0-9_.-]+
  std::string adapter;                // a name of merx::dataset_adapters()
  std::filesystem::path root;         // existing folder
  std::filesystem::path annotations;  // existing readable file, or empty when none is given
  std::string annotations_sha256;     // SHA-256 of the annotation file's bytes ("" when none)
  json options = json::object();      // adapter options, as written (the dataset layer checks them)
  /// The dataset this one is the counterfactual twin of (docs/spec.md "datasets"): same layout, subjects and
  /// clip names, one spurious cue toggled. "" = an ordinary dataset, i.e. a domain of the protocol. A twin
  /// is never a source or target itself: it is predicted by the cells that test on its original
  /// (metric shortcut_flip_rate, docs/engine.md "Counterfactual twins").
  std::string counterfactual_of;
};

/// One hde pair: train on `sources`, test on `target`.
struct HdePair {
  std::vector<std::string> sources;
  std::string target;
};

/// The protocol, resolved.
struct ProtocolSpec {
  std::string name;                       // lodo | hde | loso | kfold_subject
  json params = json::object();           // resolved (defaults filled; lodo targets = all datasets if unset)
  json explicit_params = json::object();  // as written (k cast to int)
  std::vector<std::string> targets;       // lodo: target datasets, in spec order
  std::vector<HdePair> pairs;             // hde
  int64_t k = 0;                          // kfold_subject
};

/// One train/test split.
struct Fold {
  std::string id;                  // lodo: target name; hde: "src1+src2->target" (sources sorted);
                                   // kfold_subject: "k0".."k{k-1}"; loso: "dataset/subject"
  std::vector<std::string> train;  // dataset names that provide training clips (spec order)
  std::vector<std::string> test;   // dataset names that provide test clips
  // Neither lists a counterfactual twin (DatasetSpec::counterfactual_of): twins are no domains.
  // kfold_subject: train and test both list every dataset; which subjects fall in fold i is decided by the
  // dataset layer (deterministically from the sample list). loso: `test` is the subject's dataset, and the
  // fold trains on every other subject of every dataset.
  std::string subject;  // loso: the held-out global subject id; "" otherwise
  json content;         // the fold's part of the identities
};

/// A plugin chosen by a sweep point.
struct PluginRef {
  PluginKind kind = PluginKind::Backbone;
  std::string name, version;
  std::filesystem::path file;             // the .so it comes from
  json explicit_params = json::object();  // set in the spec / variant / grid / random draw, cast to type
  json params = json::object();           // resolved: every declared parameter (what the plugin receives)
  /// File-valued parameters (ParamDecl::file) with a non-empty value: name -> SHA-256 of the file's bytes.
  /// `params` holds their absolute paths (a relative one resolved against the spec folder); the identity
  /// holds {"sha256": ...} in the path's place, so moving or renaming the file keeps the cell, editing it
  /// makes a new one.
  std::map<std::string, std::string> file_sha256;
};

struct RecipeRef {
  std::string name;
  json explicit_params = json::object();
  json params = json::object();    // resolved
  std::array<int64_t, 3> shape{};  // [C, S, S] of the tensors it makes
};

/// The `labels` block, resolved.
struct LabelSettings {
  std::string name = "native";             // native | megc3 | custom
  std::map<std::string, std::string> map;  // custom: native label -> class
  std::filesystem::path membership;        // absolute; empty = every clip takes part
  std::string membership_sha256;
  std::string unmapped = "drop";     // drop | error: clips whose label the mapping lacks
  std::vector<std::string> classes;  // megc3: fixed; custom: distinct map values, sorted; native: empty
};

struct SweepPoint {
  size_t index = 0;
  std::string variant;                // variant name; "" when the spec has no variants
  json assignments = json::object();  // grid values of this point: {"<dotted path>": value}
  json draws = json::object();        // random-search draws of this point: {"<dotted path>": value}
  PluginRef backbone, regularizer, augmenter;
  RecipeRef recipe;
  TrainingSettings training;
  json training_params = json::object();    // resolved training block
  json training_explicit = json::object();  // explicit, cast, without threads_per_cell/device
  LabelSettings labels;
  json content;               // the point's part of the identities
  std::string hash;           // SHA-256 of canonical(content)
  std::string label() const;  // "variant `a`, backbone.params.features=32" (for messages)
};

struct Group {
  std::string identity;
  size_t point = 0;
  int64_t seed = 0;
};

struct Cell {
  std::string identity;  // SHA-256 hex
  std::string group;     // group identity
  size_t point = 0;      // index into Plan::points
  std::string fold;      // Fold::id
  int64_t seed = 0;      // seed value
  uint64_t cell_seed = 0;
};

struct PlanSummary {
  size_t cells = 0;
  std::vector<std::pair<std::string, size_t>> cells_per_fold;  // in fold order
  std::vector<size_t> cells_per_point;                         // by point index
};

/// Everything `merx plan` shows and `merx run` executes. Cells are ordered point, seed, fold, so each
/// group's cells are contiguous.
struct Plan {
  std::string name;
  std::string description;
  std::filesystem::path spec_file, base_dir;
  json spec;                   // the document as validated (after --set and ${VAR})
  std::string spec_canonical;  // canonical_json(spec)
  std::string spec_hash;       // SHA-256 of spec_canonical
  std::vector<DatasetSpec> datasets;
  /// SHA-256 hex of the datasets as they enter every group's identity (name, adapter, options, annotation
  /// file SHA-256 of each; counterfactual twins included): results of two plans are of the same data only
  /// when this is equal (groups.data_version, db/004_data_version.sql; docs/database.md "Data versions").
  std::string data_version;
  ProtocolSpec protocol;
  std::vector<int64_t> seeds;                       // seed values
  std::filesystem::path output;                     // database file, absolute
  std::vector<std::filesystem::path> plugin_paths;  // absolute, existing folders
  /// The spec's `save_models` (default true): done cells write their selected model beside the database
  /// (merx/engine/saved_model.h). Not in any identity.
  bool save_models = true;
  std::vector<SweepPoint> points;
  // The spec's `comparisons`: (A, B) selector pairs declared before the runs, the Holm family of
  // `merx db compare --family` (merx/compare/compare.h). Stored with the experiment as part of `spec`.
  std::vector<std::pair<std::string, std::string>> comparisons;
  std::vector<Fold> folds;
  std::vector<Group> groups;
  std::vector<Cell> cells;
  PlanSummary summary;
  std::vector<Problem> warnings;  // doubtful but valid settings (e.g. step_size without schedule step)

  const Fold* find_fold(const std::string& id) const;
  const DatasetSpec* find_dataset(const std::string& name) const;
  /// The counterfactual twin of dataset `name` (DatasetSpec::counterfactual_of == name); nullptr when none.
  const DatasetSpec* twin_of(const std::string& name) const;
  /// The protocol's domains: the names of the datasets that are not counterfactual twins, in spec order.
  std::vector<std::string> domains() const;
};

/// Returns the subjects (local ids such as "sub01") of one dataset; throws UserError when the dataset cannot
/// be indexed. Provided by the dataset layer; needed for loso folds only.
using SubjectProvider = std::function<std::vector<std::string>(const DatasetSpec& dataset)>;

/// The most cells make_plan expands without being asked to (PlanOptions::allow_large, `--allow-large` of
/// `merx validate`, `plan`, `run`, ...; docs/spec.md "Sweeps"). A grid multiplies fast: six keys of ten
/// values are a million sweep points, and expanding them (every point checked, every cell hashed) took
/// minutes and ~12 GiB before anything was printed. 100,000 cells is far beyond what one machine trains
/// (the demo has 36) and expands in seconds.
inline constexpr uint64_t kMaxPlanCells = 100000;

/// One factor of a plan's cell count, as the refusal names it.
struct CellFactor {
  enum class Kind { Variants, GridKey, RandomDraws, Folds, Seeds };
  Kind kind = Kind::GridKey;
  std::string name;  // GridKey: the key as written in sweep.grid; "" otherwise
  uint64_t size = 0;
};

/// The cell count of a plan before expanding it: the product of its factors, saturating at UINT64_MAX.
struct CellCount {
  std::vector<CellFactor> factors;
  uint64_t cells = 1;      // product of the factors' sizes (1 without factors)
  bool saturated = false;  // the exact product exceeds UINT64_MAX; `cells` is UINT64_MAX
  /// "sweep.variants (2) × sweep.grid training.lr (10) × training.wd (10) × 3 folds × 2 seeds = 4,000 cells"
  /// ("= more than 18,446,744,073,709,551,615 cells" when saturated).
  std::string text() const;
};

/// Multiplies the factors with saturation (never overflows, never allocates per cell).
CellCount count_cells(std::vector<CellFactor> factors);

/// 12000000 -> "12,000,000".
std::string thousands(uint64_t n);

struct PlanOptions {
  SubjectProvider subjects;  // required for protocol loso; unused otherwise
  /// false: a spec whose cell count (variants × grid sizes × random draws × folds × seeds, counted before
  /// anything is expanded) is above kMaxPlanCells is refused with a UserError naming the count and its
  /// factors. true: expanded anyway.
  bool allow_large = false;
};

/// Validates `spec` against the framework's declarations and the plugins of `catalog`, expands the sweep,
/// makes folds, groups and cells. Throws ValidationError listing EVERY problem, each at its exact JSON path
/// (problems inside a sweep point are reported at the variant / grid key / random block that caused them).
/// Throws UserError, before expanding anything, when the cell count is above kMaxPlanCells and
/// `options.allow_large` is false (folds and seeds that are themselves invalid are left out of the count).
Plan make_plan(const SpecSource& spec, const PluginCatalog& catalog, const PlanOptions& options = {});
/// Convenience: make_plan(spec, PluginCatalog::from(registry), options).
Plan make_plan(const SpecSource& spec, const PluginRegistry& registry, const PlanOptions& options = {});

/// The canonical JSON text whose SHA-256 is the cell's identity (for `merx plan --explain`, debugging).
std::string cell_identity_document(const Plan& plan, const Cell& cell);
/// Same for a group identity.
std::string group_identity_document(const Plan& plan, const Group& group);

/// The plan as JSON (`merx plan --format json`): name, spec_file, spec_hash, output, plugin_paths,
/// protocol, datasets, seeds, points, folds, groups, cells (cell_seed as an unsigned 64-bit number),
/// summary, warnings. docs/spec.md shows an excerpt.
json plan_to_json(const Plan& plan);

/// A few human lines: "3 folds x 4 sweep points x 2 seeds = 24 cells" and the per-fold / per-point counts.
std::string plan_summary_text(const Plan& plan);

}  // namespace merx
