// frame_file_problem (merx/datasets/frames.h): the cheap per-file integrity check of `merx datasets check`,
// on the fixture library's real 4x4 JPEG, PNG and BMP files and copies of them cut short by hand, and
// load_dataset's check_frame_files naming every bad frame of a clip, not only its onset and apex.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "datasets/fixtures/fixtures.h"
#include "merx/datasets/frames.h"
#include "merx/datasets/load.h"

using namespace merx;
namespace fx = merx::fixtures;
namespace fs = std::filesystem;

namespace {

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& p, const std::string& b) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << b;
}

// Keeps the first `n` bytes of `p`.
void cut(const fs::path& p, size_t n) {
  write_bytes(p, bytes_of(p).substr(0, n));
}

}  // namespace

TEST_CASE("frame_file_problem: whole JPEG, PNG and BMP files pass and empty, cut or non-image files are named") {
  const fs::path dir = fx::fresh_dir("frame_files");
  for (const char* name : {"a.jpg", "a.png", "a.bmp"}) {
    fx::write_image(dir / name);
    INFO(name);
    CHECK(frame_file_problem(dir / name) == "");
  }
  const std::string jpeg = bytes_of(dir / "a.jpg"), png = bytes_of(dir / "a.png");
  REQUIRE(jpeg.size() > 100);
  CHECK(jpeg.substr(jpeg.size() - 2) == "\xFF\xD9");  // the fixture ends with its end marker
  CHECK(png.substr(png.size() - 8, 4) == "IEND");

  write_bytes(dir / "empty.jpg", "");
  CHECK(frame_file_problem(dir / "empty.jpg") == "is empty (0 bytes)");
  // A JPEG cut after 100 bytes: no FF D9 among its last 64 bytes.
  write_bytes(dir / "cut.jpg", jpeg.substr(0, 100));
  CHECK(frame_file_problem(dir / "cut.jpg") == "is truncated: a JPEG without its end marker FF D9");
  // Cut by only the last byte: still truncated (the marker is two bytes).
  write_bytes(dir / "cut1.jpg", jpeg.substr(0, jpeg.size() - 1));
  CHECK(frame_file_problem(dir / "cut1.jpg") == "is truncated: a JPEG without its end marker FF D9");
  // Zero padding after the end marker is tolerated.
  write_bytes(dir / "padded.jpg", jpeg + std::string(16, '\0'));
  CHECK(frame_file_problem(dir / "padded.jpg") == "");
  // The type comes from the bytes: a PNG named .jpg is a PNG, and it is cut before its IEND chunk.
  write_bytes(dir / "png_named.jpg", png.substr(0, png.size() - 12));
  CHECK(frame_file_problem(dir / "png_named.jpg") == "is truncated: a PNG without its IEND chunk");
  // BMP: 102 bytes declared in its header (54 + 4 x 12), 80 left.
  cut(dir / "a.bmp", 80);
  CHECK(frame_file_problem(dir / "a.bmp") == "is truncated: 80 bytes, its BMP header declares 102");
  write_bytes(dir / "html.jpg", "<!DOCTYPE html>");
  CHECK(frame_file_problem(dir / "html.jpg") ==
        "is not a JPEG, PNG, BMP or TIFF image (its first bytes are 3c 21 44 4f)");
  CHECK(frame_file_problem(dir / "missing.jpg").rfind("cannot be read: ", 0) == 0);
}

TEST_CASE("check_frame_files names every empty or truncated frame of a clip, apex or not") {
  const fs::path dir = fx::fresh_dir("frame_files_load");
  const fs::path root = dir / "CASME2_RAW_selected", sheet = dir / "coding.xlsx";
  using S = std::string;
  fx::write_xlsx(sheet, {{"Sheet1",
                          {{S("Subject"), S("Filename"), S("OnsetFrame"), S("ApexFrame"), S("OffsetFrame"),
                            S("Action Units"), S("Estimated Emotion")},
                           {1.0, S("EP01"), 1.0, 2.0, 6.0, S("4"), S("happiness")},
                           {2.0, S("EP02"), 1.0, 2.0, 3.0, S("12"), S("surprise")}}}});
  fx::write_frames(root / "sub01/EP01", "img", ".jpg", 1, 6);
  fx::write_frames(root / "sub02/EP02", "img", ".png", 1, 3);
  DatasetSource src;
  src.adapter = "casme2";
  src.root = root;
  src.annotations = sheet;
  LoadOptions opts;
  opts.check_frame_files = true;
  CHECK(load_dataset(src, opts).samples.size() == 2);  // whole files: nothing to report

  // Frames 4 (empty) and 5 (cut short) of EP01 are neither its onset (1) nor its apex (2).
  write_bytes(root / "sub01/EP01/img4.jpg", "");
  cut(root / "sub01/EP01/img5.jpg", 100);
  // Without the check the sheet and the folder listing are fine: the clip loads.
  CHECK(load_dataset(src).samples.size() == 2);
  std::vector<Problem> problems;
  try {
    load_dataset(src, opts);
  } catch (const DatasetError& e) {
    problems = e.problems();
  }
  REQUIRE(problems.size() == 2);
  const S at = sheet.string() + ", sheet 'Sheet1', row 2";
  CHECK(problems[0].path == at);
  CHECK(problems[0].message ==
        "casme2/sub01/EP01: frame file " + (root / "sub01/EP01/img4.jpg").string() + " is empty (0 bytes)");
  CHECK(problems[1].path == at);
  CHECK(problems[1].message == "casme2/sub01/EP01: frame file " + (root / "sub01/EP01/img5.jpg").string() +
                                   " is truncated: a JPEG without its end marker FF D9");

  // Lenient: the clip is dropped with both reasons; EP02 stays.
  opts.mode = LoadMode::Lenient;
  const LoadResult r = load_dataset(src, opts);
  CHECK(r.samples.size() == 1);
  REQUIRE(r.dropped.size() == 1);
  CHECK(r.dropped[0].reason ==
        "frame file " + (root / "sub01/EP01/img4.jpg").string() + " is empty (0 bytes); frame file " +
            (root / "sub01/EP01/img5.jpg").string() + " is truncated: a JPEG without its end marker FF D9");
}
