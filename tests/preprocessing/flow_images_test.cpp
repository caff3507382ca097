// The flow_images adapter and recipe on PNG trees written here with OpenCV, with known channel values:
// samples (subject, clip with the stray space trimmed, label, exact path), the tensor against hand-computed
// floats (scale, channel order, area resize), bad files (named, with what was expected), and the spec
// validator refusing a recipe/adapter pair of different input kinds.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "merx/datasets/load.h"
#include "merx/errors.h"
#include "merx/preprocessing/preprocess.h"
#include "merx/spec/settings.h"

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using merx::prep::Preprocessor;
using merx::prep::RecipeConfig;

namespace {

struct Tree {
  fs::path dir;
  explicit Tree(const std::string& name)
      : dir(fs::temp_directory_path() / ("merx_flowimg_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Tree() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// A PNG whose red, green and blue samples are r, g, b everywhere. cv::imwrite takes B, G, R order.
void write_constant(const fs::path& file, int r, int g, int b, int side = 8) {
  fs::create_directories(file.parent_path());
  REQUIRE(cv::imwrite(file.string(), cv::Mat(side, side, CV_8UC3, cv::Scalar(b, g, r))));
}

RecipeConfig recipe(const std::string& scale = "unit", const std::string& order = "rgb", int size = 8) {
  return RecipeConfig::from_params(
      "flow_images", {{"size", size}, {"scale", scale}, {"channel_order", order}, {"normalisation", "none"}});
}

merx::LoadResult load(const fs::path& root, merx::LoadMode mode = merx::LoadMode::Strict,
                      const nlohmann::json& options = nlohmann::json::object()) {
  merx::DatasetSource src;
  src.name = "ststnet";
  src.adapter = "flow_images";
  src.root = root;
  src.options = options;
  merx::LoadOptions o;
  o.mode = mode;
  return merx::load_dataset(src, o);
}

const merx::SampleRecord& by_clip(const merx::LoadResult& r, const std::string& clip) {
  for (const auto& s : r.samples)
    if (s.clip == clip) return s;
  FAIL("no sample " << clip);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("flow_images adapter: class from the folder, subject from the name, stray space trimmed") {
  const Tree t("adapter");
  write_constant(t.dir / "negative" / "sub01_EP02_01f.png", 51, 102, 204);
  write_constant(t.dir / "positive" / "sub05_EP09_05 .png", 0, 0, 0);
  write_constant(t.dir / "surprise" / "s01_ne_01.png", 255, 255, 255);
  write_constant(t.dir / "surprise" / "006_1_2.png", 1, 2, 3);
  std::ofstream(t.dir / "surprise" / "notes.txt") << "not an image";  // not a PNG: ignored

  const merx::LoadResult r = load(t.dir);
  REQUIRE(r.samples.size() == 4);
  const auto& a = by_clip(r, "sub01_EP02_01f");
  CHECK(a.key == "ststnet/sub01/sub01_EP02_01f");
  CHECK(a.subject == "sub01");
  CHECK(a.global_subject == "ststnet/sub01");
  CHECK(a.emotion == "negative");
  CHECK(a.label == std::optional<std::string>("negative"));
  CHECK(a.input_image == t.dir / "negative" / "sub01_EP02_01f.png");
  CHECK((a.frames == std::vector<fs::path>{a.input_image}));
  CHECK_FALSE(a.apex);
  CHECK_FALSE(a.apex_missing);
  CHECK_FALSE(a.aus);

  const auto& b = by_clip(r, "sub05_EP09_05");  // trimmed clip name, path kept with its space
  CHECK(b.subject == "sub05");
  CHECK(b.input_image.filename().string() == "sub05_EP09_05 .png");
  CHECK(fs::is_regular_file(b.input_image));
  CHECK(b.label == std::optional<std::string>("positive"));
  CHECK(by_clip(r, "s01_ne_01").subject == "s01");
  CHECK(by_clip(r, "006_1_2").subject == "006");
  CHECK(by_clip(r, "006_1_2").emotion == "surprise");

  // A declared subject pattern; one that does not match is a problem of that clip.
  const merx::LoadResult d = load(t.dir, merx::LoadMode::Lenient, {{"subject", "^(sub\\d+)_"}});
  CHECK(d.samples.size() == 2);
  REQUIRE(d.dropped.size() == 2);
  CHECK(d.dropped[0].reason.find("gives no subject with the `subject` pattern") != std::string::npos);
  CHECK_THROWS_WITH_AS(load(t.dir, merx::LoadMode::Strict, {{"subject", "(a)(b)"}}),
                       doctest::Contains("has 2 capture groups; it needs exactly one"), merx::UserError);
}

TEST_CASE("flow_images adapter: subject folders with the folders option") {
  const Tree t("folders");
  write_constant(t.dir / "sub01" / "0" / "EP02_01f.png", 10, 20, 30);
  write_constant(t.dir / "sub02" / "1" / "EP03_02.png", 10, 20, 30);
  const merx::LoadResult r = load(t.dir, merx::LoadMode::Strict, {{"folders", "{subject}/{class}"}});
  REQUIRE(r.samples.size() == 2);
  CHECK(r.samples[0].key == "ststnet/sub01/EP02_01f");
  CHECK(r.samples[0].emotion == "0");
  CHECK(r.samples[1].key == "ststnet/sub02/EP03_02");
  CHECK(r.samples[1].emotion == "1");
}

TEST_CASE("flow_images recipe: bytes to u, v, strain by the declared scale and channel order") {
  const Tree t("recipe");
  write_constant(t.dir / "negative" / "sub01_EP02_01f.png", 51, 102, 204);
  const merx::LoadResult r = load(t.dir);
  REQUIRE(r.samples.size() == 1);
  const auto& s = r.samples[0];
  const size_t n = 8 * 8;

  // rgb: u = red 51, v = green 102, strain = blue 204. unit: 51 / 255 = 0.2, 102 / 255 = 0.4, 204 / 255 =
  // 0.8.
  const auto unit = Preprocessor(recipe()).run(s);
  CHECK(unit.channels == 3);
  CHECK(unit.size == 8);
  REQUIRE(unit.data.size() == 3 * n);
  for (size_t i = 0; i < n; ++i) {
    CHECK(unit.data[i] == doctest::Approx(0.2).epsilon(1e-6));
    CHECK(unit.data[n + i] == doctest::Approx(0.4).epsilon(1e-6));
    CHECK(unit.data[2 * n + i] == doctest::Approx(0.8).epsilon(1e-6));
  }
  // signed: 51 / 127.5 - 1 = -0.6, 102 / 127.5 - 1 = -0.2, 204 / 127.5 - 1 = 0.6.
  const auto sgn = Preprocessor(recipe("signed")).run(s);
  CHECK(sgn.data[0] == doctest::Approx(-0.6).epsilon(1e-6));
  CHECK(sgn.data[n] == doctest::Approx(-0.2).epsilon(1e-6));
  CHECK(sgn.data[2 * n] == doctest::Approx(0.6).epsilon(1e-6));
  // bgr (a [u, v, strain] array written by cv2.imwrite): u = blue 204, strain = red 51.
  const auto bgr = Preprocessor(recipe("unit", "bgr")).run(s);
  CHECK(bgr.data[0] == doctest::Approx(0.8).epsilon(1e-6));
  CHECK(bgr.data[n] == doctest::Approx(0.4).epsilon(1e-6));
  CHECK(bgr.data[2 * n] == doctest::Approx(0.2).epsilon(1e-6));

  // A frame recipe refuses the precomputed sample.
  const auto flow = RecipeConfig::from_params("flow_strain", {{"size", 8},
                                                              {"flow_size", 32},
                                                              {"flow", "farneback"},
                                                              {"normalisation", "none"},
                                                              {"detector", "haar"}});
  CHECK_THROWS_WITH_AS(Preprocessor(flow).run(s), doctest::Contains("recipe flow_strain needs frames"),
                       merx::prep::PrepError);
}

TEST_CASE("flow_images recipe: area resize of a ramp gives the block means") {
  // 16 x 16, red = 2 * column, green = 3 * row, blue = 100. Resized to 8 x 8, output column k averages
  // columns 2k and 2k + 1: red (4k + 4k + 2) / 2 = 4k + 1; likewise row k: green 3 * (2k + 0.5) = 6k + 1.5.
  cv::Mat img(16, 16, CV_8UC3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(100, static_cast<uchar>(3 * y), static_cast<uchar>(2 * x));
  const auto r = Preprocessor(recipe()).run_image(img, "ramp");
  const size_t n = 64;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      CAPTURE(x);
      CAPTURE(y);
      CHECK(r.data[y * 8 + x] == doctest::Approx((4.0 * x + 1) / 255).epsilon(1e-5));
      CHECK(r.data[n + y * 8 + x] == doctest::Approx((6.0 * y + 1.5) / 255).epsilon(1e-5));
      CHECK(r.data[2 * n + y * 8 + x] == doctest::Approx(100.0 / 255).epsilon(1e-5));
    }
  CHECK_THROWS_WITH_AS(Preprocessor(recipe()).run_image(cv::Mat(4, 4, CV_8UC1, cv::Scalar(9)), "gray.png"),
                       doctest::Contains("gray.png: has 1 channel(s) of 8 bits; expected 3 channels"),
                       merx::prep::PrepError);
}

TEST_CASE("flow_images adapter: unreadable or wrongly shaped PNGs name the file and what was expected") {
  const Tree t("bad");
  write_constant(t.dir / "negative" / "sub01_EP01.png", 1, 2, 3);
  fs::create_directories(t.dir / "positive");
  REQUIRE(
      cv::imwrite((t.dir / "positive" / "sub02_EP01.png").string(), cv::Mat(8, 8, CV_8UC1, cv::Scalar(7))));
  REQUIRE(cv::imwrite((t.dir / "positive" / "sub03_EP01.png").string(),
                      cv::Mat(8, 8, CV_8UC4, cv::Scalar(1, 2, 3, 4))));
  REQUIRE(cv::imwrite((t.dir / "positive" / "sub04_EP01.png").string(),
                      cv::Mat(8, 8, CV_16UC3, cv::Scalar(1, 2, 3))));
  std::ofstream(t.dir / "positive" / "sub05_EP01.png") << "this is no image at all";

  const merx::LoadResult r = load(t.dir, merx::LoadMode::Lenient);
  REQUIRE(r.samples.size() == 1);
  CHECK(r.samples[0].clip == "sub01_EP01");
  REQUIRE(r.dropped.size() == 4);
  const std::string dir = (t.dir / "positive").string();
  CHECK(r.dropped[0].reason ==
        "flow image " + dir +
            "/sub02_EP01.png has 1 channel (grey); expected 3 channels (u, v, strain) of 8 bits");
  CHECK(r.dropped[1].reason ==
        "flow image " + dir +
            "/sub03_EP01.png has 4 channels (RGBA); expected 3 channels (u, v, strain) of 8 bits");
  CHECK(r.dropped[2].reason ==
        "flow image " + dir +
            "/sub04_EP01.png has 16-bit channels; expected 3 channels (u, v, strain) of 8 "
            "bits (0..255)");
  CHECK(r.dropped[3].reason.find("flow image " + dir + "/sub05_EP01.png is not a JPEG, PNG") == 0);

  try {
    load(t.dir, merx::LoadMode::Strict);
    FAIL("strict load accepted bad flow images");
  } catch (const merx::DatasetError& e) {
    const std::string what = e.what();
    CHECK(what.find("sub02_EP01.png has 1 channel (grey)") != std::string::npos);
    CHECK(what.find("sub05_EP01.png is not a JPEG, PNG") != std::string::npos);
  }
}

TEST_CASE("recipe catalog: flow_images reads flow images, the frame recipes read frames") {
  const merx::RecipeInfo* fi = merx::find_recipe("flow_images");
  REQUIRE(fi);
  CHECK(fi->input == "flow_images");
  CHECK(fi->channels == 3);
  CHECK(merx::find_recipe("flow_strain")->input == "frames");
  CHECK((merx::recipe_channel_names("flow_images") == std::vector<std::string>{"u", "v", "strain"}));
}
