// Paired comparison of methods on a results database (`merx db compare`, issue 7). Torch-free.
//
// Selectors name one side of a comparison: comma-separated conditions KEY=VALUE that a group must all meet,
//   experiment=NAME   the spec's experiment name
//   variant=NAME      the sweep point's variant name
//   backbone=NAME | regularizer=NAME | augmenter=NAME   plugin names as the cells recorded them
//   point=N           sweep point index (0-based)
//   PARAM=VALUE       any other key: the sweep point's assignment (e.g. training.lr=0.001, brl.lambda_js=0);
//                     VALUE is compared as JSON when it parses (1e-3 == 0.001), else as a string
// and a bare word W (no '=') means variant=W or experiment=W. Examples: `regularizer=brl`,
// `erm`, `experiment=sweep,regularizer=brl,brl.lambda_js=0`.
//
// What is compared: for each group (sweep point x seed value) whose cells are all done (oracle-selected cells
// excluded), the metric at scope Target (one value per target dataset the group was tested on; a loso group
// over one dataset has one target). A side's value for the unit (target, seed value) comes from its single
// matching group; when a side matches several sweep points of one method, the point chosen for that target
// by source-validation (merx/leaderboard/leaderboard.h, selected rows) is used, so no hyperparameter is
// chosen on the test data. Units present on one side only are counted and left out.
// Pairing is valid because every method of a spec (and of specs with the same seed list) runs the same seed
// values on the same targets. It is refused (UserError) when the two sides' groups differ in protocol or
// dataset list, or one side spans several of them.
// Tests: merx/stats/stats.h (paired t with its interval, Wilcoxon signed-rank; Holm over the comparisons
// when there are several). The paired unit (issue 16) is by default the SEED: per seed value, the mean of
// the metric over the targets (the headline of lodo / hde), A and B; n = the seeds measured on every target
// by both sides. Seeds are the replicates the experimenter controls; the (target, seed) pairs of the old unit
// (Unit::TargetSeed, `--unit target_seed`) are not independent (targets share the training sources, seeds
// share the data) and are labelled so. Beside the tests, a paired subject-clustered bootstrap over the
// stored per-sample predictions (bootstrap.h below) says how much the difference depends on which test
// subjects happen to be in the targets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "merx/leaderboard/leaderboard.h"
#include "merx/stats/stats.h"
#include "merx/store/store.h"

