// The inputs of a run, built once and shared by all its cells: every dataset of the plan loaded (with
// frames) once per distinct label setting of the sweep points, and every labelled sample preprocessed once
// per distinct input recipe through the content-addressed feature cache (merx/preprocessing/cache.h), kept
// in memory as one CPU tensor per recipe. A cell's CellData is then a gather of rows (no decoding, no flow).
//
// Shapes: per recipe [N, C, S, S] float32, N = distinct samples over all label settings, C and S from the
// recipe (e.g. [N, 3, 28, 28] for flow_strain at S = 28).
//
// A sample whose preprocessing fails (PrepError: unreadable frame, ...) is left out of every cell with a
// warning, and listed in each cell that would have used it (CellData::excluded -> artifact
// "engine.excluded_samples"). Thread safety: build() is not reentrant; a built RunInputs is immutable, so
// cell_data() may be called from many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "merx/engine/cell.h"
#include "merx/spec/plan.h"

namespace merx::engine {

struct InputOptions {
  std::filesystem::path cache_dir;  // feature cache root; empty = prep::default_cache_dir()
  int jobs = 0;                     // samples preprocessed in parallel (TBB); 0 = all cores
  bool content_hash = false;        // key cached frames by content instead of size + mtime
};

/// What build() did, for the log and the cells' prep_seconds.
struct InputStats {
  size_t label_settings = 0, recipes = 0, samples = 0;  // samples: distinct labelled clips
  size_t computed = 0, cached = 0, failed = 0;          // preprocessing outcomes over (sample, recipe)
  double seconds = 0;                                   // wall-clock time of build()
};

class RunInputs {
 public:
  RunInputs();
  ~RunInputs();
  RunInputs(RunInputs&&) noexcept;
  RunInputs& operator=(RunInputs&&) noexcept;

  /// Loads and preprocesses what the given sweep points need (all points when `points` is empty).
  /// Throws UserError / DatasetError / ValidationError for datasets that cannot be loaded strictly.
  static RunInputs build(const Plan& plan, const std::vector<size_t>& points,
                         const InputOptions& options = {});

  /// The tensors of `cell`: training and test samples of its fold (merx/spec/folds.h fold_samples), the
  /// group's class list, source domains sorted by name, AU intensities over the 12-AU `cross` set from the
  /// point's ONE AU source (its augmenter's string parameter `au_source`, default `annotations`):
  ///   annotations  a listed AU gets its intensity letter A..E as 1..5, or 3 without a letter; an unlisted
  ///                AU 0; a corpus without AU codes a NaN row;
  ///   openface     the apex row of <dataset option openface>/<subject>/<clip>.csv (merx/datasets/openface.h),
  ///                read once in build(); NaN row when missing;
  ///   flow_roi     mean flow magnitude per AU region (merx/preprocessing/au_roi.h), NaN row without
  ///                landmarks; returned raw (TrainSet::au_flow_roi_raw): each training run of the cell
  ///                scales its own fit rows to 0..5 by their 95th percentile, so neither test nor
  ///                source-validation clips shape the scale.
  /// build() throws UserError for an `openface` folder that does not exist and for `flow_roi` on a recipe
  /// without flow. Throws std::invalid_argument when the cell's point was not built.
  CellData cell_data(const Plan& plan, const Cell& cell) const;

  const InputStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace merx::engine
