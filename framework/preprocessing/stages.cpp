// Frame decoding, optical flow, optical strain, resizing and normalisation (methods.md §4).
#include "merx/preprocessing/stages.h"

#include <cmath>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/optflow.hpp>
#include <opencv2/video/tracking.hpp>

namespace merx::prep {

cv::Mat to_gray_float(const cv::Mat& image) {
  if (image.empty()) throw std::invalid_argument("empty image");
  double scale = 1.0;
  switch (image.depth()) {
    case CV_8U:
      scale = 1.0 / 255.0;
      break;
    case CV_16U:
      scale = 1.0 / 65535.0;
      break;
    case CV_32F:
      scale = 1.0;
      break;
    default:
      throw std::invalid_argument("unsupported image depth (8-bit, 16-bit or float expected)");
  }
  cv::Mat f;
  image.convertTo(f, CV_MAKETYPE(CV_32F, image.channels()), scale);
  switch (image.channels()) {
    case 1:
      return f;
    case 3: {
      cv::Mat g;
      cv::cvtColor(f, g, cv::COLOR_BGR2GRAY);
      return g;
    }
    case 4: {
      cv::Mat g;
      cv::cvtColor(f, g, cv::COLOR_BGRA2GRAY);
      return g;
    }
    default:
      throw std::invalid_argument("unsupported channel count (1, 3 or 4 expected)");
  }
}

cv::Mat to_gray_u8(const cv::Mat& gray_float) {
  cv::Mat u8;
  gray_float.convertTo(u8, CV_8U, 255.0);  // rounds and saturates
  return u8;
}

cv::Mat read_gray(const std::filesystem::path& file) {
  cv::Mat raw = cv::imread(file.string(), cv::IMREAD_UNCHANGED);
  if (raw.empty()) {
    std::error_code ec;
    throw std::runtime_error((std::filesystem::exists(file, ec) ? "unreadable frame " : "missing frame ") +
                             file.string());
  }
  try {
    return to_gray_float(raw);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("frame " + file.string() + ": " + e.what());
  }
}

FlowEstimator::FlowEstimator(const RecipeConfig& config)
    : method_(config.flow), farneback_(config.farneback) {
  if (method_ == "tvl1") {
    const auto& p = config.tvl1;
    tvl1_ = cv::optflow::DualTVL1OpticalFlow::create(p.tau, p.lambda, p.theta, p.nscales, p.warps, p.epsilon,
                                                     p.inner_iterations, p.outer_iterations, p.scale_step,
                                                     p.gamma, p.median_filtering, false);
  } else if (method_ != "farneback") {
    throw std::invalid_argument("unknown flow method '" + method_ + "' (tvl1, farneback)");
  }
}

cv::Mat FlowEstimator::compute(const cv::Mat& i0, const cv::Mat& i1) {
  if (i0.type() != CV_32FC1 || i1.type() != CV_32FC1 || i0.size() != i1.size())
    throw std::invalid_argument("flow: two CV_32FC1 frames of equal size expected");
  cv::Mat flow;
  if (tvl1_) {
    // TV-L1 takes CV_32FC1 in [0, 1] (it rescales by 255 itself).
    tvl1_.dynamicCast<cv::optflow::DualTVL1OpticalFlow>()->calc(i0, i1, flow);
  } else {
    const auto& p = farneback_;
    cv::calcOpticalFlowFarneback(to_gray_u8(i0), to_gray_u8(i1), flow, p.pyr_scale, p.levels, p.winsize,
                                 p.iterations, p.poly_n, p.poly_sigma, 0);
  }
  return flow;
}

cv::Mat optical_strain(const cv::Mat& flow) {
  CV_Assert(flow.type() == CV_32FC2);
  cv::Mat uv[2];
  cv::split(flow, uv);
  // Sobel ksize 3 = [1 2 1]^T x [-1 0 1]: 2 (central difference) x 4 (smoothing weights) = 8 x d/dx.
  const double k = 1.0 / 8.0;
  cv::Mat ux, uy, vx, vy;
  cv::Sobel(uv[0], ux, CV_32F, 1, 0, 3, k, 0, cv::BORDER_REPLICATE);
  cv::Sobel(uv[0], uy, CV_32F, 0, 1, 3, k, 0, cv::BORDER_REPLICATE);
  cv::Sobel(uv[1], vx, CV_32F, 1, 0, 3, k, 0, cv::BORDER_REPLICATE);
  cv::Sobel(uv[1], vy, CV_32F, 0, 1, 3, k, 0, cv::BORDER_REPLICATE);
  cv::Mat shear = uy + vx;
  cv::Mat eps = ux.mul(ux) + vy.mul(vy) + 0.5 * shear.mul(shear);
  cv::sqrt(eps, eps);
  return eps;
}

double mean_flow_magnitude(const cv::Mat& flow) {
  CV_Assert(flow.type() == CV_32FC2);
  cv::Mat uv[2], mag;
  cv::split(flow, uv);
  cv::magnitude(uv[0], uv[1], mag);
  return cv::mean(mag)[0];
}

cv::Mat resize_map(const cv::Mat& map, int size, double value_scale) {
  cv::Mat out;
  if (map.rows == size && map.cols == size)
    out = map.clone();
  else
    cv::resize(map, out, cv::Size(size, size), 0, 0, size < map.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (value_scale != 1.0) out *= value_scale;
  return out;
}

void normalise(cv::Mat& channel, const std::string& mode) {
  if (mode == "none") return;
  if (mode == "maxabs") {
    double lo = 0, hi = 0;
    cv::minMaxLoc(channel, &lo, &hi);
    const double m = std::max(std::abs(lo), std::abs(hi));
    if (m > 0) channel /= m;
    return;
  }
  if (mode == "zscore") {
    cv::Scalar mean, sd;
    cv::meanStdDev(channel, mean, sd);
    channel -= mean[0];
    if (sd[0] > 0) channel /= sd[0];
    return;
  }
  throw std::invalid_argument("unknown normalisation '" + mode + "' (none, maxabs, zscore)");
}

}  // namespace merx::prep
