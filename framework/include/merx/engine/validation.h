// The `source_val` validation split (methods.md §3): per source dataset, a seeded, subject-disjoint ~20 % of
// its training clips held out for model selection, with every class present where possible. Torch-free.
//
// Per source d with n_d clips (its subjects shuffled with a generator seeded from (seed, d)):
//   target   t_d = max(1, round(fraction * n_d)) clips.
//   coverage for each class of d, rarest first (ties: class index): when no validation subject has it yet,
//            move the subject with the fewest clips that has it (ties: shuffled order) — only if every class
//            still keeps a clip in training, at least one subject of d stays in training, and the held-out
//            count stays <= 2 t_d (coverage may not turn ~20 % into half of a small source).
//   fill     go through the remaining subjects in shuffled order while the count is below t_d: move a
//            subject when that brings the count closer to t_d (same two conditions).
// A source with a single subject gives no validation clips (a subject-disjoint split would leave it nothing
// to train on); classes that could not be covered are listed. The record is stored with the cell
// (CellResult::validation_split).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace merx::engine {

/// One training clip as the split sees it.
struct SplitItem {
  std::string key;      // sample key
  std::string source;   // source dataset name
  std::string subject;  // global subject id ("dataset/subject")
  int64_t label = 0;    // class index in [0, K)
};

struct ValidationSplit {
  std::vector<size_t> validation;  // positions into the items, ascending
  /// {"method": "source_val", "fraction", "seed", "sources": {name: {"clips", "validation_clips",
  ///   "subjects": [held-out global subjects], "classes_missing": [class names absent from validation],
  ///   "note"?}}, "samples": [keys, ascending position order]}
  nlohmann::json record;
};

/// Splits `items` as described at the top. `classes` names the class indices (for the record).
/// Throws std::invalid_argument when fraction is not in (0, 1) or a label is outside [0, K).
ValidationSplit source_val_split(const std::vector<SplitItem>& items, const std::vector<std::string>& classes,
                                 double fraction, uint64_t seed);

}  // namespace merx::engine
