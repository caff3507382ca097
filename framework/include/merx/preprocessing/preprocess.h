// A sample record -> the recipe's tensor, as a plain float buffer [C, S, S] (row-major, channel first).
// Channels (methods.md §4):
//   flow_strain [u, v, eps]   u, v: flow onset->apex in pixels of the S x S grid (pixels of the F x F
//                             aligned crop times S / F); eps: optical strain, dimensionless
//   flow_uv     [u, v]        as above
//   apex_gray   [apex]        gray levels in [0, 1]
//   onset_apex  [onset, apex] gray levels in [0, 1], whatever the corpus's colour
//   flow_images [u, v, strain] a precomputed 8-bit 3-channel image (SampleRecord::input_image) as it is:
//                             bytes b -> b / 255 (scale unit) or b / 127.5 - 1 (signed); no alignment, no
//                             flow; resized to S x S by area averaging (whatever units its maker used)
// then normalised per channel as the recipe says. Pipeline: decode -> detect + landmarks on the onset frame
// -> one similarity transform per clip (eye centres) applied to every frame -> F x F crop -> flow on the
// crops -> strain -> resize to S x S -> normalise.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "merx/datasets/sample.h"
#include "merx/preprocessing/face.h"
#include "merx/preprocessing/recipe.h"

namespace merx::prep {

/// A sample that cannot be preprocessed (missing or unreadable frame, empty clip): what() is the reason.
struct PrepError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct PrepResult {
  int channels = 0, size = 0;  // data is [channels, size, size]
  std::vector<float> data;
  size_t onset_index = 0;  // positions in SampleRecord::frames actually used
  size_t apex_index = 0;
  bool apex_estimated = false;  // apex chosen here (max mean flow magnitude from onset), sample had none
  bool face_fallback = false;   // no face found: centre square of the frame used instead
  bool zero_flow = false;       // onset = apex (or a one-frame clip): the flow channels are exact zeros
  /// 68 onset landmarks in the aligned crop's frame of reference (pixels of the F x F crop); empty when
  /// the face was not found. For face-cropped corpora they are fitted inside the whole frame.
  std::vector<cv::Point2f> landmarks;
  std::string note;  // human-readable flags ("no face found: centre crop", ...)

  /// Channel c as a CV_32FC1 header over data (no copy).
  cv::Mat channel(int c) { return cv::Mat(size, size, CV_32FC1, data.data() + size_t(c) * size * size); }
};

/// Runs a recipe. Thread-safe: each thread gets its own flow object (reused across samples); face models
/// are loaded once per process.
class Preprocessor {
 public:
  explicit Preprocessor(RecipeConfig config, FaceModels models = default_face_models());
  const RecipeConfig& config() const { return config_; }
  const FaceModels& models() const { return models_; }

  /// Throws PrepError for a sample that cannot be done (the reason names the frame), and for a sample whose
  /// kind does not fit the recipe (flow_images needs SampleRecord::input_image, the others frames).
  PrepResult run(const SampleRecord& sample) const;

  /// flow_images on an image already decoded by cv::imread(IMREAD_UNCHANGED) (so B, G, R order): must be
  /// CV_8UC3, else PrepError naming `what` (the sample and file) and what was expected.
  PrepResult run_image(const cv::Mat& image, const std::string& what) const;

  /// The same on frames already decoded (CV_32FC1 in [0, 1], any sizes): frames[k] is the clip's k-th frame.
  PrepResult run_frames(const std::vector<cv::Mat>& frames, size_t apex_index, bool apex_missing,
                        bool face_cropped) const;

 private:
  RecipeConfig config_;
  FaceModels models_;
};

}  // namespace merx::prep
