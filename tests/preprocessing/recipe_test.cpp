// Recipes end to end on synthetic clips written to disk: which frames are used, tensor shapes for every
// input type, zero flow, apex estimation, and the recipe declarations the spec layer validates.
#include <cmath>

#include <doctest/doctest.h>
#include <opencv2/imgproc.hpp>

#include "fixtures.h"
#include "merx/preprocessing/preprocess.h"
#include "merx/spec/params_check.h"
#include "merx/spec/settings.h"

using namespace merx::prep;

namespace {

RecipeConfig small(const std::string& recipe, int flow_size = 48, int size = 16) {
  RecipeConfig c;
  c.recipe = recipe;
  c.flow_size = flow_size;
  c.size = size;
  return c;
}

}  // namespace

TEST_CASE("a clip whose frame k is the constant k times 20 takes onset and apex from the right frames") {
  const auto dir = merx::test::scratch("constant");
  std::vector<cv::Mat> frames;
  for (int k = 0; k < 10; ++k) frames.emplace_back(40, 48, CV_8UC1, cv::Scalar(20 * k));
  const auto s = merx::test::write_clip(dir, "const", frames, 6);

  const PrepResult a = Preprocessor(small("apex_gray")).run(s);
  CHECK(a.channels == 1);
  CHECK(a.size == 16);
  CHECK(a.apex_index == 6);
  CHECK(a.face_fallback);  // a flat image has no face: centre crop
  for (float v : a.data) REQUIRE(v == doctest::Approx(120.0 / 255.0));

  PrepResult oa = Preprocessor(small("onset_apex")).run(s);
  REQUIRE(oa.data.size() == 2u * 16 * 16);
  CHECK(oa.data[0] == doctest::Approx(0.0));                       // channel 0 = onset (frame 0)
  CHECK(oa.data[16 * 16 + 17] == doctest::Approx(120.0 / 255.0));  // channel 1 = apex (frame 6)
  CHECK(cv::countNonZero(oa.channel(0)) == 0);
}

TEST_CASE("gray, BGR and 16-bit frames give tensors of the declared shape") {
  const auto dir = merx::test::scratch("types");
  const cv::Mat a = merx::test::shifted(48, 0, 0), b = merx::test::shifted(48, 1, 0.5);
  cv::Mat a16, b16, abgr, bbgr;
  a.convertTo(a16, CV_16U, 65535.0);
  b.convertTo(b16, CV_16U, 65535.0);
  cv::cvtColor(merx::test::u8(a), abgr, cv::COLOR_GRAY2BGR);
  cv::cvtColor(merx::test::u8(b), bbgr, cv::COLOR_GRAY2BGR);
  const std::vector<std::pair<std::string, std::vector<cv::Mat>>> inputs = {
      {"gray", {merx::test::u8(a), merx::test::u8(b)}}, {"bgr", {abgr, bbgr}}, {"u16", {a16, b16}}};
  for (const auto& [name, frames] : inputs) {
    CAPTURE(name);
    const auto s = merx::test::write_clip(dir, name, frames, 1);
    for (const auto& [recipe, channels] : std::vector<std::pair<std::string, int>>{
             {"flow_strain", 3}, {"flow_uv", 2}, {"apex_gray", 1}, {"onset_apex", 2}}) {
      CAPTURE(recipe);
      const PrepResult r = Preprocessor(small(recipe)).run(s);
      CHECK(r.channels == channels);
      CHECK(r.size == 16);
      CHECK(r.data.size() == size_t(channels) * 16 * 16);
      for (float v : r.data) REQUIRE(std::isfinite(v));
    }
    // u in pixels of the 16 x 16 grid: 1 px at flow size 48 -> 1/3.
    PrepResult f = Preprocessor(small("flow_uv")).run(s);
    CHECK(merx::test::inner_mean(f.channel(0), 3) == doctest::Approx(1.0 / 3).epsilon(0.1));
  }
}

TEST_CASE("onset equal to apex gives finite zeros and the zero-flow flag") {
  const auto dir = merx::test::scratch("zero");
  const auto s = merx::test::write_clip(dir, "z", {merx::test::u8(merx::test::shifted(48, 0, 0))}, 0);
  for (const std::string norm : {"none", "maxabs", "zscore"}) {
    CAPTURE(norm);
    RecipeConfig c = small("flow_strain");
    c.normalisation = norm;
    const PrepResult r = Preprocessor(c).run(s);
    CHECK(r.zero_flow);
    REQUIRE(r.data.size() == 3u * 16 * 16);
    for (float v : r.data) REQUIRE(v == 0.0f);
  }
}

TEST_CASE("a missing apex is estimated as the frame of largest mean flow magnitude from onset") {
  const auto dir = merx::test::scratch("apex");
  std::vector<cv::Mat> frames;
  for (double d : {0.0, 0.5, 1.0, 2.0, 1.0, 0.5})
    frames.push_back(merx::test::u8(merx::test::shifted(48, d, 0)));
  auto s = merx::test::write_clip(dir, "apexless", frames, 0);
  s.apex.reset();
  s.apex_index.reset();
  s.apex_missing = true;
  const PrepResult r = Preprocessor(small("flow_uv")).run(s);
  CHECK(r.apex_estimated);
  CHECK(r.apex_index == 3);
}

TEST_CASE("a missing frame fails the sample with its reason") {
  const auto dir = merx::test::scratch("missing");
  auto s = merx::test::write_clip(
      dir, "m",
      {merx::test::u8(merx::test::shifted(32, 0, 0)), merx::test::u8(merx::test::shifted(32, 1, 0))}, 1);
  std::filesystem::remove(s.frames[1]);
  try {
    Preprocessor(small("flow_uv")).run(s);
    FAIL("no PrepError");
  } catch (const PrepError& e) {
    CHECK(std::string(e.what()).find("missing frame") != std::string::npos);
  }
}

TEST_CASE("every declared recipe parameter resolves into a RecipeConfig") {
  for (const auto& info : merx::recipe_catalog()) {
    CAPTURE(info.name);
    std::vector<merx::Problem> problems;
    const auto resolved =
        merx::check_params(info.params, merx::json::object(), "recipe.params", info.name, problems);
    REQUIRE(problems.empty());
    const RecipeConfig c = RecipeConfig::from_params(info.name, resolved);
    CHECK(c.channels() == info.channels);
    const auto j = c.to_json();
    for (const auto& d : info.params) CHECK(j.contains(d.name));
  }
  CHECK_THROWS_AS(RecipeConfig::from_params("flow_strain", merx::json::object()), merx::UserError);
}
