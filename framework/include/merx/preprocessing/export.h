// `merx prep --export DIR`: cached inputs as files a notebook reads without merx (docs/preprocessing.md
// "Export to NumPy"):
//   DIR/inputs.npy    float32 [N, C, S, S], C order, NumPy .npy format 1.0 (numpy.load reads it)
//   DIR/samples.csv   one row per sample, row i <-> inputs[i]: sample_key, dataset, subject, clip, emotion,
//                     label, onset, apex, offset, apex_estimated, face_fallback
//   DIR/recipe.json   recipe name and version, declared parameters, every stage parameter, channel names,
//                     size, shape
// Each file is written to a temporary name in DIR and renamed into place by commit(), so a failed or
// interrupted export never leaves a partial file under a final name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "merx/datasets/sample.h"
#include "merx/preprocessing/preprocess.h"
#include "merx/preprocessing/recipe.h"

namespace merx::prep {

/// The .npy preamble for a little-endian float32 C-order array of `shape`: magic "\x93NUMPY", version
/// 1.0, u16 little-endian header length, the header dict
/// "{'descr': '<f4', 'fortran_order': False, 'shape': (d0, d1, ...), }" ('>f4' on a big-endian machine:
/// the floats are written in the machine's order) padded with spaces and ended by '\n' so that the
/// preamble's length is a multiple of 64 (the data that follows is 64-byte aligned). The padding includes
/// numpy's room for d0 to grow to 21 digits, so the bytes are those numpy.save (>= 1.24) writes.
std::string npy_preamble(const std::vector<uint64_t>& shape);

/// The files an export writes, in DIR.
inline const std::vector<std::string> kExportFiles = {"inputs.npy", "samples.csv", "recipe.json"};

/// Refuses an export folder before any work is done: UserError when `dir` exists and is not a folder, or
/// when it holds anything and `force` is false (the message names the folder and one of its entries).
/// With `force`, an existing folder is kept: the three export files are replaced, nothing else is touched.
void check_export_dir(const std::filesystem::path& dir, bool force);

/// What recipe.json says about the recipe.
struct ExportRecipe {
  RecipeConfig config;                // every stage parameter (written as "config": RecipeConfig::to_json)
  nlohmann::json params;              // the recipe's declared parameters, resolved ("params")
  std::vector<std::string> channels;  // channel names in tensor order, config.channels() of them
};

/// Writes one export of exactly `samples` rows, streaming (one sample in memory at a time).
class NumpyExport {
 public:
  /// Creates `dir` (and parents) and the temporary files; writes the .npy preamble for
  /// [samples, C, S, S]. Throws std::invalid_argument when recipe.channels does not have
  /// config.channels() names; std::runtime_error when the folder or a file cannot be written.
  NumpyExport(std::filesystem::path dir, ExportRecipe recipe, uint64_t samples);
  /// Removes the temporaries unless commit() succeeded.
  ~NumpyExport();
  NumpyExport(const NumpyExport&) = delete;
  NumpyExport& operator=(const NumpyExport&) = delete;

  /// Appends row i = rows() of samples.csv and inputs[i]. `label`: the class under the spec's label mapping
  /// (nullopt: none, an empty field). onset and offset are the sample's frame numbers; apex is the frame
  /// number of the frame `result` used (SampleRecord::frame_numbers[result.apex_index]); apex_estimated is
  /// set when either the dataset (SampleRecord::apex_estimated) or the preprocessing
  /// (PrepResult::apex_estimated) chose the apex. Throws std::invalid_argument when `result` does not have
  /// the recipe's shape or all `samples` rows are written already; std::runtime_error on a write error.
  void add(const SampleRecord& sample, const std::optional<std::string>& label, const PrepResult& result);
  uint64_t rows() const { return rows_; }

  /// Checks that every row was written, closes the files and renames them into place (replacing older
  /// ones). Throws std::logic_error when rows() != samples, std::runtime_error on a write or rename error.
  void commit();

 private:
  std::filesystem::path dir_, tmp_npy_, tmp_csv_, tmp_json_;
  ExportRecipe recipe_;
  uint64_t samples_ = 0, rows_ = 0;
  std::ofstream npy_, csv_;
  bool committed_ = false;
};

}  // namespace merx::prep
