// Which samples each fold trains and tests on: the ONE place that decides it for every protocol (lodo, hde,
// loso, kfold_subject), used by `merx validate` / `merx plan` (class counts per fold) and by the engine
// (the samples it trains and evaluates). Torch-free.
//
// Two steps:
//   1. load_samples(plan, point): every dataset of the plan loaded through the dataset layer with the sweep
//      point's labels (mapping, membership list, unmapped policy) -> LabelledSamples, whose `classes` fix
//      the class indices of the whole group (the same list for every fold).
//   2. fold_samples(plan, fold, samples): the fold's train and test samples, each with its class index.
//
// Rules (methods.md §1; docs/spec.md "protocol"):
//   lodo, hde      train = every sample of the datasets in Fold::train; test = every sample of Fold::test.
//   loso           test = the samples whose global subject is Fold::subject; train = every other sample.
//   kfold_subject  global subjects are dealt to k folds by kfold_subject_assignment (below); fold "k<i>"
//                  tests on the subjects dealt to i and trains on all the others.
// Samples without a class (native labels, empty emotion cell) take part in no fold; they are listed in
// LabelledSamples::unlabelled. Samples of a counterfactual twin (DatasetSpec::counterfactual_of) are never
// trained or tested on: a fold pairs them with its test samples of the twin's original instead
// (FoldSplit::counterfactual, docs/engine.md "Counterfactual twins"). Order inside train and test:
// plan.datasets order, then the dataset's sample order (sheet order) — deterministic, so batch order depends
// only on the cell seed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "merx/datasets/load.h"
#include "merx/spec/plan.h"

namespace merx {

/// The dataset layer's view of a spec dataset (name, adapter, root, annotation file and its SHA-256, options):
/// what every command that loads a spec's datasets hands to load_dataset.
DatasetSource dataset_source(const DatasetSpec& d);

/// How load_samples reads the datasets.
struct SampleLoadOptions {
  LoadMode mode = LoadMode::Strict;  // strict: any clip problem throws DatasetError; lenient: dropped
  /// true: full load (frame folders listed and validated, SampleRecord::frames filled; what training
  /// needs). false: annotation sheets only — no frame folder is opened (SampleRecord::frames empty), as
  /// `merx validate` / `merx plan` need for class counts on a machine without the frames.
  bool frames = true;
};

/// Every dataset of a plan under one sweep point's labels.
struct LabelledSamples {
  /// Class names; a sample's class index is its position here. labels megc3: negative, positive, surprise;
  /// custom: the distinct map values, sorted; native: the distinct labels of all loaded samples, sorted
  /// (byte order). Classes with no sample are kept (they are the undefined classes of metrics.h).
  std::vector<std::string> classes;
  std::vector<LoadResult> datasets;     // one per plan.datasets entry, same order
  std::vector<std::string> unlabelled;  // keys of loaded samples with no class (in no fold)
  /// Counterfactual twins among `datasets`: twin name -> the dataset it is the twin of (from the plan).
  std::map<std::string, std::string> twins;

  /// Class index of `name`, or -1 when it is not a class.
  int class_index(const std::string& name) const;
};

/// Loads every dataset of `plan` with the labels of `point` (LabelSettings: mapping, membership file,
/// unmapped). Throws UserError (unreadable file, bad option, unreadable membership list), DatasetError
/// (strict mode: every clip problem), ValidationError (a membership label that is not a class of a
/// megc3/custom mapping, naming the file and line).
LabelledSamples load_samples(const Plan& plan, const SweepPoint& point, const SampleLoadOptions& options = {});

/// As load_samples for datasets already loaded by the caller (one LoadResult per plan.datasets entry, in
/// that order, loaded with `labels`' mapping and membership). Throws std::invalid_argument when the count
/// or names do not match plan.datasets; ValidationError as load_samples.
LabelledSamples label_samples(const Plan& plan, const LabelSettings& labels, std::vector<LoadResult> datasets);

/// One sample of a fold.
struct FoldSample {
  const SampleRecord* sample = nullptr;  // points into LabelledSamples::datasets (valid while it lives)
  int class_index = 0;                   // into LabelledSamples::classes (= index of *sample->label)
};

/// A test sample of a dataset with a counterfactual twin, and the twin's clip of the same subject and clip
/// name (and occurrence): key "<original>/<subject>/<clip>" <-> "<twin>/<subject>/<clip>".
struct TwinPair {
  const SampleRecord* original = nullptr;  // one of FoldSplit::test
  FoldSample twin;                         // class index from the twin's own label
};

/// The train/test split of one fold.
struct FoldSplit {
  std::string fold;                      // Fold::id
  std::vector<FoldSample> train, test;   // disjoint; see the ordering rule above
  std::vector<int64_t> train_counts;     // [K] samples per class in train (K = classes.size())
  std::vector<int64_t> test_counts;      // [K] samples per class in test
  std::vector<std::string> train_subjects, test_subjects;  // distinct global subjects, sorted
  /// Every test sample whose dataset has a counterfactual twin, paired with the twin's clip, in test order.
  std::vector<TwinPair> counterfactual;
  /// Keys that found no partner: test samples of a twinned dataset without a labelled twin clip, then
  /// labelled twin clips of a subject the fold tests on without a test sample (key order within each).
  std::vector<std::string> counterfactual_unmatched;
};

/// The split of `fold` (a fold of `plan`). Throws std::invalid_argument when the fold is not one of the
/// plan's or `samples` does not match the plan's datasets. A fold may come out with an empty train or test
/// side (e.g. a loso subject whose every clip the label mapping drops; kfold_subject with fewer subjects
/// than k): callers decide (validate warns; a cell cannot be trained or evaluated on nothing).
FoldSplit fold_samples(const Plan& plan, const Fold& fold, const LabelledSamples& samples);

/// Every fold of the plan, in plan.folds order.
std::vector<FoldSplit> fold_samples(const Plan& plan, const LabelledSamples& samples);

/// kfold_subject: the fold index in [0, k) of every global subject that has at least one labelled sample.
/// Deterministic from the sample list alone (no seed): subjects sorted by their number of labelled samples,
/// most first (ties: global subject id, byte order), each dealt to the fold with the fewest samples so far
/// (ties: the lowest fold index) — greedy longest-processing-time balancing, so fold sizes differ by at
/// most the largest subject's count. Throws std::invalid_argument when k < 1.
std::map<std::string, int64_t> kfold_subject_assignment(const LabelledSamples& samples, int64_t k);

}  // namespace merx
