// Leaderboards that cannot cheat (issue 7; docs/database.md "Leaderboards"). Torch-free.
//
// Rules:
//   * One Table per (protocol, dataset list): runs of different protocols or dataset lists never share a
//     table. Groups = (sweep point, seed value) runs whose cells are all done and whose group metrics exist
//     (metrics::update_group_metrics); unfinished groups are only counted in Table::notes.
//   * Columns follow the protocol's headline (metrics::headline): lodo/hde: one column per target dataset
//     (Target-scope metric) plus "mean" (unweighted mean over targets, per seed, then over seeds);
//     loso/kfold_subject (and unknown protocols): "pooled" (all folds' predictions concatenated).
//   * A method is (backbone, regularizer, augmenter, variant name) — plugin names as the cells recorded
//     them. Its sweep points (groups.point_hash) are the hyperparameter settings it was run with.
//   * Selected rows: per method and column target (lodo/hde: per target; pooled protocols: the whole group)
//     the sweep point with the highest SOURCE-VALIDATION score averaged over seeds — DomainBed's
//     training-domain validation (Gulrajani & Lopez-Paz, ICLR 2021). A cell's score is its selection
//     curve ("source_val_uf1", else "loo_source_uf1") at its chosen_epoch; a group's score for a target is
//     the mean over its cells tested on that target. Ties: lowest point index. A method with several sweep
//     points and no score (training.selection = "last") gets no selected row (a note says so); a method
//     with one sweep point is its own selection. The "mean" column of a selected row averages, per seed,
//     the selected point of each target.
//   * Cells selected with "oracle" (test-set model selection) never enter the default tables; they form
//     separate tables with Table::oracle = true (Options::oracle).
//   * Every value = mean over seeds ± standard error (sample SD with n-1 / sqrt(n); undefined for n < 2),
//     with n; a row with n < 3 seeds in some column has few_seeds set.
//   * best marks, per column, the selected row(s) with the highest mean (ties all marked); nothing else.
//   * Reference rows from the target's class counts and the training class counts (analytic, no seeds):
//     "majority" (always the majority training class) and "random" (class drawn at random with the training
//     class priors, expected value). Formulas: reference_values() below.
//   * Optional bootstrap 95 % percentile interval of a selected value: the target's clips resampled with
//     replacement within each true class (stratified), the same resample applied to every seed's stored
//     predictions, the metric averaged over seeds; seeded, so repeatable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "merx/store/store.h"

