// End-to-end `merx prep SPEC --export DIR` on a generated two-dataset manifest corpus, read back by Debian's
// /usr/bin/python3 + numpy (numpy.load), an independent reader of the .npy format. The corpus (textured
// 48 x 48 gray frames with no face):
//   alpha (face detection: no face -> fallback)  s1/c1 positive, s1/c2 others (no megc3 class),
//                                                s2/c3 negative (onset 2, apex 5), s2/c4 surprise whose apex
//                                                frame is not an image (fails: left out, named on stderr)
//   beta  (cropped: no detection, no fallback)   s9/d1 surprise with no apex (estimated by preprocessing)
// so every CSV column has a value known from the fixture, and inputs[i] must equal, bit for bit, the cache
// entry whose header names row i's sample key (entries found by reading the .mxp bytes here, their
// tensors read by the cache API).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../cli/run.h"
#include "fixtures.h"
#include "merx/preprocessing/cache.h"
#include "merx/preprocessing/export.h"

namespace fs = std::filesystem;
using merx::test::run_merx;
using merx::test::run_shell;
using merx::test::slurp;
using nlohmann::json;

namespace {

struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name)
      : dir(merx::test::scratch(name + "_" + std::to_string(::getpid()))) {}
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::string q(const fs::path& p) {
  return "'" + p.string() + "'";
}

struct Clip {
  std::string subject, clip, onset, apex, offset, label;
  double speed = 1;  // pixels per frame along x (half that along y): each clip its own tensor
};

// <root>/frames/<clip>/img<onset>..img<offset>.png and <root>/annotations.csv.
void write_dataset(const fs::path& root, const std::vector<Clip>& clips) {
  fs::create_directories(root);
  std::ofstream csv(root / "annotations.csv");
  csv << "subject,clip,frames,onset,apex,offset,label\n";
  for (const auto& c : clips) {
    const fs::path folder = root / "frames" / c.clip;
    fs::create_directories(folder);
    for (int f = std::stoi(c.onset); f <= std::stoi(c.offset); ++f) {
      cv::Mat frame;
      const double k = f - 1;
      merx::test::shifted(48, 0.2 * c.speed * k, 0.1 * c.speed * k).convertTo(frame, CV_8UC1, 255.0);
      REQUIRE(cv::imwrite((folder / ("img" + std::to_string(f) + ".png")).string(), frame));
    }
    csv << c.subject << "," << c.clip << ",frames/" << c.clip << "," << c.onset << "," << c.apex << ","
        << c.offset << "," << c.label << "\n";
  }
}

json dataset(const std::string& name, const fs::path& root, bool cropped) {
  return {{"name", name},
          {"adapter", "manifest"},
          {"root", root.string()},
          {"annotations", (root / "annotations.csv").string()},
          {"options", {{"cropped", cropped}}}};
}

// The corpus above and its spec (megc3 labels; one flow_strain recipe) in `dir`; returns the spec file.
fs::path write_fixture(const fs::path& dir, const json& extra = json::object()) {
  write_dataset(dir / "alpha", {{"s1", "c1", "1", "4", "6", "positive", 1.0},
                                {"s1", "c2", "1", "4", "6", "others", 1.5},
                                {"s2", "c3", "2", "5", "6", "negative", 0.7},
                                {"s2", "c4", "1", "4", "6", "surprise", 1.0}});
  { std::ofstream(dir / "alpha" / "frames" / "c4" / "img4.png", std::ios::trunc) << "not a PNG"; }
  write_dataset(dir / "beta", {{"s9", "d1", "1", "", "6", "surprise", 1.2}});
  json spec = {
      {"name", "export_fixture"},
      {"datasets", {dataset("alpha", dir / "alpha", false), dataset("beta", dir / "beta", true)}},
      {"labels", {{"name", "megc3"}}},
      {"recipe",
       {{"name", "flow_strain"}, {"params", {{"size", 28}, {"flow_size", 32}, {"flow", "farneback"}}}}},
      {"protocol", {{"name", "lodo"}}},
      {"backbone", {{"name", "ststnet"}}},
      {"seeds", 1},
      {"output", (dir / "results.sqlite").string()}};
  spec.update(extra);
  std::ofstream(dir / "spec.json") << spec.dump(2);
  return dir / "spec.json";
}

