// Face detection and landmarks on a real photograph: the public-domain Grace Hopper portrait (512 x 512,
// Debian package facedetect), fetched by tools/fetch-faces into <cache>/faces/.
#include <cstdlib>

#include <doctest/doctest.h>

#include "merx/preprocessing/cache.h"
#include "merx/preprocessing/face.h"
#include "merx/preprocessing/preprocess.h"
#include "merx/preprocessing/stages.h"

using namespace merx::prep;
namespace fs = std::filesystem;

namespace {

fs::path portrait() {
  const char* dir = std::getenv("MERX_FACES_DIR");
  return (dir && *dir ? fs::path(dir) : default_cache_dir() / "faces") / "grace_hopper_512x512.jpg";
}

}  // namespace

TEST_CASE("dlib finds the Grace Hopper face and 68 landmarks inside its box") {
  const fs::path file = portrait();
  if (!fs::exists(file)) {
    MESSAGE("skipped: " << file.string() << " not found (run tools/fetch-faces)");
    return;
  }
  const cv::Mat gray = to_gray_u8(read_gray(file));
  for (const std::string detector : {"dlib_hog", "haar"}) {
    CAPTURE(detector);
    const auto face = detect_face(gray, detector);
    REQUIRE(face.has_value());
    const cv::Rect box = face->box;
    CHECK(box.width > 100);  // the face fills about 40 % of the 512 px portrait
    REQUIRE(face->points.size() == 68);
    if (detector == "dlib_hog") {
      const cv::Rect2f inside(float(box.x) - 1, float(box.y) - 1, float(box.width) + 2,
                              float(box.height) + 2);
      for (const auto& p : face->points) CHECK(inside.contains(p));
    }
    const auto [l, r] = eye_centres(face->points);
    const double iod = cv::norm(r - l);
    CHECK(std::abs(iod - 0.4 * box.width) < 0.2 * 0.4 * box.width);
  }
}

TEST_CASE("alignment puts the onset eye centres at their canonical crop positions") {
  const fs::path file = portrait();
  if (!fs::exists(file)) {
    MESSAGE("skipped: " << file.string() << " not found (run tools/fetch-faces)");
    return;
  }
  RecipeConfig c;
  c.recipe = "apex_gray";
  c.flow_size = 128;
  const cv::Mat f = read_gray(file);
  const PrepResult r = Preprocessor(c).run_frames({f}, 0, false, false);
  CHECK_FALSE(r.face_fallback);
  REQUIRE(r.landmarks.size() == 68);
  const auto [l, rr] = eye_centres(r.landmarks);
  // eye_distance 0.4 and eye_height 0.38 of F = 128: (38.4, 48.64) and (89.6, 48.64).
  CHECK(l.x == doctest::Approx(38.4).epsilon(1e-3));
  CHECK(rr.x == doctest::Approx(89.6).epsilon(1e-3));
  CHECK(l.y == doctest::Approx(48.64).epsilon(1e-3));
  CHECK(rr.y == doctest::Approx(48.64).epsilon(1e-3));
}
