// The offline HTML report of a results database (`merx report`, issue 7). Torch-free.
//
// One self-contained HTML5 file: inline CSS and inline SVG charts drawn here, no script and nothing fetched
// when it is viewed (no external URL anywhere in the page). Sections:
//   1. Leaderboards (merx/leaderboard/leaderboard.h, selected rows + reference rows, then all sweep points):
//      <table class="leaderboard" id="leaderboard-N">, N = 1, 2, ... in leaderboard order; best values bold.
//   2. Per-target bar charts: per leaderboard table, one bar per selected method and column (target or
//      pooled), height = mean over seeds, error bar = +/- 1 standard error (none for n < 2).
//   3. Per run (experiment x sweep point, seeds summed): confusion heatmaps, pooled and per target — the
//      groups' stored confusion counts summed over seeds; cell colour = count / row total (recall), text =
//      count — and per-class F1 (pooled, mean over seeds) as a table.
//   4. Training curves per run: for every curve name (loss, loss/<component>, source_val_uf1, ...), the
//      value per epoch averaged over the run's cells, one line per target dataset.
//   5. Provenance of each experiment: spec (resolved JSON), spec hash, creation time, cell status counts,
//      merx versions and git commits, LibTorch versions, plugins (name, version, SHA-256), hosts and devices.
// Every chart is an <svg class="chart"> with a <title>; numbers in the page have 4 decimals.
#pragma once

#include <optional>
#include <string>

#include "merx/leaderboard/leaderboard.h"
#include "merx/store/store.h"

namespace merx::report {

struct Options {
  std::optional<std::string> experiment;  // only this experiment (by name); nullopt = all
  leaderboard::Metric metric = leaderboard::Metric::UF1;
  std::string title;                  // page title; empty = "merx report: <database file name>"
  std::size_t max_curve_charts = 12;  // per run, curve names beyond this are listed, not drawn
};

/// The whole page. Throws UserError when `experiment` names no experiment of the database; StoreError as
/// the Store does.
std::string render_html(const Store& store, const Options& options);

/// render_html written to `path` (replaced; written to path + ".tmp" first, then renamed). UserError when
/// the file cannot be written.
void write_html(const Store& store, const Options& options, const std::string& path);

}  // namespace merx::report
