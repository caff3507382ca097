// Internal interfaces between the files of framework/spec/ (not installed, not for other parts).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "merx/spec/params_check.h"
#include "merx/spec/plan.h"
#include "spec/check.h"
#include "spec/json_path.h"

namespace merx::spec_internal {

namespace fs = std::filesystem;

/// Top-level sections a sweep (variant or grid key) may change. Everything else is shared by all points.
const std::vector<std::string>& sweepable_fields();
/// Every top-level field of a spec.
const std::vector<std::string>& spec_fields();

/// A relative path resolved against the spec folder (absolute paths stay), normalised.
fs::path resolve_path(const fs::path& base_dir, const std::string& p);

// ---- the parts every sweep point shares (sections.cpp) ----

struct GridAxis {
  std::string key;   // as written in sweep.grid
  std::string path;  // formatted (canonical) form of the key
  JsonPath segments;
  std::vector<json> values;
};

struct VariantDef {
  size_t index = 0;  // in sweep.variants
  std::string name;
  json patch;  // the variant minus `name` and minus keys a variant may not change
};

struct SweepDef {
  std::vector<GridAxis> grid;        // valid axes only
  std::vector<VariantDef> variants;  // valid variants only
  bool has_variants = false;
  int64_t random_count = 0;  // 0 = no random search
  int64_t random_seed = 0;
  std::vector<std::string> random_training;  // training settings drawn too (sweep.random.training)
};

std::string check_name(const json& doc, Findings& out);
std::vector<DatasetSpec> check_datasets(const json& doc, const fs::path& base_dir, bool& ok, Findings& out);
/// `counterfactual_of` of every entry of `datasets` (an array): a string naming another entry, not itself,
/// not a twin, and each original twinned at most once. Called by check_datasets.
void check_twins(const json& datasets, Findings& out);
/// `names`: the string names written in `datasets` (valid entries or not); `dataset_count`: entries listed;
/// `twins`: twin name -> the name its `counterfactual_of` gives (string values only). Twins are no domains:
/// not counted for min_datasets, not default lodo targets, refused as lodo targets and hde sources/targets.
std::optional<ProtocolSpec> check_protocol(const json& doc, const std::vector<std::string>& names,
                                           size_t dataset_count,
                                           const std::map<std::string, std::string>& twins, Findings& out);
std::vector<int64_t> check_seeds(const json& doc, Findings& out);
fs::path check_output(const json& doc, const fs::path& base_dir, Findings& out);
std::vector<fs::path> check_plugin_paths(const json& doc, const fs::path& base_dir, Findings& out);
/// `save_models`: a boolean, default true.
bool check_save_models(const json& doc, Findings& out);
SweepDef check_sweep(const json& doc, Findings& out);
/// The spec's `comparisons` (the declared Holm family, merx/compare/compare.h Family): (A, B) selector
/// texts. Bare-word terms must name a variant of `sweep` or the experiment `name`.
std::vector<std::pair<std::string, std::string>> check_comparisons(const json& doc, const SweepDef& sweep,
                                                                   const std::string& name, Findings& out);

// ---- one sweep point (point.cpp) ----

struct PointContext {
  const PluginCatalog& catalog;
  fs::path base_dir;
  std::map<std::string, std::string> sha_cache;  // membership file -> SHA-256
  size_t min_train_datasets = 0;                 // over all folds (0 = folds unknown)
  std::string min_train_fold;
  std::vector<std::pair<std::string, std::string>> adapters;  // (dataset name, adapter) of valid datasets
};

/// Validates the sweepable sections of one point's document; fills `point` (everything except index,
/// variant, assignments, draws). Returns false when a finding was added.
bool check_point(const json& point_doc, PointContext& ctx, SweepPoint& point, Findings& out);

// ---- random search (random.cpp) ----

/// One DomainBed-style draw for parameter `decl` of plugin (kind, name), draw number `draw` of a search
/// seeded with `search_seed`. Portable: std::mt19937_64 seeded from merx::hash64, mapped to [0, 1) with
/// 53 bits by hand (std:: distributions differ between standard libraries).
json draw_param(const ParamDecl& decl, PluginKind kind, const std::string& plugin, int64_t search_seed,
                int64_t draw);
/// The same for a non-plugin owner: `owner` is "training" (sweep.random.training), `plugin` empty.
json draw_param(const ParamDecl& decl, const std::string& owner, const std::string& plugin, int64_t search_seed,
                int64_t draw);

}  // namespace merx::spec_internal