uint32_t u32_le(const std::string& b, size_t pos) {
  return uint32_t(uint8_t(b[pos])) | uint32_t(uint8_t(b[pos + 1])) << 8 |
         uint32_t(uint8_t(b[pos + 2])) << 16 | uint32_t(uint8_t(b[pos + 3])) << 24;
}

// sample key -> cache key of every entry under <cache>/prep/<recipe>, from the .mxp bytes themselves
// ("MERXPREP", u32 format, u32 header length, header JSON).
std::map<std::string, std::string> entries_by_sample(const fs::path& cache, const std::string& recipe) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(cache / "prep" / recipe)) {
    if (e.path().extension() != ".mxp") continue;
    const std::string b = slurp(e.path());
    REQUIRE(b.size() > 16);
    REQUIRE(b.compare(0, 8, "MERXPREP") == 0);
    CHECK(u32_le(b, 8) == 2);
    const json h = json::parse(b.substr(16, u32_le(b, 12)));
    CHECK(h.at("key") == e.path().stem().string());
    out[h.at("sample_key").get<std::string>()] = e.path().stem().string();
  }
  return out;
}

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// Loads DIR/inputs.npy with numpy and writes what it read (C order, float32) to DIR/../read.bin; prints
// "shape dtype c_contiguous version csv_rows". Also saves numpy's own header for the same shape to ref.npy.
const char* kPython = R"(import csv, sys
import numpy as np
d = sys.argv[1]
a = np.load(d + "/inputs.npy", allow_pickle=False)
with open(d + "/inputs.npy", "rb") as f:
    version = np.lib.format.read_magic(f)
rows = list(csv.DictReader(open(d + "/samples.csv", newline="")))
np.ascontiguousarray(a, dtype="<f4").tofile(sys.argv[2] + "/read.bin")
np.save(sys.argv[2] + "/ref.npy", np.zeros(a.shape, dtype="<f4"))
np.save(sys.argv[2] + "/ref1.npy", np.zeros((5,), dtype="<f4"))
print(a.shape, a.dtype, a.flags.c_contiguous, version, len(rows), rows[-1]["sample_key"])
)";

}  // namespace

