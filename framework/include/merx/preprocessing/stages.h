// Preprocessing stages on cv::Mat (no torch here). Each stage is a function or a small class whose
// parameters live in RecipeConfig (merx/preprocessing/recipe.h). Formulas: methods.md §4; optical strain as
// in STSTNet (Liong et al., FG 2019).
#pragma once

#include <filesystem>
#include <vector>

#include <opencv2/core.hpp>

#include "merx/preprocessing/recipe.h"

namespace merx::prep {

// ---- frame decoding ----

/// Any image (CV_8U, CV_16U or CV_32F; 1, 3 (BGR) or 4 (BGRA) channels) -> CV_32FC1 gray in [0, 1]:
/// 8-bit / 255, 16-bit / 65535, float taken as already in [0, 1]; colour -> gray by cv::cvtColor's
/// ITU-R BT.601 weights. Throws std::invalid_argument for other depths or channel counts.
cv::Mat to_gray_float(const cv::Mat& image);

/// CV_32FC1 in [0, 1] -> CV_8UC1 (rounded, saturated): what the face detectors take.
cv::Mat to_gray_u8(const cv::Mat& gray_float);

/// Reads a frame file with all its bits (IMREAD_UNCHANGED) and decodes it with to_gray_float().
/// Throws std::runtime_error naming the file when it is missing or unreadable.
cv::Mat read_gray(const std::filesystem::path& file);

// ---- optical flow ----

/// Dense flow between two equally sized CV_32FC1 frames in [0, 1]: returns CV_32FC2 (u, v) in pixels such
/// that i0(x, y) ~ i1(x + u, y + v). Keeps one OpenCV algorithm object and reuses it across calls (results
/// are identical to a fresh object: no initial flow is used). Not thread-safe: one per thread.
class FlowEstimator {
 public:
  explicit FlowEstimator(const RecipeConfig& config);
  cv::Mat compute(const cv::Mat& i0, const cv::Mat& i1);

 private:
  std::string method_;
  FarnebackParams farneback_;
  cv::Ptr<cv::Algorithm> tvl1_;
};

/// Optical strain magnitude eps = sqrt(u_x^2 + v_y^2 + 1/2 (u_y + v_x)^2) (STSTNet, methods.md §4), with
/// per-pixel central derivatives (cv::Sobel ksize 3 divided by its factor 8; replicated borders).
/// flow: CV_32FC2 in pixels; returns CV_32FC1, dimensionless.
cv::Mat optical_strain(const cv::Mat& flow);

/// Mean of |flow| over all pixels, in pixels.
double mean_flow_magnitude(const cv::Mat& flow);

/// Area-resize of a single-channel map to size x size. For u and v pass `value_scale` = size / F so the
/// displacements are expressed in pixels of the new grid.
cv::Mat resize_map(const cv::Mat& map, int size, double value_scale = 1.0);

/// In place, per channel: "none" | "maxabs" (divide by max |x|; all-zero stays zero) | "zscore" (subtract
/// the mean, divide by the standard deviation; a constant channel becomes zeros). Throws on other names.
void normalise(cv::Mat& channel, const std::string& mode);

}  // namespace merx::prep
