// `merx run`: a plan's cells trained, evaluated and stored, one after the other (docs/engine.md).
// Torch-free header.
//
//   1. Store: the experiment (spec hash), its groups and cells are upserted/enqueued (idempotent by
//      identity). A cell already `done` is skipped; `failed` ones are retried only with rerun_failed; force
//      runs every cell again. Cells marked `running` by another process are left alone.
//   2. Device: every pending cell's `training.device` is resolved first (auto = CUDA when LibTorch reports
//      it, else CPU); `cuda` on a machine without CUDA is a UserError before anything runs.
//   3. Inputs: built once (merx/engine/inputs.h) for the points that have pending cells.
//   4. Cells in plan order (point, seed, fold): claim, run_cell, write_finished_cell (one transaction), then
//      the group's pooled metrics (metrics::update_group_metrics) once its last fold is done. A failed cell
//      is stored as failed with its reason and the run goes on.
// Thread counts: torch's intra-op threads are set to the cell's training.threads_per_cell before it runs
// (process-wide; cells run sequentially here).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "merx/plugins/registry.h"
#include "merx/spec/plan.h"
#include "merx/store/store.h"

namespace merx::engine {

/// One finished cell, for progress output.
struct CellReport {
  size_t index = 0;  // 1-based among the cells this run executes
  size_t total = 0;  // cells this run executes
  const Cell* cell = nullptr;
  CellStatus status = CellStatus::Done;
  std::string error;               // Failed / Interrupted: the reason
  double seconds = 0;              // wall-clock time of the cell (training + evaluation)
  std::optional<double> uf1, uar;  // fold-scope values; nullopt when undefined or not done
  std::optional<int64_t> chosen_epoch;
  std::string device;  // "cpu", "cuda:0"
};

struct RunOptions {
  std::filesystem::path output;                     // database; empty = the plan's `output`
  bool rerun_failed = false;                        // failed (and interrupted) cells run again
  bool force = false;                               // every cell runs again, done ones included
  std::filesystem::path cache_dir;                  // feature cache; empty = prep::default_cache_dir()
  int prep_jobs = 0;                                // parallel preprocessing; 0 = all cores
  const std::atomic<bool>* stop = nullptr;          // set (e.g. by SIGINT): the running cell is stored as
                                                    // interrupted and no further cell starts
  std::function<void(const CellReport&)> on_cell;   // called after each cell is stored
  std::function<void(const std::string&)> on_note;  // one-line notes ("inputs: ..."); may be empty
};

struct RunSummary {
  std::filesystem::path output;  // the database written
  int64_t experiment_id = 0;
  size_t cells = 0;                              // cells of the plan
  size_t already_done = 0;                       // done before this run and not forced
  size_t ran = 0;                                // cells executed now
  size_t done = 0, failed = 0, interrupted = 0;  // outcomes of the cells executed now
  size_t failed_before = 0;  // failed in an earlier run and not retried (rerun_failed off)
  size_t busy = 0;           // cells another process holds (`running`), not touched
  bool stopped = false;      // the stop flag ended the run early
};

/// Runs the plan as described at the top. Throws UserError (unusable output path, cuda unavailable,
/// datasets that cannot be loaded), StoreError (database failures). Cell failures never throw.
RunSummary run_plan(const Plan& plan, const PluginRegistry& registry, const RunOptions& options);

}  // namespace merx::engine