TEST_CASE("merx prep SPEC --export writes inputs.npy, samples.csv and recipe.json that numpy reads back") {
  const Scratch scratch("export");
  const fs::path& dir = scratch.dir;
  const fs::path spec = write_fixture(dir);
  const fs::path cache = dir / "cache", out = dir / "out";

  const auto r = run_merx("prep " + q(spec) + " --cache " + q(cache) +
                          " --jobs 1 --max-fail-rate 0.5 --export " + q(out));
  INFO(r.err);
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("alpha    flow_strain  4        3     0       3         1\n") != std::string::npos);
  CHECK(r.out.find("beta     flow_strain  1        1     0       0         0\n") != std::string::npos);
  CHECK(r.out.find("exported 4 samples to " + out.string() +
                   ": inputs.npy [4, 3, 28, 28] float32, samples.csv, recipe.json\n") != std::string::npos);
  CHECK(r.err.find("failed: alpha/s2/c4: ") != std::string::npos);
  CHECK(r.err.find("not exported (1 failed sample): alpha/s2/c4\n") != std::string::npos);
  CHECK(listing(out) == std::set<std::string>{"inputs.npy", "recipe.json", "samples.csv"});  // no temporaries

  // Row i <-> inputs[i], in dataset then sheet order; the failed clip is not a row. `others` has no megc3
  // class; c3's onset and apex are frame numbers; d1's apex was estimated (the last frame, the largest
  // displacement from the onset); beta is cropped, so only alpha took the no-face fallback.
  CHECK(slurp(out / "samples.csv") ==
        "sample_key,dataset,subject,clip,emotion,label,onset,apex,offset,apex_estimated,face_fallback\n"
        "alpha/s1/c1,alpha,s1,c1,positive,positive,1,4,6,0,1\n"
        "alpha/s1/c2,alpha,s1,c2,others,,1,4,6,0,1\n"
        "alpha/s2/c3,alpha,s2,c3,negative,negative,2,5,6,0,1\n"
        "beta/s9/d1,beta,s9,d1,surprise,surprise,1,6,6,1,0\n");

  const json recipe = json::parse(slurp(out / "recipe.json"));
  CHECK(recipe.at("recipe") == "flow_strain");
  CHECK(recipe.at("channels") == json({"u", "v", "strain"}));
  CHECK(recipe.at("size") == 28);
  CHECK(recipe.at("shape") == json({4, 3, 28, 28}));
  CHECK(recipe.at("dtype") == "float32");
  CHECK(recipe.at("params").at("flow_size") == 32);
  CHECK(recipe.at("params").at("flow") == "farneback");
  CHECK(recipe.at("config").at("farneback").is_object());

  // numpy reads it: shape, dtype, layout, format version, CSV row count.
  { std::ofstream(dir / "check.py") << kPython; }
  const auto py = run_shell("/usr/bin/python3 " + q(dir / "check.py") + " " + q(out) + " " + q(dir));
  INFO(py.err);
  REQUIRE(py.code == 0);
  CHECK(py.out == "(4, 3, 28, 28) float32 True (1, 0) 4 beta/s9/d1\n");

  // The preamble is byte for byte the one numpy writes for this shape (64-byte aligned data).
  const std::string npy = slurp(out / "inputs.npy");
  const std::string ref = slurp(dir / "ref.npy");
  const size_t data_at = 10 + (uint8_t(npy[8]) | uint8_t(npy[9]) << 8);
  CHECK(data_at % 64 == 0);
  CHECK(npy.substr(0, data_at) == ref.substr(0, data_at));
  CHECK(npy.substr(0, data_at) == merx::prep::npy_preamble({4, 3, 28, 28}));
  const std::string one = merx::prep::npy_preamble({5});
  CHECK(one.size() == 128);
  CHECK(slurp(dir / "ref1.npy").substr(0, one.size()) == one);
  CHECK(npy.size() == data_at + 4 * 3 * 28 * 28 * sizeof(float));

  // What numpy read equals the cached entries, row by row (the cache entry found by its header's sample key).
  const std::string read = slurp(dir / "read.bin");
  REQUIRE(read.size() == 4 * 3 * 28 * 28 * sizeof(float));
  const auto entries = entries_by_sample(cache, "flow_strain");
  CHECK(entries.size() == 4);  // nothing stored for the failed clip
  const merx::prep::FeatureCache fc(cache);
  const std::vector<std::string> keys = {"alpha/s1/c1", "alpha/s1/c2", "alpha/s2/c3", "beta/s9/d1"};
  const size_t per = 3 * 28 * 28;
  for (size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(keys[i]);
    REQUIRE(entries.count(keys[i]) == 1);
    const auto entry = fc.load("flow_strain", entries.at(keys[i]));
    REQUIRE(entry.has_value());
    REQUIRE(entry->data.size() == per);
    CHECK(std::memcmp(read.data() + i * per * sizeof(float), entry->data.data(), per * sizeof(float)) == 0);
    float max_abs = 0;
    for (float v : entry->data) max_abs = std::max(max_abs, std::abs(v));
    CHECK(max_abs > 0.01f);  // real flow, not a zero tensor compared with zeros
  }
  // The clips move at different speeds, so rows in the wrong order could not pass the comparison above.
  for (size_t i = 0; i < keys.size(); ++i)
    for (size_t j = i + 1; j < keys.size(); ++j)
      CHECK(std::memcmp(read.data() + i * per * sizeof(float), read.data() + j * per * sizeof(float),
                        per * sizeof(float)) != 0);
}

