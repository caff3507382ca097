// Errata: known errors of the official annotation sheets, as data (framework/datasets/<adapter>/errata.json,
// compiled in; extra files through the `errata` dataset option). Format (docs/datasets.md "Errata"):
//
//   { "dataset": "casme2",
//     "errata": [
//       { "subject": "sub16", "clip": "EP01_08", "field": "offset", "old": "110", "new": "96",
//         "reason": "...", "source": "..." },
//       { "sha256": "<annotation file SHA-256>", "row": 62, "field": "offset", "old": "90", "new": "91",
//         "reason": "...", "source": "..." },
//       { "subject": "sub05", "clip": "EP09_05f", "field": "apex", "kind": "note", "reason": "...",
//         "source": "..." } ] }
//
// Key: (subject, clip) of the dataset — matched after normalise_name(), so "sub5"/"sub05" agree — or
// (sha256, row): only for that exact file version and 1-based row. field: onset | apex | offset | emotion |
// au. "old": the value the sheet must hold for the fix to apply (text; numbers compared as integers); null =
// the cell must be empty or "/" (missing); absent = any value (only with a subject/clip key). A sha256/row
// key requires "old". "new": the corrected value (string or integer; null = make it missing).
// "kind": "set" (default: replace) or "note" (change nothing, record a known problem on the clip).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace merx::ds {

struct Erratum {
  std::string subject, clip;  // key by clip ...
  std::string sha256;         // ... or by file version + row
  int row = 0;
  std::string field;
  bool has_old = false;                  // "old" present
  std::optional<std::string> old_value;  // nullopt with has_old = must be missing
  std::optional<std::string> new_value;  // nullopt = make missing
  bool note = false;
  std::string reason, source;
  std::string origin;  // "builtin:casme2" or a file path
  size_t index = 0;    // position in its file, for messages
};

/// Parses an errata document; throws UserError naming `origin` and the entry index on any format error.
std::vector<Erratum> parse_errata(const nlohmann::json& doc, const std::string& origin);

/// Built-in errata of `adapter` (empty when it has none).
std::vector<Erratum> builtin_errata(const std::string& adapter);

/// Errata of an extra JSON file (the `errata` option).
std::vector<Erratum> errata_from_file(const std::string& path);

}  // namespace merx::ds
