// Where a results database keeps its saved models (issue 17; the .mxm format is merx/engine/saved_model.h):
// the folder <database>-models beside it, one file <sha256>.mxm per distinct model, referenced from
// cells.model_sha256 (db/003_models.sql). Shared by the engine (writes), `merx db merge` (copies the files of
// the cells it brings in), `merx db models` (lists, prunes) and `merx predict` (reads). Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace merx {

/// <database>-models (the folder of a database's model files; it may not exist).
std::filesystem::path models_dir(const std::filesystem::path& database);
/// <database>-models/<sha256>.mxm
std::filesystem::path model_file(const std::filesystem::path& database, const std::string& sha256);

/// Copies <from>-models/<sha256>.mxm to <to>-models/ unless a file of that name and size is there already
/// (content-addressed: same name, same bytes), through a temporary name and a rename so no reader sees a
/// partial file. Returns false when the source file does not exist; throws std::runtime_error when the
/// copy cannot be written.
bool copy_model_file(const std::filesystem::path& from, const std::filesystem::path& to,
                     const std::string& sha256);

}  // namespace merx
