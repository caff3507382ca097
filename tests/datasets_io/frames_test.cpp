// Frame listing: numeric order from the last digit run, mixed extensions, trailing spaces, errors.
#include <doctest/doctest.h>

#include "merx/datasets/frames.h"
#include "merx/errors.h"
#include "test_dir.h"

using merx::frame_number;
using merx::list_frames;
using merx::test::TempDir;
using merx::test::write_file;

namespace {

std::vector<std::string> names(const std::vector<merx::FrameFile>& frames) {
  std::vector<std::string> out;
  for (const auto& f : frames) out.push_back(f.path.filename().string());
  return out;
}
std::vector<int64_t> numbers(const std::vector<merx::FrameFile>& frames) {
  std::vector<int64_t> out;
  for (const auto& f : frames) out.push_back(f.number);
  return out;
}

}  // namespace

TEST_CASE("frame_number takes the last digit run of the stem (table)") {
  struct Row {
    const char* name;
    int64_t number;
  };
  const Row rows[] = {
      {"img46.jpg", 46},
      {"img2.jpg", 2},
      {"img10.jpg", 10},
      {"reg_img46.jpg", 46},
      {"image000123.bmp", 123},
      {"reg_image000123.bmp", 123},
      {"166.jpg", 166},
      {"006_1_2_0007.jpg", 7},
      {"EP01_5-12.jpg", 12},
      {"reg_EP01_5-012.jpg", 12},
      {"img12 .jpg", 12},
      {"img12  .PNG", 12},
      {"0.jpg", 0},
      {"frame7_v2x.jpg", 2},
      {"cover.jpg", -1},
      {"99999999999999999999.jpg", -1},
  };
  for (const auto& r : rows) {
    INFO(std::string(r.name));
    CHECK(frame_number(r.name) == r.number);
  }
}

TEST_CASE("is_image_file knows the image extensions, case-insensitively") {
  for (const char* n : {"a.jpg", "a.JPG", "a.jpeg", "a.png", "a.bmp", "a.Bmp", "a.tif", "a.tiff"})
    CHECK(merx::is_image_file(n));
  for (const char* n : {"a.txt", "a.db", "jpg", "a.jpg.bak", "a.gif"}) CHECK_FALSE(merx::is_image_file(n));
}

TEST_CASE("list_frames orders numerically across mixed extensions and ignores what is not a frame") {
  TempDir dir;
  for (const char* n : {"img10.jpg", "img2.jpg", "img1.jpg", "img12 .jpg", "img3.PNG", "img4.bmp",
                        "notes.txt", "Thumbs.db", ".hidden7.jpg", "._img8.jpg"})
    write_file(dir / n, "");
  std::filesystem::create_directories(dir / "img5.jpg");  // a folder with an image-like name
  const auto frames = list_frames(dir.path());
  CHECK(names(frames) ==
        std::vector<std::string>{"img1.jpg", "img2.jpg", "img3.PNG", "img4.bmp", "img10.jpg", "img12 .jpg"});
  CHECK(numbers(frames) == std::vector<int64_t>{1, 2, 3, 4, 10, 12});
  CHECK(frames.front().path == dir / "img1.jpg");
}

TEST_CASE("list_frames reads numbers after digit-bearing prefixes (SAMM, CASME, CAS(ME)^3)") {
  TempDir dir;
  for (const char* n : {"006_1_2_0010.jpg", "006_1_2_0009.jpg", "006_1_2_0100.jpg"})
    write_file(dir / "samm" / n, "");
  CHECK(numbers(list_frames(dir / "samm")) == std::vector<int64_t>{9, 10, 100});
  for (const char* n : {"EP01_5-9.jpg", "EP01_5-10.jpg"}) write_file(dir / "casme" / n, "");
  CHECK(numbers(list_frames(dir / "casme")) == std::vector<int64_t>{9, 10});
  for (const char* n : {"167.jpg", "166.jpg", "1000.jpg"}) write_file(dir / "spNO.1_b_166" / n, "");
  CHECK(numbers(list_frames(dir / "spNO.1_b_166")) == std::vector<int64_t>{166, 167, 1000});
}

TEST_CASE("list_frames with a pattern keeps only matching names") {
  TempDir dir;
  for (const char* n :
       {"img5.jpg", "reg_img5.jpg", "img6.JPG", "img07.jpg", "img8 .jpg", "img9.png", "imgx.jpg"})
    write_file(dir / n, "");
  CHECK(names(list_frames(dir.path(), "img{N}.jpg")) ==
        std::vector<std::string>{"img5.jpg", "img6.JPG", "img07.jpg", "img8 .jpg"});
  CHECK(numbers(list_frames(dir.path(), "reg_img{N}.jpg")) == std::vector<int64_t>{5});
  CHECK_THROWS_AS(list_frames(dir.path(), "img.jpg"), std::invalid_argument);
}

TEST_CASE("an empty folder gives no frames") {
  TempDir dir;
  CHECK(list_frames(dir.path()).empty());
}

TEST_CASE("two files with one frame number are a UserError naming both") {
  TempDir dir;
  write_file(dir / "img1.jpg", "");
  write_file(dir / "img01.png", "");
  CHECK_THROWS_WITH_AS(
      list_frames(dir.path()),
      ("frame folder " + dir.path().string() + ": 'img01.png' and 'img1.jpg' both have frame number 1")
          .c_str(),
      merx::UserError);
}

TEST_CASE("a missing folder, a file instead of a folder, an image without a number are UserErrors") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(list_frames(dir / "sub01" / "EP02_01f"),
                       ("frame folder " + (dir / "sub01" / "EP02_01f").string() + " does not exist").c_str(),
                       merx::UserError);
  write_file(dir / "file", "");
  CHECK_THROWS_WITH_AS(list_frames(dir / "file"),
                       ("frame folder " + (dir / "file").string() + " is not a directory").c_str(),
                       merx::UserError);
  write_file(dir / "clip" / "cover.jpg", "");
  CHECK_THROWS_WITH_AS(list_frames(dir / "clip"),
                       ("frame file " + (dir / "clip" / "cover.jpg").string() +
                        " has no frame number in its name (expected digits, e.g. img46.jpg)")
                           .c_str(),
                       merx::UserError);
}
