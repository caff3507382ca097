// MEGC2019 classification metrics over a list of (true, predicted) class indices: UF1, UAR, accuracy,
// per-class precision/recall/F1/support and the confusion matrix, with the undefined-class policy of
// docs/methods.md §2, and the pooling of a group's folds (the MEGC way).
//
// Definitions (methods.md §2; MEGC2019, See et al., FG 2019): per class c, TP_c, FP_c, FN_c, support
// n_c = TP_c + FN_c, predictions p_c = TP_c + FP_c.
//   F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c); UF1 = mean of F1_c over the DEFINED classes, where a class with
//   n_c = 0 and p_c = 0 is undefined (excluded) and n_c = 0 with p_c > 0 counts with F1_c = 0.
//   Recall_c = TP_c / n_c; UAR = mean of Recall_c over the classes with n_c > 0.
//   Precision_c = TP_c / p_c (undefined when p_c = 0; reported per class, never averaged).
//   Accuracy (WAR) = sum TP_c / N.
// These equal scikit-learn's f1_score / recall_score(average="macro", labels=<the defined classes>)
// (tests/metrics/sklearn_cases.py checks 1e-12 agreement).
// A value that cannot be computed (no sample at all; a class with no samples / no predictions) is nullopt
// with a reason, never 0 or NaN.
//
// Torch-free; pure functions; thread-safe (update_group_metrics: one Store per thread, as store.h says).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "merx/store/store.h"

namespace merx::metrics {

/// Counts of one evaluation: counts[t][p] = samples of true class t predicted as p. Shape [K, K] with
/// K = classes.size() (K >= 1, names distinct and non-empty).
struct Confusion {
  std::vector<std::string> classes;          // class names; index = class index
  std::vector<std::vector<int64_t>> counts;  // [K][K], row = true class, column = predicted class

  /// Zero counts for `classes`. Throws std::invalid_argument when classes is empty, has an empty or a
  /// repeated name.
  static Confusion empty(const std::vector<std::string>& classes);
  /// Counts from parallel lists of class indices. Throws std::invalid_argument when the lists differ in
  /// length, an index is outside [0, K), or `classes` is invalid (as empty()).
  static Confusion from(const std::vector<std::string>& classes, const std::vector<int>& y_true,
                        const std::vector<int>& y_pred);
  /// Adds one sample (std::invalid_argument for an index outside [0, K)).
  void add(int true_class, int predicted_class, int64_t n = 1);
  int64_t total() const;                          // N = sum of all counts
  int64_t support(size_t c) const;                // n_c = row sum
  int64_t predicted(size_t c) const;              // p_c = column sum
  Confusion& operator+=(const Confusion& other);  // same classes in the same order (std::invalid_argument)
  bool operator==(const Confusion& o) const { return classes == o.classes && counts == o.counts; }
};

/// Whole-set and per-class metric rows of one evaluation, for the store, in this order:
///   "uf1", "uar", "accuracy" (class_name nullopt; support = N; n_classes_defined = classes the average
///     counted: UF1 the defined classes, UAR and accuracy the classes with n_c > 0);
///   then for every class of c.classes in order (class_name set; support = n_c; n_classes_defined = 0):
///     "precision", "recall", "f1" — undefined ones nullopt with the reason ("no predictions of this
///     class", "no samples of this class", "no samples and no predictions of this class").
/// With N = 0 the whole-set values are nullopt ("no samples evaluated").
/// `scope` and `target` are copied into every row (target required for Target scope, as store.h says).
/// Every class gets its per-class rows, defined or not: that is how update_group_metrics recovers a cell's
/// class list from the store (see below).
std::vector<MetricRow> metric_rows(const Confusion& c, MetricScope scope, const std::string& target = "");

/// The non-zero confusion entries (row-major: true class, then predicted class, in class order).
std::vector<ConfusionEntry> confusion_entries(const Confusion& c, MetricScope scope,
                                              const std::string& target = "");

/// Convenience values (nullopt when undefined, as in metric_rows).
std::optional<double> uf1(const Confusion& c);
std::optional<double> uar(const Confusion& c);
std::optional<double> accuracy(const Confusion& c);

/// One finished fold of a group.
struct FoldEvaluation {
  std::string fold_id;
  /// The dataset the fold was tested on (lodo/hde: the target; loso: the subject's dataset). A fold that
  /// tests on several datasets (kfold_subject) names them joined by '+' and gives `per_target`.
  std::string target;
  Confusion confusion;  // all of the fold's test predictions
  /// Optional split of `confusion` by test dataset (sums to it): used for the Target scope instead of
  /// `target` when not empty.
  std::vector<std::pair<std::string, Confusion>> per_target;
};

/// A group's own metrics once all its folds are done (methods.md §2), in this order:
///   scope Pooled: metric_rows of the sum of all folds' confusions (the MEGC figure: "uf1", "uar", ...);
///     then "uf1_fold_mean" / "uar_fold_mean": unweighted mean over folds of each fold's UF1 / UAR, folds
///     where it is undefined skipped (n_classes_defined = folds counted, support = N);
///     then "uf1_target_mean" / "uar_target_mean": unweighted mean over targets of the Target-scope UF1 /
///     UAR (n_classes_defined = targets counted, support = N) — the headline of lodo and hde;
///   scope Target, for every target in order of first appearance: metric_rows of the sum of the folds (or
///     per_target parts) tested on it;
///   confusion entries at Pooled, then Target scope.
/// Throws std::invalid_argument when `folds` is empty, the folds' class lists differ, a fold has no
/// target, or per_target does not sum to the fold's confusion.
GroupMetrics group_metrics(const std::vector<FoldEvaluation>& folds);

/// Which group rows are a protocol's headline figure (docs/methods.md §2, "Headline figure"):
///   loso, kfold_subject  scope Pooled, "uf1" / "uar" (predictions of all folds concatenated: MEGC2019);
///   lodo, hde            scope Pooled, "uf1_target_mean" / "uar_target_mean" (the unweighted mean over
///                        targets), reported next to each target's Target-scope "uf1" / "uar".
/// Any other protocol name: pooled, as loso.
struct Headline {
  std::string uf1, uar;  // metric names at scope Pooled
  bool per_target = false;  // true: the per-target rows are part of the headline
};
Headline headline(const std::string& protocol);

/// Recomputes a group's metrics from what its cells stored and writes them with Store::write_group_metrics,
/// when every cell of the group is done. Returns true when it wrote; false when the group has no cell or
/// some cell is not done (nothing written; rows of an earlier computation stay). Called by the engine after
/// each finished cell and by `merx db recompute`.
///
/// What it reads, per cell (the convention the engine writes by):
///   - the class list: the classes of the cell's Fold-scope per-class "f1" rows in insertion order, i.e.
///     metric_rows(confusion, MetricScope::Fold) written as is (every class has its rows);
///   - the confusion: the cell's Fold-scope confusion entries (confusion_entries(..., Fold));
///   - the target: CellKey::target; when it names several datasets ('+'), the per-target split comes from
///     the cell's predictions (dataset = Prediction::sample_key up to its first '/').
/// Throws std::invalid_argument (naming the cell) when a done cell lacks per-class rows, its confusion
/// names a class outside its list, the cells' class lists differ, or a multi-target cell's predictions do
/// not match its confusion; StoreError / UserError as the Store does.
bool update_group_metrics(Store& store, int64_t group_id);

}  // namespace merx::metrics
