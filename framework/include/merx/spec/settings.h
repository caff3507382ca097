// Settings the framework itself declares (as opposed to plugins): input recipes, training settings,
// protocols and label mappings. The declarations are data (framework/spec/settings.cpp) checked by the same
// code as plugin parameters (merx/spec/params_check.h); docs/spec.md lists them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "merx/params.h"

namespace merx {

// ---- input recipes (methods.md §4): what a clip becomes ----

/// One input recipe: the tensor it makes is [channels, S, S] with S = params `size`.
struct RecipeInfo {
  std::string name;
  int64_t channels = 0;
  std::string doc;
  std::vector<ParamDecl> params;
  // What the recipe reads: "frames" (aligned face frames) or "flow_images" (a precomputed image per clip,
  // adapter flow_images). Must equal every dataset's AdapterInfo::input (checked by the spec validator).
  std::string input = "frames";
};

/// flow_strain (default), flow_uv, apex_gray, onset_apex, flow_images.
const std::vector<RecipeInfo>& recipe_catalog();
const RecipeInfo* find_recipe(const std::string& name);  // nullptr when unknown
/// Names of the channels a recipe makes, in tensor order (merx/augmenter.h AugmenterSetup::channels):
/// flow_strain {u, v, strain}, flow_uv {u, v}, apex_gray {gray}, onset_apex {onset, apex}, flow_images
/// {u, v, strain}; {} when unknown.
std::vector<std::string> recipe_channel_names(const std::string& name);
inline constexpr const char* kDefaultRecipe = "flow_strain";

// ---- training settings (the `training` block) ----

/// optimizer, lr, momentum, weight_decay, schedule, step_size, gamma, epochs, steps, eval_every, batch,
/// sampler, selection,
/// val_fraction, grad_clip, threads_per_cell, device — each with its default and bounds.
const std::vector<ParamDecl>& training_params();

/// Training settings that cannot change results and so stay out of identities: threads_per_cell, device.
const std::vector<std::string>& training_params_outside_identity();

/// The resolved `training` block, typed. Units: lr per step; epochs = passes over the (composite) training
/// set; batch = clips per source domain per step under the `domain_balanced` sampler (DomainBed's
/// convention), clips per step otherwise; step_size in epochs (in optimiser steps when `steps` > 0);
/// grad_clip = max global L2 norm (0 = off). steps > 0: a fixed number of optimiser steps per training run
/// (docs/engine.md "Equal budgets"), evaluation points every eval_every steps (0 = one pass over the real
/// training clips); steps = 0: `epochs` passes.
struct TrainingSettings {
  std::string optimizer = "adam";  // adam | adamw | sgd
  double lr = 1e-3;
  double momentum = 0.9;  // sgd only
  double weight_decay = 0;
  std::string schedule = "none";  // none | step | cosine
  int64_t step_size = 10;         // schedule step: multiply lr by gamma every step_size epochs
  double gamma = 0.1;
  int64_t epochs = 30;
  int64_t steps = 0;       // > 0: optimiser steps per training run instead of epochs
  int64_t eval_every = 0;  // steps mode: steps between evaluation points; 0 = one pass over the real clips
  int64_t batch = 32;
  std::string sampler = "domain_balanced";  // domain_balanced | class_balanced | shuffle
  std::string selection = "last";           // last | source_val | loo_source | oracle (methods.md §3)
  double val_fraction = 0.2;                // source_val: share of each source's clips held out
  double grad_clip = 0;
  int64_t threads_per_cell = 1;
  int64_t slots_per_gpu = 1;    // concurrent cells per GPU (merx run's GPU slots); not in identities
  std::string device = "auto";  // auto | cpu | cuda

  /// From a resolved block (every field present, as check_params returns it).
  static TrainingSettings from_json(const json& resolved);
};

// ---- protocols (methods.md §1) ----

struct ProtocolInfo {
  std::string name;
  std::string doc;
  size_t min_datasets = 1;
  std::vector<std::string> param_names;  // every accepted key of `protocol.params`
  std::vector<ParamDecl> scalar_params;  // those checked as declared parameters (kfold_subject's k)
};

/// lodo, hde, loso, kfold_subject.
const std::vector<ProtocolInfo>& protocol_catalog();
const ProtocolInfo* find_protocol(const std::string& name);

// ---- label mappings (the `labels` block) ----

struct LabelMappingInfo {
  std::string name;
  std::string doc;
  std::vector<std::string> classes;  // fixed class set; empty = decided by the datasets or by `map`
};

/// native (default), megc3, custom.
const std::vector<LabelMappingInfo>& label_mapping_catalog();
const LabelMappingInfo* find_label_mapping(const std::string& name);

}  // namespace merx
