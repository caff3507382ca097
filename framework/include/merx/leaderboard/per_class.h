// Per-class F1 of the leaderboard's selected rows: `merx db leaderboard --per-class` (issue 18;
// docs/database.md "Leaderboards"). Torch-free.
//
// For every leaderboard table: rows = its selected methods, columns = (target, class) — lodo/hde: each
// target column (not "mean"), pooled protocols: "pooled" — holding the mean ± SE over seeds of the
// group-level per-class F1 that metrics::update_group_metrics stored (view per_class: scope 'target' with
// the target, or 'pooled'), of the SAME sweep point and seeds the leaderboard selected for that column.
#pragma once

#include <string>
#include <vector>

#include "merx/leaderboard/leaderboard.h"

namespace merx::leaderboard {

struct PerClassRow {
  MethodKey method;
  std::vector<Estimate> values;  // per (target, class): values[t * classes.size() + c]; best flags unset
};

struct PerClassTable {
  std::string protocol;
  std::vector<std::string> datasets;
  bool oracle = false;
  std::string data_version;
  std::vector<std::string> targets;  // the table's columns without "mean"
  std::vector<std::string> classes;  // in the order the metrics rows were stored
  std::vector<PerClassRow> rows;     // one per selected row of the table, same order
};

/// Reads the stored group-level per-class F1 for the selected points of `lb` (built from `store`).
/// Classes without any stored value are absent; an undefined F1 (no samples, no predictions) is skipped.
std::vector<PerClassTable> per_class(const Store& store, const Leaderboard& lb);

/// table / md / latex (values with options.decimals) or csv / json (one entry per value, unrounded).
std::string render_per_class(const std::vector<PerClassTable>& tables, Format format,
                             const RenderOptions& options = {});

}  // namespace merx::leaderboard
