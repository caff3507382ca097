// Synthetic images with analytic motion for the preprocessing tests.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "merx/datasets/sample.h"

namespace merx::test {

/// A smooth texture (wavelengths 7-29 px) in [0.1, 0.9], defined everywhere so shifts can be sub-pixel.
inline float texture(double x, double y) {
  const double two_pi = 6.283185307179586;
  return static_cast<float>(0.5 + 0.15 * std::sin(two_pi * (x / 13.0 + y / 29.0)) +
                            0.1 * std::cos(two_pi * (x / 7.3 - y / 17.0)) +
                            0.1 * std::sin(two_pi * y / 11.0 + 1));
}

/// I(x, y) = texture(m(x, y)) for a coordinate map m.
template <typename Map>
cv::Mat render(int side, Map m) {
  cv::Mat img(side, side, CV_32FC1);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const auto [sx, sy] = m(double(x), double(y));
      img.at<float>(y, x) = texture(sx, sy);
    }
  return img;
}

/// The texture moved by (dx, dy): I1(x) = I0(x - d), so the flow I0 -> I1 is exactly d.
inline cv::Mat shifted(int side, double dx, double dy) {
  return render(side, [&](double x, double y) { return std::pair{x - dx, y - dy}; });
}

/// Uniform scaling by s about the centre: the flow is (s - 1)(x - c).
inline cv::Mat scaled(int side, double s) {
  const double c = (side - 1) / 2.0;
  return render(side, [&](double x, double y) { return std::pair{c + (x - c) / s, c + (y - c) / s}; });
}

/// Mean of a single-channel map inside a border of `b` pixels.
inline double inner_mean(const cv::Mat& m, int b) {
  return cv::mean(m(cv::Rect(b, b, m.cols - 2 * b, m.rows - 2 * b)))[0];
}

/// A fresh, empty folder under the build tree's temporary area.
inline std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("merx_prep_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// Writes frames as PNG files and returns a sample record over them (apex at `apex`).
inline SampleRecord write_clip(const std::filesystem::path& dir, const std::string& key,
                               const std::vector<cv::Mat>& frames, size_t apex) {
  std::filesystem::create_directories(dir);
  SampleRecord s;
  s.key = key;
  s.dataset = "synthetic";
  s.adapter = "none";
  s.subject = "s1";
  s.clip = key;
  s.folder = dir;
  for (size_t k = 0; k < frames.size(); ++k) {
    const auto f = dir / (key + "_" + std::to_string(k) + ".png");
    cv::imwrite(f.string(), frames[k]);
    s.frames.push_back(f);
    s.frame_numbers.push_back(static_cast<int64_t>(k));
  }
  s.onset = 0;
  s.offset = static_cast<int64_t>(frames.size()) - 1;
  s.apex = static_cast<int64_t>(apex);
  s.apex_index = apex;
  s.offset_index = frames.size() - 1;
  return s;
}

/// CV_32FC1 in [0, 1] -> CV_8UC1.
inline cv::Mat u8(const cv::Mat& f) {
  cv::Mat o;
  f.convertTo(o, CV_8U, 255.0);
  return o;
}

}  // namespace merx::test
