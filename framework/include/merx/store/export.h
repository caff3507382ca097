// Exports of a results database (`merx db export`): every table as CSV, and per-clip predictions in the
// MEGC2019 layout. Read-only on the database; written files are replaced.
//
// CSV (RFC 4180): comma-separated, a header row with the column names, fields quoted with '"' when they
// contain a comma, quote, CR or LF (quotes doubled); NULL is the empty field; REAL values with 17
// significant digits (they read back exactly); line ends "\n".
//
// MEGC2019 layout (See et al., FG 2019 challenge submissions): one row per evaluated clip with the columns
// dataset, subject, filename, label, prediction — split from predictions.sample_key 'dataset/subject/clip'
// (a key with more than three parts keeps the rest in filename), label = true class, prediction = predicted
// class (the protocol's class names). Only done cells; oracle-selected cells are left out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "merx/store/store.h"

namespace merx {

struct ExportSummary {
  std::vector<std::string> files;  // written, in order
  std::size_t rows = 0;            // data rows written over all files
};

/// Writes DIR/<table>.csv for every table of the database (schema_log, experiments, groups, cells, metrics,
/// confusion, predictions, curves, artifacts and any later ones; views are not exported). Creates DIR
/// (and parents). UserError when DIR cannot be created or a file cannot be written (named).
ExportSummary export_csv(const Store& store, const std::string& dir);

/// Per-clip predictions in the MEGC2019 layout. `path` an existing directory, or a name ending in '/':
/// one file per group, "<experiment>__<variant or pN>__seed<S>.csv" (characters other than [A-Za-z0-9._-]
/// replaced by '_'). Otherwise `path` is one CSV file, allowed only when exactly one group (of
/// `experiment`, when given) has predictions; else UserError listing how many and suggesting a directory.
ExportSummary export_megc(const Store& store, const std::string& path,
                          const std::optional<std::string>& experiment = std::nullopt);

}  // namespace merx
