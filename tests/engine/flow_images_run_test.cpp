// `merx run` end to end on precomputed flow images only: three small flow_images trees (alpha, beta,
// gamma; two subjects x three classes, one 28 x 28 PNG each, one name with a stray space), LODO with
// STSTNet through the recipe flow_images. Also: `merx validate` refuses a frame recipe over flow images
// (exit 2, naming the dataset), and `merx datasets check` names a bad PNG (exit 2 strict).
#include <filesystem>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../cli/run.h"
#include "corpus_fixture.h"

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using merx::test::run_merx;
using namespace merx::test::engine;

namespace {

// <root>/<class>/<subject>_<clip>.png; each class has its own dominant channel so the task is learnable.
void write_tree(const fs::path& root, const std::string& prefix) {
  const char* classes[3] = {"negative", "positive", "surprise"};
  for (int c = 0; c < 3; ++c)
    for (int s = 1; s <= 2; ++s) {
      const fs::path dir = root / classes[c];
      fs::create_directories(dir);
      cv::Mat img(28, 28, CV_8UC3, cv::Scalar(40, 40, 40));
      cv::randu(img, cv::Scalar(0, 0, 0), cv::Scalar(60, 60, 60));
      img.colRange(0, 14).setTo(cv::Scalar(c == 2 ? 220 : 40, c == 1 ? 220 : 40, c == 0 ? 220 : 40));
      const std::string name = prefix + std::to_string(s) + "_EP0" + std::to_string(c + 1) +
                               (s == 2 && c == 0 ? " .png" : ".png");  // one stray space, as STSTNet's
      REQUIRE(cv::imwrite((dir / name).string(), img));
    }
}

nlohmann::json flow_spec(const fs::path& dir, const std::string& output, const std::string& recipe) {
  nlohmann::json datasets = nlohmann::json::array();
  for (const std::string d : {"alpha", "beta", "gamma"})
    datasets.push_back({{"name", d}, {"adapter", "flow_images"}, {"root", (dir / d).string()}});
  return {{"name", "flow_images_e2e"},
          {"datasets", datasets},
          {"labels", {{"name", "native"}}},
          {"recipe", {{"name", recipe}}},
          {"protocol", {{"name", "lodo"}}},
          {"backbone", {{"name", "ststnet"}}},
          {"training", {{"epochs", 1}, {"batch", 2}, {"lr", 0.01}, {"threads_per_cell", 1}}},
          {"seeds", 1},
          {"output", output}};
}

}  // namespace

TEST_CASE("merx run: LODO over three flow_images trees through the recipe flow_images completes") {
  const Scratch scratch("flowimg");
  const fs::path& dir = scratch.dir;
  write_tree(dir / "alpha", "sub0");
  write_tree(dir / "beta", "s0");
  write_tree(dir / "gamma", "00");
  const fs::path db = dir / "results.sqlite";
  const fs::path file = write_spec(dir, "spec.json", flow_spec(dir, db.string(), "flow_images"));

  const auto r = run_merx("run " + q(file) + " --cache " + q(dir / "cache") + " --prep-jobs 2");
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("flow_images_e2e: 3 cells run (3 done, 0 failed), 0 already done") != std::string::npos);
  // The inputs went through the feature cache: one entry per clip (3 datasets x 6 PNGs).
  size_t entries = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "cache" / "prep" / "flow_images"))
    entries += e.path().extension() == ".mxp";
  CHECK(entries == 18);

  const auto bad =
      run_merx("validate " + q(write_spec(dir, "bad.json", flow_spec(dir, db.string(), "flow_strain"))));
  CHECK(bad.code == 2);
  CHECK((bad.out + bad.err)
            .find("recipe `flow_strain` reads frames, but dataset `alpha` (adapter `flow_images`) has "
                  "precomputed flow images; use the recipe `flow_images`") != std::string::npos);
}

TEST_CASE("merx datasets check: a flow image with the wrong channel count is named, exit 2 in strict mode") {
  const Scratch scratch("flowimg_check");
  const fs::path& dir = scratch.dir;
  write_tree(dir / "alpha", "sub0");
  const fs::path gray = dir / "alpha" / "positive" / "sub03_EP02.png";
  REQUIRE(cv::imwrite(gray.string(), cv::Mat(28, 28, CV_8UC1, cv::Scalar(9))));
  const std::string args = "datasets check --adapter flow_images --root " + q(dir / "alpha");
  const auto strict = run_merx(args);
  INFO(strict.out);
  INFO(strict.err);
  CHECK(strict.code == 2);
  CHECK((strict.out + strict.err)
            .find("flow image " + gray.string() + " has 1 channel (grey); expected 3 channels") !=
        std::string::npos);
  const auto lenient = run_merx(args + " --mode lenient");
  INFO(lenient.out);
  CHECK(lenient.code == 0);
  CHECK(lenient.out.find("sub03_EP02.png has 1 channel (grey)") != std::string::npos);
}
