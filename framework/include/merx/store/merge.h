// Merging results databases (`merx db merge OUT IN...`): the shards of one study run apart (`merx run
// --shard i/N`, Slurm array tasks) become one database.
//
// What is merged, by identity (the identity columns of db/001_initial.sql):
//   experiments by spec_hash, groups by identity, cells by identity with all their results (metrics,
//   confusion, predictions, curves, artifacts) and every cell column (timings, host, provenance) as the
//   input has them. Row ids are renumbered; nothing else changes.
// Rules for a cell present on both sides (OUT so far, or an earlier input):
//   - both done: results must be equal (metrics, confusion, predictions, curves, artifacts, selection,
//     chosen epoch; timings, host, device and threads are ignored) -> kept once; different -> UserError
//     naming the cell (identity, fold, experiment, variant, seed), both files and the first difference;
//   - one done: the done one is kept (a shard that finished a cell another left queued or failed);
//   - neither done: the one already in OUT is kept.
// Saved models (merx/store/model_files.h): the .mxm file of every cell added or replaced is copied from
// <IN>-models/ to <OUT>-models/ (skipped when already there; a file missing beside IN is counted in
// MergeSummary::models_missing and the reference kept, so `merx predict` names the missing file).
// Group-level metrics and confusion (pooled, per target) are NOT copied: they depend on all of a group's
// cells, which a shard may lack. Rows of every group that received a cell are deleted in the merge; the
// caller recomputes them from the merged cells with metrics::update_group_metrics for each id of
// MergeSummary::groups_changed (`merx db merge` does).
//
// Atomicity: everything is written in ONE transaction on OUT; on any error it is rolled back and OUT is as
// before (a file that did not exist before is removed again). Inputs are only read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace merx {

struct MergeSummary {
  std::size_t inputs = 0;
  std::size_t experiments_added = 0;
  std::size_t groups_added = 0;
  std::size_t cells_added = 0;          // identities new to OUT
  std::size_t cells_replaced = 0;       // a done cell replaced one that was not done
  std::size_t cells_identical = 0;      // done on both sides with equal results (kept once)
  std::size_t cells_kept = 0;           // not done in the input, already present in OUT (OUT's row kept)
  std::vector<int64_t> groups_changed;  // OUT group ids that received cells, ascending: recompute these
  std::size_t models_copied = 0;        // saved models of added/replaced cells present in OUT afterwards
  std::size_t models_missing = 0;       // referenced by such a cell, but absent beside its input database
};

/// Merges the merx results databases `inputs` (in order) into `out` (created when absent; an existing file
/// keeps its rows). Throws UserError for an input that is missing, not a merx results database or of
/// another schema version, an input named twice or equal to `out`, no inputs, and conflicting cells (see
/// above); StoreError for database failures. `out` is unchanged after any exception.
MergeSummary merge_databases(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace merx