namespace merx::compare {

/// A parsed selector. UserError for an empty selector, an empty key or value, or a key given twice.
struct Selector {
  std::string text;                                        // as the user wrote it
  std::vector<std::pair<std::string, std::string>> terms;  // (key, value); key "" = bare word
  static Selector parse(const std::string& text);
};

/// The paired unit of the tests.
enum class Unit {
  Seed,        // per seed value: the mean over the targets (default)
  TargetSeed,  // per (target, seed value): more pairs, not independent (descriptive only)
};

struct Options {
  std::optional<std::string> experiment;  // only groups of experiments with this name
  leaderboard::Metric metric = leaderboard::Metric::UF1;
  double confidence = 0.95;  // of the paired-t interval and of the bootstrap's percentile interval
  Unit unit = Unit::Seed;
  int64_t bootstrap = 2000;     // subject-clustered bootstrap resamples; 0 = none
  uint64_t bootstrap_seed = 0;  // the resampling generator's seed (results are deterministic given it)
  bool family = false;          // set by compare_family (the comparisons are the declared family)
};

/// One seed value measured on both sides: the metric's mean over the `targets` targets.
struct SeedPair {
  int64_t seed = 0;
  double a = 0, b = 0;
  std::size_t targets = 0;
};

/// The paired subject-clustered bootstrap of A - B on the same test clips: each resample draws, within every
/// target dataset, as many test subjects as it has, with replacement (a subject brings all its clips), and
/// recomputes the metric per target from the stored predictions of A and of B on those same clips; the
/// difference is the mean over targets, averaged over the paired seeds. Percentile interval at
/// Options::confidence; `share_not_positive` = share of resamples with A - B <= 0 (a one-sided bootstrap
/// p-value for "A better"). Subjects = the part 'dataset/subject' of the sample keys.
struct Bootstrap {
  int64_t resamples = 0;
  std::size_t subjects = 0, clips = 0;  // over all targets
  std::size_t clips_left_out = 0;       // test clips some run did not predict (not resampled)
  double observed = 0;                  // A - B on the clips as stored (no resampling)
  double mean = 0, ci_low = 0, ci_high = 0, share_not_positive = 0;
  std::string reason;                   // non-empty: not computed (e.g. no stored predictions)
};

/// One (target, seed value) unit measured on both sides.
struct Pair {
  std::string target;
  int64_t seed = 0;
  double a = 0, b = 0;  // metric values (e.g. UF1 in [0, 1])
};

struct Comparison {
  std::string a, b;                               // selector texts
  std::vector<std::string> a_methods, b_methods;  // method labels matched (leaderboard::MethodKey::label)
  std::string protocol;
  std::vector<std::string> datasets;
  std::vector<Pair> pairs;             // sorted by target, then seed (every unit measured on both sides)
  Unit unit = Unit::Seed;              // of the tests below
  std::vector<SeedPair> seed_pairs;    // Unit::Seed: the seeds measured on every target by both sides
  std::optional<Bootstrap> bootstrap;  // Options::bootstrap > 0
  std::size_t only_a = 0, only_b = 0;  // units present on one side only (left out)
  stats::PairedT t;           // over seed_pairs (Unit::Seed) or pairs (Unit::TargetSeed)
  stats::Wilcoxon wilcoxon;
  std::optional<double> t_p_holm, wilcoxon_p_holm;  // set when several comparisons were asked at once
  std::vector<std::string> notes;                   // which sweep points were selected, left-out units, ...
};

/// Compares sides[0] with sides[1] (baseline empty, exactly two sides), or every side with `baseline`
/// (Holm over them when more than one). UserError: bad selector, a selector matching no finished group,
/// pairing refused (protocol / dataset list), a side with two groups for one unit, no common unit.
/// When an experiment the groups come from declares comparisons (a Family), each comparison gets a note
/// saying whether it is one of them or post hoc.
std::vector<Comparison> compare(const Store& store, const std::vector<std::string>& sides,
                                const std::optional<std::string>& baseline, const Options& options);

/// The same for any list of (A, B) selector pairs (A - B each), Holm over all of them when more than one.
/// UserError as compare(), and for an empty list.
std::vector<Comparison> compare_pairs(const Store& store,
                                      const std::vector<std::pair<std::string, std::string>>& pairs,
                                      const Options& options);

/// The Holm family a spec declares (issue 16): its top-level `comparisons`, [{"a": SEL, "b": SEL}, ...]
/// (docs/spec.md), as stored with the experiment. Declaring them before the runs fixes the family, so that
/// the correction covers every comparison the study makes, not the ones chosen after seeing results.
struct Family {
  std::string experiment;
  std::vector<std::pair<std::string, std::string>> comparisons;  // (A, B) in spec order
};

/// One Family per experiment name whose newest stored spec declares comparisons (sorted by name).
std::vector<Family> declared_families(const Store& store);

/// `merx db compare --family`: every comparison the family of Options::experiment declares (or of the only
/// experiment that declares one), Holm over the whole family, groups of that experiment only.
/// UserError: no experiment declares comparisons, the named one does not, several do and none is named.
std::vector<Comparison> compare_family(const Store& store, const Options& options);

/// Human-readable report: per comparison the pairs, the mean difference with its interval, both tests (and
/// Holm-adjusted p-values), and the note that seeds x targets are not independent samples.
std::string render_text(const std::vector<Comparison>& comparisons, const Options& options);

/// The same as JSON ({"comparisons": [...]}, numbers unrounded, undefined values null).
nlohmann::json to_json(const std::vector<Comparison>& comparisons, const Options& options);

}  // namespace merx::compare
