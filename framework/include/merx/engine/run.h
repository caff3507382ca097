// `merx run`: a plan's cells trained, evaluated and stored, several at once over a pool of execution slots
// (docs/engine.md, docs/cluster.md). Torch-free header.
//
//   1. Store: the experiment (spec hash), its groups and cells are upserted/enqueued (idempotent by
//      identity); with a shard, only the shard's cells and their groups. A cell already `done` is skipped;
//      `failed` ones are retried only with rerun_failed; force runs every cell again. Cells marked `running`
//      are left alone while another `merx run` holds the database's run lock (`<db>-run.lock`, flock(2));
//      when no process holds it, `running` cells are left over from a killed run and are queued again.
//   2. Device: every pending cell's `training.device` is resolved first (auto = CUDA when LibTorch reports
//      it, else CPU); `cuda` on a machine without CUDA is a UserError before anything runs.
//   3. Inputs: built once (merx/engine/inputs.h) for the points that have pending cells, shared read-only
//      by every slot.
//   4. Slots: CUDA -> slots_per_gpu slots per device (cells on that device); simulate_gpus N -> N fake
//      devices x slots_per_gpu slots whose cells run on the CPU (tests the device logic without a GPU);
//      otherwise `jobs` CPU slots. A TBB task per slot takes the next pending cell in plan order (point,
//      seed, fold): claim, run_cell, write_finished_cell (one transaction), then the group's pooled
//      metrics (metrics::update_group_metrics) once its last fold is done — never in a shard database,
//      whose groups lack the other shards' folds. A failed cell (exception, non-finite loss, out of memory)
//      is stored as failed with its reason, its slot takes the next cell. A done cell's reported model is
//      written to <database>-models/<sha256>.mxm first (merx/engine/saved_model.h) unless the spec's
//      save_models or RunOptions::save_models is false; a model that cannot be written is a warning and
//      the cell is stored without one.
// Threads: torch's intra-op thread count T is set once before cells start (and in each slot's thread):
// threads_per_cell, else 1 with several slots, else the spec's training.threads_per_cell; stored per cell.
// OpenCV's own thread pool is limited to T while cells run. Results do not depend on the slot count: a cell
// run next to others is bit-identical on CPU to the same cell run alone with T threads (rng_lane.h).
// Stop flag (Ctrl-C): no further cell starts; running cells stop at their next step and are stored as
// interrupted (resumed by the next run).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

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
  std::string slot;    // "cpu:0", "cuda:1", "sim-gpu:2" (several slots per GPU: "cuda:1#0")
  int threads = 0;     // torch intra-op threads the cell ran with
};

/// A cell that starts on a slot, or one of its epochs (progress views).
struct CellProgress {
  const Cell* cell = nullptr;
  std::string slot;
  int64_t epoch = -1;   // -1: the cell starts; else the 0-based epoch just finished
  int64_t epochs = 0;   // epochs of the current training run
};

/// `--shard i/N`: cells whose 0-based position in the plan's cell list is congruent to i modulo N.
struct Shard {
  size_t index = 0, count = 1;
  bool active() const { return count > 1; }
  /// "i/N" with 0 <= i < N; UserError otherwise.
  static Shard parse(const std::string& text);
  /// "i/N".
  std::string text() const;
};

/// Positions (into plan.cells) of the shard's cells, ascending. Shards 0..N-1 partition the plan.
std::vector<size_t> shard_cells(const Plan& plan, const Shard& shard);

struct RunOptions {
  std::filesystem::path output;                     // database; empty = the plan's `output`
  bool rerun_failed = false;                        // failed (and interrupted) cells run again
  bool force = false;                               // every cell runs again, done ones included
  std::filesystem::path cache_dir;                  // feature cache; empty = prep::default_cache_dir()
  int prep_jobs = 0;                                // parallel preprocessing; 0 = all cores
  int jobs = 1;              // CPU slots (cells at once); 0 = cores / threads per cell
  int threads_per_cell = 0;  // torch threads per cell; 0 = 1 with several slots, else the spec's
  int simulate_gpus = 0;     // > 0: that many fake GPU slots (x slots_per_gpu) running on the CPU
  int slots_per_gpu = 0;     // cells at once per GPU; 0 = the spec's training.slots_per_gpu (max)
  Shard shard;               // only this shard's cells (own database)
  /// false: no model files even where the spec's save_models is true (`merx run --no-save-models`).
  bool save_models = true;
  const std::atomic<bool>* stop = nullptr;          // set (e.g. by SIGINT): the running cell is stored as
                                                    // interrupted and no further cell starts
  std::function<void(const CellReport&)> on_cell;   // called after each cell is stored
  std::function<void(const CellProgress&)> on_progress;  // a cell starts / finishes an epoch
  // The callbacks above are called from the slots' threads, one at a time (never concurrently).
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
  size_t reclaimed = 0;      // `running` cells of a killed run queued again
  size_t slots = 0;          // execution slots used
  int threads_per_cell = 0;  // torch threads per cell
  std::string slot_kind;     // "cpu", "cuda", "simulated gpu"
};

/// Runs the plan as described at the top. Throws UserError (unusable output path, cuda unavailable,
/// datasets that cannot be loaded, a shard outside [0, N), simulate_gpus with CUDA cells), StoreError
/// (database failures). Cell failures never throw.
RunSummary run_plan(const Plan& plan, const PluginRegistry& registry, const RunOptions& options);

}  // namespace merx::engine