namespace merx::leaderboard {

enum class Metric { UF1, UAR, Accuracy };
/// "uf1" | "uar" | "acc" (also "accuracy"); UserError otherwise.
Metric parse_metric(const std::string& name);
const char* to_string(Metric m);  // "uf1", "uar", "acc"
/// A comma list of metric names ("uf1,uar"), in the given order; UserError for an unknown or repeated name.
std::vector<Metric> parse_metrics(const std::string& list);

struct Options {
  std::optional<std::string> experiment;  // only groups of experiments with this name; nullopt = all
  Metric metric = Metric::UF1;
  /// Several metrics side by side in one table (e.g. {UF1, UAR}); empty = {metric}. Every metric of a
  /// method and column shows the same selected sweep point: selection is by source-validation UF1 whatever
  /// the metric.
  std::vector<Metric> metrics;
  bool oracle = false;          // true: ALSO build the oracle tables (cells with selection = "oracle")
  int bootstrap = 0;            // resamples for the 95 % interval; 0 = none (>= 100 recommended)
  uint64_t bootstrap_seed = 0;  // seed of the resampling (the same seed gives the same interval)
  /// Which data version of each (protocol, datasets) block to show; groups of different versions are never
  /// pooled (docs/database.md "Data versions"). "" = the current one: current_data_version when it has
  /// finished groups, else the newest (highest group id) with finished groups; "all" = every version, each
  /// its own table; otherwise a version or a prefix of one (UserError when no group has it).
  std::string data_version;
  std::string current_data_version;  // Plan::data_version of the spec being run (merx run); "" = unknown
};

/// (backbone, regularizer, augmenter, variant): what the leaderboard ranks.
struct MethodKey {
  std::string backbone, regularizer, augmenter, variant;  // variant "" = spec without variants
  /// Display name: the variant's spec `label` (sweep.variants[].label of the experiment's newest stored
  /// spec_json), "" = none. Not part of the identity: ordering, equality, selection and bootstrap seeds
  /// ignore it, so relabelling changes no value.
  std::string variant_label;
  std::string identity() const;  // "ststnet + brl + none [variant]" (no brackets without a variant)
  std::string label() const;     // variant_label when set, else identity(): what every table shows
  bool operator<(const MethodKey& o) const;  // rows order: per backbone, ERM (none + none) first, then by name
  bool operator==(const MethodKey& o) const;
};

/// One sweep point of a method.
struct PointRef {
  int64_t point_index = 0;     // position in its spec's sweep (0-based)
  std::string point_hash;      // groups.point_hash
  nlohmann::json assignments;  // {"param.path": value} (grid + random draws); {} without a sweep
  std::string label() const;   // "#1 lr=0.01" / "#0" (assignments compact, keys sorted)
};

/// One table cell: mean over seeds ± standard error.
struct Estimate {
  std::optional<double> mean;             // nullopt: no seed had a defined value
  std::optional<double> se;               // sample SD / sqrt(n); nullopt for n < 2
  int n = 0;                              // seeds with a defined value
  std::optional<double> ci_low, ci_high;  // bootstrap 95 % interval (Options::bootstrap > 0)
  /// Best selected value of its column AND significantly above the runner-up (the next lower mean): paired t
  /// over the seeds both measured, p < 0.05 (issue 16: no bold "best" that chance could explain). A table with
  /// one selected row marks it best.
  bool best = false;
  /// Highest mean of its column, but not significantly above the runner-up (p >= 0.05, fewer than 2 paired
  /// seeds, or a tie): rendered without bold, with "‡".
  bool best_unconfirmed = false;
  std::optional<double> best_p;  // the paired t p-value against the runner-up (best or best_unconfirmed)
  std::map<int64_t, double> by_seed;  // the defined value of each seed (what mean and se are over)
  /// Selected rows: the sweep point chosen for this column and its score (mean source-val UF1 over
  /// seeds). "mean" column of lodo/hde: empty point (several). All-points rows: the row's own point.
  std::optional<PointRef> point;
  std::optional<double> selection_score;
};

struct Row {
  MethodKey method;
  std::optional<PointRef> point;  // all-points rows: the point; selected rows: nullopt (per column)
  std::vector<Estimate> values;   // one per (column, metric): values[Table::value_index(c, m)]
  bool few_seeds = false;         // some column has n < 3
};

/// An analytic reference row: one value per column (nullopt when it cannot be computed, e.g. the
/// training class counts are unknown).
struct ReferenceRow {
  std::string name;  // "majority class" | "random (training priors)"
  std::vector<std::optional<double>> values;  // like Row::values: per (column, metric)
};

struct Table {
  std::string protocol;               // "lodo", "loso", ...
  nlohmann::json protocol_params;     // the spec's protocol.params when not empty (e.g. {"k": 5}), else null
  std::vector<std::string> datasets;  // the runs' dataset list (spec order)
  std::vector<std::string> experiments;  // names of the experiments contributing, sorted
  std::string data_version;              // groups.data_version of every group in the table; "" = not recorded
  bool oracle = false;                   // oracle-selected cells only (never in the default view)
  Metric metric = Metric::UF1;           // the first of metrics
  std::vector<Metric> metrics;           // the metrics side by side; empty (hand-built tables) = {metric}
  std::vector<std::string> columns;      // target names then "mean" (lodo/hde), or "pooled"
  std::vector<Row> selected;             // one per method with a selection, sorted by method
  std::vector<Row> all_points;           // one per (method, sweep point), sorted by method then point index
  std::vector<ReferenceRow> references;  // majority, random
  std::vector<std::string> notes;        // unfinished groups, unselectable methods, ...
  std::string datasets_json() const;     // datasets as a JSON array text
  std::vector<Metric> shown_metrics() const;  // metrics, or {metric} when empty
  /// Position of (column c, metric number m) in Row::values and ReferenceRow::values: column-major,
  /// c * shown_metrics().size() + m (one metric: c).
  size_t value_index(size_t column, size_t metric_number) const;
};

struct Leaderboard {
  std::vector<Table> tables;  // sorted by (oracle, protocol, datasets)
};

/// Display labels of sweep variants: experiment name -> variant name -> `label` (docs/spec.md "Sweeps"), read
/// from experiments.spec_json (the database has no label column). Per name the NEWEST experiment row wins:
/// a relabelled spec that is run again is stored as a new row while its groups stay on the row that first
/// wrote them. Variants without a label are absent.
using VariantLabels = std::map<std::string, std::map<std::string, std::string>>;
VariantLabels variant_labels(const Store& store);

/// Reads the store (any mode) and builds the tables. Cost: a handful of indexed queries over the groups
/// and cells plus, with bootstrap, the predictions of the selected groups. Throws StoreError / UserError as
/// the Store does.
Leaderboard build(const Store& store, const Options& options);

/// Reference values of one evaluation set (methods: docs/database.md "Reference rows").
/// `test[c]` = the set's clips of true class c; `train[c]` = training clips of class c, same class order.
/// Returns {uf1, uar, accuracy} of predicting always argmax(train) (first on ties) — exact, via
/// metrics::Confusion — or, for random = true, the value obtained from the expected confusion matrix
/// E[C_tp] = test[t] * q_p, q = train / sum(train):
///   UAR = mean over classes with test[c] > 0 of q_c                  (exact expectation)
///   Acc = sum_c p_c q_c, p = test / sum(test)                         (exact expectation)
///   UF1 = mean over defined classes of 2 p_c q_c / (p_c + q_c)       (ratio of expectations; the limit of
///         E[UF1] as the set grows; class c is defined when p_c + q_c > 0, as in metrics.h)
/// Several folds (pooled protocols): pass one (test, train) pair per fold; the confusion matrices are
/// summed (majority: per fold argmax; random: expected counts). Empty optional = undefined (no clips).
struct ReferenceValues {
  std::optional<double> uf1, uar, accuracy;
};
ReferenceValues reference_values(
    const std::vector<std::pair<std::vector<double>, std::vector<double>>>& folds, bool random);

enum class Format { Table, Markdown, Csv, Latex, Json };
/// "table" | "md" | "csv" | "latex" | "json"; UserError otherwise.
Format parse_format(const std::string& name);

/// How values are printed. decimals: digits after the point of every value in table, md and latex output
/// (means, standard errors, intervals, selection scores, reference rows); csv and json stay unrounded.
inline constexpr int kMaxDecimals = 10;
struct RenderOptions {
  int decimals = 4;  // 0 .. kMaxDecimals; render() throws UserError otherwise
};

/// Renders every table: selected rows, references, then the "all sweep points" table. Values with
/// RenderOptions::decimals (default 4) in table/md ("0.6123 ± 0.0123 (n=3) [low, high]") and latex; csv has
/// one line per value with mean, se, n, interval unrounded (%.17g) in separate columns; rows with fewer than
/// 3 seeds marked with "†", best values bold (md **x**, latex \textbf{x}, table *x*) when significantly above
/// the runner-up, else marked "‡" (Estimate::best_unconfirmed). LaTeX: one booktabs `table` environment per
/// leaderboard table (needs \usepackage{booktabs}). JSON: the structure above ({"tables": [...]}), numbers
/// unrounded.
std::string render(const Leaderboard& lb, Format format, const RenderOptions& options = {});

}  // namespace merx::leaderboard
