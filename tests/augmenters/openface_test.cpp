// The OpenFace AU importer (merx/datasets/openface.h) on fixture files written by hand
// (tests/augmenters/fixtures/openface/s01/*.csv; what each one holds is said above it in this file). Expected
// vectors are the fixture's numbers read off by eye, in the 12-AU cross-set order 1, 2, 4, 5, 6, 7, 9, 10,
// 12, 14, 15, 17.
#include <filesystem>
#include <string>
#include <vector>

#include "merx/datasets/labels.h"
#include "merx/datasets/openface.h"
#include "merx/errors.h"

#include <doctest/doctest.h>

namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(MERX_SOURCE_DIR) / "tests/augmenters/fixtures/openface";

merx::OpenFaceAus apex(const std::string& clip, int64_t position) {
  return merx::openface_apex_aus(merx::read_openface_csv(kDir / "s01" / (clip + ".csv")), position,
                                 merx::au_set("cross"));
}

void check_vector(const merx::OpenFaceAus& a, const std::vector<float>& want) {
  REQUIRE(a.values.has_value());
  REQUIRE(a.values->size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK((*a.values)[i] == doctest::Approx(want[i]));
}

}  // namespace

TEST_CASE("OpenFace: header names with leading spaces and extra columns and the apex row itself") {
  // `frame, face_id, timestamp, confidence, success, AU01_r, ...`; apex position 3 -> row frame 3.
  const merx::OpenFaceAus a = apex("leading_spaces", 3);
  check_vector(a, {2.4f, 1.8f, 0.2f, 3.1f, 0, 0.4f, 0, 0, 1.2f, 0, 0, 0.7f});
  CHECK(a.exact);
  CHECK(a.frame_used == 3);
  CHECK(a.negatives_clamped == 0);
}

TEST_CASE("OpenFace: apex row with success 0 falls back to the nearest successful row and earlier on a tie") {
  // Columns in reverse order; apex 3 failed, frames 2 and 4 succeed at distance 1 -> frame 2.
  const merx::OpenFaceAus a = apex("apex_failed", 3);
  check_vector(a, {0, 0, 0, 0, 1.5f, 0, 0, 0, 2.5f, 0, 0, 0.5f});
  CHECK_FALSE(a.exact);
  CHECK(a.frame_used == 2);
}

TEST_CASE("OpenFace: a successful row 2 frames after the apex is used and 3 frames away is missing") {
  const merx::OpenFaceAus near = apex("plus_two", 3);  // frames 1-4 failed, frame 5 ok
  check_vector(near, {0, 0, 4.2f, 0, 0, 2.0f, 0, 0, 0, 0, 0, 0});
  CHECK(near.frame_used == 5);
  const merx::OpenFaceAus far = apex("too_far", 3);  // only frame 6 ok
  CHECK_FALSE(far.values.has_value());
  CHECK(far.reason == "apex row has success = 0 and no row with success = 1 within 2 frames");
  const merx::OpenFaceAus past_end =
      apex("leading_spaces", 9);  // 5 rows: frame 9 absent, nearest ok is 5 (4 away)
  CHECK_FALSE(past_end.values.has_value());
  CHECK(past_end.reason == "no row for the apex frame and no row with success = 1 within 2 frames");
}

TEST_CASE("OpenFace: negative intensities are clamped to 0 and counted and values above 5 clamped to 5") {
  const merx::OpenFaceAus a = apex("negatives", 2);
  check_vector(a, {0, 0.8f, 0, 0, 5.0f, 0, 0, 0, 2.25f, 0, 0, 0.1f});
  CHECK(a.negatives_clamped == 3);
}

TEST_CASE("OpenFace: a missing frame or success column or AU column is an error naming the file") {
  CHECK_THROWS_WITH_AS(merx::read_openface_csv(kDir / "s01/no_success.csv"),
                       doctest::Contains("no_success.csv: OpenFace CSV without a `success` column"),
                       merx::UserError);
  CHECK_THROWS_WITH_AS(apex("no_au07", 1),
                       doctest::Contains("no_au07.csv: OpenFace CSV without the column AU07_r"),
                       merx::UserError);
}

TEST_CASE(
    "OpenFace: per sample and <folder>/<subject>/<clip>.csv at apex_index + 1 and missing file counted") {
  merx::SampleRecord s;
  s.subject = "s01";
  s.clip = "leading_spaces";
  s.apex_index = 2;  // 0-based position 2 = frame 3 of the CSV
  merx::OpenFaceStats stats;
  const merx::OpenFaceAus a = merx::openface_sample_aus(kDir, s, merx::au_set("cross"), &stats);
  REQUIRE(a.values.has_value());
  CHECK((*a.values)[0] == doctest::Approx(2.4f));
  s.clip = "negatives";
  s.apex_index = 1;
  CHECK(merx::openface_sample_aus(kDir, s, merx::au_set("cross"), &stats).values.has_value());
  s.clip = "absent";
  CHECK(merx::openface_sample_aus(kDir, s, merx::au_set("cross"), &stats).reason == "no OpenFace file");
  s.clip = "leading_spaces";
  s.apex_index.reset();
  CHECK(merx::openface_sample_aus(kDir, s, merx::au_set("cross"), &stats).reason == "the clip has no apex");
  CHECK(stats.clips == 4);
  CHECK(stats.exact == 2);
  CHECK(stats.missing == 2);
  CHECK(stats.negatives_clamped == 3);
}
