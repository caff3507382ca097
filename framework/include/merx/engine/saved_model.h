// Saved models (issue 17; docs/engine.md "Saved models"): a done cell's reported model — the checkpoint
// model selection chose — written beside the results database and applied later by `merx predict`.
//
// File: <database>-models/<sha256>.mxm, named by the SHA-256 of its bytes (content-addressed; the cell row
// stores the hash, schema 3). Layout: a LibTorch archive (torch::serialize::OutputArchive, a zip) with
//   "manifest"  the ModelManifest below as JSON text (format, versions, classes, recipe, labels, backbone);
//   "backbone"  the backbone module's parameters and buffers (torch::nn::Module::save);
//   "head"      the linear head's weight [K, F] and bias [K].
// A file is written atomically (temporary file + rename) and never rewritten: a second cell with the same
// bytes shares it. Reading checks the format version, the LibTorch version that wrote it (must equal the
// linked one: archives are not promised to load across LibTorch releases), the backbone plugin (by name;
// its version must match) and every tensor's shape; any mismatch is a UserError naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "merx/backbone.h"
#include "merx/engine/cell.h"
#include "merx/plugins/registry.h"
#include "merx/store/model_files.h"  // models_dir, model_file: where the files go

namespace merx::engine {

/// Bumped when the .mxm layout changes; readers refuse other versions.
inline constexpr int kModelFormatVersion = 1;

/// What a saved model needs besides its weights, to be rebuilt and fed exactly as in training.
struct ModelManifest {
  std::string cell_identity;          // the cell it was trained in (64 hex)
  std::vector<std::string> classes;   // K class names; logit k is classes[k]
  std::string backbone;               // backbone plugin name
  std::string backbone_version;       // its behaviour version when trained
  nlohmann::json backbone_params = nlohmann::json::object();  // resolved parameters
  InputShape input;                   // [C, H, W] the backbone takes (pixels)
  int64_t feature_dim = 0;            // F
  std::string recipe;                 // input recipe name (flow_strain, ...)
  nlohmann::json recipe_params = nlohmann::json::object();  // resolved recipe parameters
  nlohmann::json recipe_config = nlohmann::json::object();  // prep::RecipeConfig::to_json() (incl. its version)
  std::string labels = "native";      // label mapping name: native | megc3 | custom
  nlohmann::json label_map = nlohmann::json::object();  // custom: native label -> class
  std::optional<int64_t> chosen_epoch;  // the checkpoint's evaluation point, 0-based
  std::string libtorch_version;       // TORCH_VERSION that wrote the file
  std::string merx_version;

  nlohmann::json to_json() const;
  /// UserError naming `where` for a missing or mistyped field.
  static ModelManifest from_json(const nlohmann::json& j, const std::string& where);
};

/// The serialised .mxm bytes of `model` (moved to the CPU for writing; the model itself is not changed).
std::string model_bytes(Model& model, const ModelManifest& manifest);

struct SavedModelRef {
  std::string sha256;  // 64 hex digits of the bytes
  int64_t bytes = 0;
  std::filesystem::path file;
};
/// Writes `bytes` as <database>-models/<sha256>.mxm (merx/store/model_files.h) unless a file of that name and size exists. Throws
/// std::runtime_error when the folder or file cannot be written.
SavedModelRef write_model_file(const std::filesystem::path& database, const std::string& bytes);

struct LoadedModel {
  ModelManifest manifest;
  Model model;  // in evaluation mode, on `device`
};
/// Reads an .mxm file and rebuilds the model with the backbone plugin from `registry`. UserError (naming
/// the file) when it is missing, not an .mxm archive, of another format version, written by another
/// LibTorch, names a backbone the registry lacks or another version of it, or holds tensors of other shapes.
LoadedModel load_model(const std::filesystem::path& file, const PluginRegistry& registry,
                       torch::Device device = torch::kCPU);

struct Predicted {
  torch::Tensor probabilities;     // [M, K] float32, CPU: softmax of the logits
  std::vector<int64_t> predicted;  // [M] argmax of the logits, first index on ties
};
/// Predictions for inputs x [M, C, H, W] in evaluation mode without gradients, in batches of `batch` rows
/// taken in order — the computation evaluate() does, so the same rows in the same batches give
/// bit-identical values. std::invalid_argument for batch < 1.
Predicted predict(Model& model, const torch::Tensor& x, int64_t batch, torch::Device device);

}  // namespace merx::engine
