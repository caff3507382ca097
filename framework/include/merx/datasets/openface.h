// AU intensities from OpenFace CSV files (the `openface` AU source of au_gan, methods.md §6 step 1).
//
// OpenFace 2 (FeatureExtraction) writes one CSV per video with one row per frame: `frame` (1-based frame
// counter of the input sequence), `success` (1 when the face was tracked), and per AU an intensity column
// `AUxx_r` (0..5, regression output; can come out slightly negative). Some versions write the header as
// "frame, face_id, timestamp, confidence, success, AU01_r, ..." — with a space after each comma, so the
// names carry a leading space; names are matched after trimming.
//
// Layout (dataset option `openface`): <folder>/<subject>/<clip>.csv, subject and clip as in the sample
// record (SampleRecord::subject, ::clip); the folder is relative to the dataset's root unless absolute.
// Row k of a clip's CSV stands for the k-th frame of the clip's sorted frame list (1-based), as OpenFace
// numbers the frames of an image sequence.
//
// The apex row: the row whose `frame` equals the apex position (SampleRecord::apex_index + 1) when its
// `success` is 1; else the row with success = 1 whose frame is nearest to it within ±window frames (ties:
// the earlier frame); else the clip has no AU information (missing, never zeros). Intensities outside 0..5
// are clamped; negative ones are counted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "merx/datasets/sample.h"

namespace merx {

/// One OpenFace CSV, parsed.
struct OpenFaceTable {
  std::filesystem::path file;
  std::vector<int64_t> frame;                    // [R] the `frame` column
  std::vector<bool> success;                     // [R] success == 1
  std::map<int, std::vector<double>> intensity;  // AU number -> [R] its AUxx_r column
  std::vector<size_t> row_numbers;               // [R] 1-based line numbers, for messages
};

/// Reads a CSV with read_table (comma separated, header on the first line). Columns are found by name after
/// trimming spaces; `frame`, `success` and every `AUxx_r` column are read, others ignored. Throws UserError
/// naming the file (and row) when: it cannot be read; `frame` or `success` is missing; a cell of those
/// columns is not a number; a frame number repeats.
OpenFaceTable read_openface_csv(const std::filesystem::path& file);

/// The AU vector of one clip.
struct OpenFaceAus {
  std::optional<std::vector<float>> values;  // [A] intensities 0..5 in `au_ids` order; nullopt = missing
  int64_t frame_used = 0;                    // the row's `frame` (0 when missing)
  bool exact = false;                        // the apex row itself was used
  int64_t negatives_clamped = 0;             // negative intensities set to 0 in this vector
  std::string reason;                        // why missing ("" otherwise)
};

/// The apex row of `table` for `apex_position` (1-based position in the clip's frame list) over `au_ids`
/// (FACS numbers). Throws UserError naming the file when an AU of `au_ids` has no `AUxx_r` column.
OpenFaceAus openface_apex_aus(const OpenFaceTable& table, int64_t apex_position,
                              const std::vector<int>& au_ids, int64_t window = 2);

/// <folder>/<subject>/<clip>.csv for `sample`.
std::filesystem::path openface_file(const std::filesystem::path& folder, const SampleRecord& sample);

/// Counts over many clips, for the log and the cell artifacts.
struct OpenFaceStats {
  int64_t clips = 0, exact = 0, nearby = 0, missing = 0, negatives_clamped = 0;
  std::map<std::string, int64_t> missing_reasons;  // reason -> clips
};

/// The AU vector of `sample` from <folder>/<subject>/<clip>.csv (a missing file or a clip without apex
/// position is `missing` with that reason, not an error); updates `stats` when given. Throws UserError for
/// a malformed file (see read_openface_csv, openface_apex_aus).
OpenFaceAus openface_sample_aus(const std::filesystem::path& folder, const SampleRecord& sample,
                                const std::vector<int>& au_ids, OpenFaceStats* stats = nullptr);

}  // namespace merx