TEST_CASE(
    "merx prep --export refuses a non-empty folder unless --force, and writes nothing above "
    "--max-fail-rate") {
  const Scratch scratch("export_dir");
  const fs::path& dir = scratch.dir;
  const fs::path spec = write_fixture(dir);
  const fs::path cache = dir / "cache", out = dir / "out";
  const std::string base = "prep " + q(spec) + " --cache " + q(cache) + " --jobs 1 --export " + q(out);

  // 1 of 5 failed = 20 % > the default 1 %: exit 1 and no export folder at all.
  const auto failing = run_merx(base);
  CHECK(failing.code == 1);
  CHECK(failing.err.find("1 of 5 samples failed (20.0 % > --max-fail-rate 1.0 %); nothing exported") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(out));

  fs::create_directories(out);
  { std::ofstream(out / "notes.txt") << "mine"; }
  const auto refused = run_merx(base + " --max-fail-rate 0.5");
  CHECK(refused.code == 2);
  CHECK(refused.err.find("--export " + out.string() + ": the folder is not empty (it holds notes.txt)") !=
        std::string::npos);
  CHECK(refused.out == "");  // refused before any preprocessing
  CHECK(listing(out) == std::set<std::string>{"notes.txt"});

  const auto forced = run_merx(base + " --max-fail-rate 0.5 --force");
  INFO(forced.err);
  CHECK(forced.code == 0);
  CHECK(listing(out) == std::set<std::string>{"inputs.npy", "notes.txt", "recipe.json", "samples.csv"});
  CHECK(slurp(out / "notes.txt") == "mine");

  std::ofstream(dir / "file") << "x";
  const auto not_dir = run_merx("prep " + q(spec) + " --cache " + q(cache) + " --export " + q(dir / "file"));
  CHECK(not_dir.code == 2);
  CHECK(not_dir.err.find(": exists and is not a folder") != std::string::npos);
  CHECK(run_merx("prep " + q(spec) + " --cache " + q(cache) + " --force").code ==
        2);  // --force needs --export
}

TEST_CASE("merx prep --export takes one recipe, and the adapter form leaves the label column empty") {
  const Scratch scratch("export_forms");
  const fs::path& dir = scratch.dir;
  const fs::path spec =
      write_fixture(dir, {{"sweep", {{"grid", {{"recipe.params.flow_size", json::array({32, 48})}}}}}});
  const auto two =
      run_merx("prep " + q(spec) + " --cache " + q(dir / "cache") + " --export " + q(dir / "out"));
  CHECK(two.code == 2);
  CHECK(two.err.find("--export writes one recipe, the spec's sweep points use 2 (flow_strain ") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(dir / "out"));

  const auto gray =
      run_merx("prep --adapter manifest --root " + q(dir / "beta") + " --annotations " +
               q(dir / "beta" / "annotations.csv") + " --options '{\"cropped\": true}' --recipe apex_gray" +
               " --cache " + q(dir / "cache") + " --jobs 1 --export " + q(dir / "gray"));
  INFO(gray.err);
  CHECK(gray.code == 0);
  CHECK(slurp(dir / "gray" / "samples.csv") ==
        "sample_key,dataset,subject,clip,emotion,label,onset,apex,offset,apex_estimated,face_fallback\n"
        "manifest/s9/d1,manifest,s9,d1,surprise,,1,6,6,1,0\n");
  const json recipe = json::parse(slurp(dir / "gray" / "recipe.json"));
  CHECK(recipe.at("channels") == json({"gray"}));
  CHECK(recipe.at("shape") == json({1, 1, 28, 28}));
  CHECK(fs::file_size(dir / "gray" / "inputs.npy") == 128 + 28 * 28 * sizeof(float));
}
