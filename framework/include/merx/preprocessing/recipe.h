// Input recipes (methods.md §4): the resolved parameters of every preprocessing stage, as one value that is
// hashed into the cache key. The declared (spec-visible) parameters are those of recipe_catalog()
// (merx/spec/settings.h); the flow algorithms' internal settings are fixed here, recorded and hashed too.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace merx::prep {

using json = nlohmann::json;

/// Bumped whenever a stage's code changes its output for the same parameters (invalidates cache entries).
inline constexpr int kRecipeVersion = 1;

/// cv::optflow::DualTVL1OpticalFlow settings (OpenCV's defaults; Zach, Pock, Bischof 2007).
struct Tvl1Params {
  double tau = 0.25, lambda = 0.15, theta = 0.3, epsilon = 0.01, scale_step = 0.8, gamma = 0.0;
  int nscales = 5, warps = 5, inner_iterations = 30, outer_iterations = 10, median_filtering = 5;
  json to_json() const;
};

/// cv::calcOpticalFlowFarneback settings (the speed-comparison option).
struct FarnebackParams {
  double pyr_scale = 0.5, poly_sigma = 1.2;
  int levels = 3, winsize = 15, iterations = 3, poly_n = 5;
  json to_json() const;
};

/// Everything that decides what a clip becomes. Output: [channels(), size, size] float32.
struct RecipeConfig {
  std::string recipe = "flow_strain";  // flow_strain | flow_uv | apex_gray | onset_apex | flow_images
  int size = 28;                       // S, pixels of the output grid
  int flow_size = 128;                 // side F of the aligned crop (flow and landmarks live here), pixels
  std::string flow = "tvl1";           // tvl1 | farneback
  std::string normalisation = "none";  // none | maxabs | zscore, per sample and channel
  std::string detector = "dlib_hog";   // dlib_hog | haar (face detection on the onset frame)
  // Canonical eye-centre positions in the crop, as fractions of F: centres at
  // ((1 -/+ eye_distance) / 2 * F, eye_height * F).
  double eye_distance = 0.4, eye_height = 0.38;
  // flow_images only (hashed for it alone, so the other recipes' cache keys are unchanged):
  std::string scale = "unit";          // unit: b / 255; signed: b / 127.5 - 1 (b = the byte 0..255)
  std::string channel_order = "rgb";   // rgb: u, v, strain = PNG red, green, blue; bgr: blue, green, red
  Tvl1Params tvl1;
  FarnebackParams farneback;

  /// From a resolved recipe parameter object (check_params over the recipe's declarations: every declared
  /// name present). Throws merx::UserError for an unknown recipe or a missing/mistyped parameter.
  static RecipeConfig from_params(const std::string& recipe, const json& resolved);
  /// 3 (flow_strain, flow_images), 2 (flow_uv, onset_apex) or 1 (apex_gray).
  int channels() const;
  /// Computes flow from frames (flow_images carries flow but computes none: false).
  bool uses_flow() const { return recipe == "flow_strain" || recipe == "flow_uv"; }
  /// Reads a precomputed image per clip (SampleRecord::input_image) instead of frames.
  bool precomputed() const { return recipe == "flow_images"; }
  /// Every parameter of every stage plus kRecipeVersion: what the cache key hashes.
  json to_json() const;
};

}  // namespace merx::prep
