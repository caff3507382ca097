// Stages with analytic expectations: flow of known translations, strain of translation and scaling,
// frame decoding of every depth/channel count, flow-object reuse across samples and threads.
#include <cstring>
#include <vector>

#include <doctest/doctest.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <opencv2/imgproc.hpp>

#include "fixtures.h"
#include "merx/preprocessing/stages.h"

using namespace merx::prep;
using merx::test::inner_mean;

namespace {

void check_translation(double dx, double dy) {
  RecipeConfig c;  // OpenCV's TV-L1 defaults (stopping epsilon 0.01)
  const cv::Mat i0 = merx::test::shifted(64, 0, 0), i1 = merx::test::shifted(64, dx, dy);
  const cv::Mat f = FlowEstimator(c).compute(i0, i1);
  cv::Mat uv[2];
  cv::split(f, uv);
  CHECK(std::abs(inner_mean(uv[0], 8) - dx) < 0.05);
  CHECK(std::abs(inner_mean(uv[1], 8) - dy) < 0.05);
  // A pure translation has no strain; what remains is TV-L1's convergence noise: about 3e-3 at the default
  // stopping epsilon 0.01, below 1e-3 at epsilon 0.003 (three times slower).
  CHECK(inner_mean(optical_strain(f), 8) < 5e-3);
  c.tvl1.epsilon = 0.003;
  CHECK(inner_mean(optical_strain(FlowEstimator(c).compute(i0, i1)), 8) < 1e-3);
}

}  // namespace

TEST_CASE("TV-L1 recovers an integer translation of 2 px right and 1 px down") {
  check_translation(2, 1);
}

TEST_CASE("TV-L1 recovers a sub-pixel translation of 0.5 px and 0.25 px") {
  check_translation(0.5, 0.25);
}

TEST_CASE("optical strain of an analytic flow field uses per-pixel derivatives") {
  // u = 0.1 x, v = 0.3 y + 0.2 x: u_x = 0.1, v_y = 0.3, u_y + v_x = 0.2 -> eps = sqrt(0.01 + 0.09 + 0.02).
  cv::Mat flow(16, 16, CV_32FC2);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) flow.at<cv::Vec2f>(y, x) = cv::Vec2f(0.1f * x, 0.3f * y + 0.2f * x);
  const cv::Mat eps = optical_strain(flow);
  CHECK(eps.at<float>(8, 8) == doctest::Approx(std::sqrt(0.12)).epsilon(1e-5));
}

TEST_CASE("strain of a uniform scaling by 1.04 is sqrt(2) times 0.04 within 5 percent") {
  const double s = 1.04;
  RecipeConfig c;
  FlowEstimator flow(c);
  const cv::Mat f = flow.compute(merx::test::scaled(96, 1.0), merx::test::scaled(96, s));
  const double expected = std::sqrt(2.0) * std::abs(s - 1);
  CHECK(std::abs(inner_mean(optical_strain(f), 8) - expected) < 0.05 * expected);
}

TEST_CASE("frames of every depth and channel count decode to gray float in 0..1") {
  const cv::Mat g8(2, 2, CV_8UC1, cv::Scalar(255));
  const cv::Mat g16(2, 2, CV_16UC1, cv::Scalar(65535));
  const cv::Mat red8(2, 2, CV_8UC3, cv::Scalar(0, 0, 255));       // BGR
  const cv::Mat blue16(2, 2, CV_16UC3, cv::Scalar(65535, 0, 0));  // BGR
  const cv::Mat half16(2, 2, CV_16UC1, cv::Scalar(32768));
  CHECK(to_gray_float(g8).type() == CV_32FC1);
  CHECK(to_gray_float(g8).at<float>(1, 1) == doctest::Approx(1.0));
  CHECK(to_gray_float(g16).at<float>(0, 1) == doctest::Approx(1.0));
  CHECK(to_gray_float(half16).at<float>(0, 0) == doctest::Approx(32768.0 / 65535.0));
  CHECK(to_gray_float(red8).at<float>(0, 0) == doctest::Approx(0.299).epsilon(1e-3));    // BT.601 R weight
  CHECK(to_gray_float(blue16).at<float>(0, 0) == doctest::Approx(0.114).epsilon(1e-3));  // BT.601 B weight
  CHECK_THROWS_AS(to_gray_float(cv::Mat(2, 2, CV_64FC1)), std::invalid_argument);
  CHECK_THROWS_AS(to_gray_float(cv::Mat(2, 2, CV_8UC2)), std::invalid_argument);
}

TEST_CASE("resize to S scales u and v by S over the flow size") {
  cv::Mat u(64, 64, CV_32FC1, cv::Scalar(2.0f));
  const cv::Mat r = resize_map(u, 16, 16.0 / 64.0);
  CHECK(r.rows == 16);
  CHECK(r.at<float>(3, 5) == doctest::Approx(0.5));
}

TEST_CASE("normalisation maxabs and zscore per channel") {
  cv::Mat a = (cv::Mat_<float>(1, 4) << -4, 1, 2, 1);
  normalise(a, "maxabs");
  CHECK(a.at<float>(0, 0) == doctest::Approx(-1.0));
  CHECK(a.at<float>(0, 2) == doctest::Approx(0.5));
  cv::Mat z = (cv::Mat_<float>(1, 4) << 1, 3, 1, 3);  // mean 2, sd 1
  normalise(z, "zscore");
  CHECK(z.at<float>(0, 0) == doctest::Approx(-1.0));
  CHECK(z.at<float>(0, 1) == doctest::Approx(1.0));
  cv::Mat zero(2, 2, CV_32FC1, cv::Scalar(0));
  normalise(zero, "maxabs");
  normalise(zero, "zscore");
  CHECK(cv::countNonZero(zero) == 0);
}

TEST_CASE("one TV-L1 object reused across samples and threads equals a fresh object per sample") {
  const int n = 6;
  std::vector<std::pair<cv::Mat, cv::Mat>> pairs;
  for (int i = 0; i < n; ++i)
    pairs.emplace_back(merx::test::shifted(40, 0.3 * i, 0), merx::test::shifted(40, 0.3 * i + 0.7, 0.2 * i));
  RecipeConfig c;
  std::vector<cv::Mat> fresh;
  for (const auto& [a, b] : pairs) fresh.push_back(FlowEstimator(c).compute(a, b));

  auto same = [](const cv::Mat& x, const cv::Mat& y) {
    return x.size() == y.size() && x.type() == y.type() &&
           std::memcmp(x.data, y.data, x.total() * x.elemSize()) == 0;
  };
  FlowEstimator reused(c);
  for (int i = 0; i < n; ++i) CHECK(same(reused.compute(pairs[i].first, pairs[i].second), fresh[i]));

  for (int threads : {1, 2}) {
    CAPTURE(threads);
    std::vector<cv::Mat> out(n);
    tbb::enumerable_thread_specific<FlowEstimator> local([&] { return FlowEstimator(c); });
    tbb::task_arena arena(threads);
    arena.execute([&] {
      tbb::parallel_for(0, n,
                        [&](int i) { out[i] = local.local().compute(pairs[i].first, pairs[i].second); });
    });
    for (int i = 0; i < n; ++i) CHECK(same(out[i], fresh[i]));
  }
}
