// The flow_roi AU estimator (merx/preprocessing/au_roi.h): magnitudes on a hand-made flow field and the
// 0..5 scaling by the 95th percentile, values worked out by hand.
#include <cmath>
#include <limits>
#include <vector>

#include <opencv2/core/types.hpp>

#include "merx/preprocessing/au_roi.h"

#include <doctest/doctest.h>

TEST_CASE("flow_roi: uniform flow (3 4) gives magnitude 5 in every AU region and no landmarks gives NaN") {
  const int s = 28;
  const std::vector<float> u(s * s, 3.0f), v(s * s, 4.0f);
  std::vector<cv::Point2f> lm(68);
  for (int i = 0; i < 68; ++i)  // spread over the middle of a 112-pixel crop
    lm[i] = cv::Point2f(28.0f + static_cast<float>(i % 9) * 7.0f, 30.0f + static_cast<float>(i / 9) * 7.0f);
  const auto& ids = merx::prep::flow_roi_aus();
  REQUIRE(ids == std::vector<int>{1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17});
  const auto m = merx::prep::flow_roi_magnitudes(u.data(), v.data(), s, lm, 112, ids);
  for (float x : m) CHECK(x == doctest::Approx(5.0));
  const auto none = merx::prep::flow_roi_magnitudes(u.data(), v.data(), s, {}, 112, ids);
  for (float x : none) CHECK(std::isnan(x));
  const auto au45 = merx::prep::flow_roi_magnitudes(u.data(), v.data(), s, lm, 112, {45});  // no region
  CHECK(std::isnan(au45[0]));
}

TEST_CASE("flow_roi: motion only in the right half reaches the AU regions there") {
  const int s = 20;
  std::vector<float> u(s * s, 0.0f), v(s * s, 0.0f);
  for (int y = 0; y < s; ++y)
    for (int x = s / 2; x < s; ++x) u[static_cast<size_t>(y * s + x)] = 2.0f;
  std::vector<cv::Point2f> lm(68, cv::Point2f(5.0f, 10.0f));  // every landmark in the left half (crop = grid)
  for (int i : {48, 54}) lm[static_cast<size_t>(i)] = cv::Point2f(15.0f, 10.0f);  // lip corners on the right
  for (int i = 42; i < 48; ++i)
    lm[static_cast<size_t>(i)] = cv::Point2f(9.0f, 10.0f);  // eyes 4 px apart: r = 1
  const auto m = merx::prep::flow_roi_magnitudes(u.data(), v.data(), s, lm, s, {12, 1});
  CHECK(m[0] == doctest::Approx(2.0));  // AU12 = lip corners only: all on the moving side
  CHECK(m[1] == doctest::Approx(0.0));  // AU1 = inner brows, left: still
}

TEST_CASE("flow_roi scaling: 5 * m / q95 and q95 by linear interpolation and capped at 5 and NaN kept") {
  // Finite values {1, 2, 3}: q95 at position 0.95 * 2 = 1.9 -> 2 + 0.9 * (3 - 2) = 2.9.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<std::vector<float>> rows = {{1.0f, 2.0f}, {3.0f, nan}};
  CHECK(merx::prep::scale_flow_roi(rows) == doctest::Approx(2.9));
  CHECK(rows[0][0] == doctest::Approx(5.0 / 2.9));
  CHECK(rows[0][1] == doctest::Approx(10.0 / 2.9));
  CHECK(rows[1][0] == doctest::Approx(5.0));
  CHECK(std::isnan(rows[1][1]));
}
