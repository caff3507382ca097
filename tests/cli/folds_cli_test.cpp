// `merx validate` / `merx plan` list every fold with its train/test clips per class, counted from the
// annotation files (experiments/toy, whose frame folders are empty). Expected counts by hand from
// experiments/toy/*/annotations.csv:
//   alpha  a01: positive, negative     a02: surprise, negative
//   beta   b01: negative               b02: positive, surprise
//   gamma  g01: surprise, positive     g02: negative
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "run.h"

namespace fs = std::filesystem;
using merx::test::run_merx;
using merx::test::RunResult;

namespace {

const std::string kExample = "'" MERX_SOURCE_DIR "/experiments/example.json'";

// Rows of the fold table, split on whitespace, keyed by the fold id.
std::map<std::string, std::vector<std::string>> fold_rows(const std::string& out) {
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream in(out.substr(out.find("folds, with train/test clips per class")));
  std::string line;
  std::getline(in, line);  // title
  std::getline(in, line);  // header
  std::getline(in, line);  // rule
  while (std::getline(in, line) && !line.empty()) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    rows[w.at(0)] = w;
  }
  return rows;
}

}  // namespace

TEST_CASE("validate lists the lodo folds with train and test clips per class") {
  RunResult r = run_merx("validate " + kExample);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("labels `megc3`") != std::string::npos);
  CHECK(r.out.find("FOLD   TRAIN        TEST   CELLS  CLIPS  negative  positive  surprise") != std::string::npos);
  auto rows = fold_rows(r.out);
  REQUIRE(rows.size() == 3);
  // FOLD TRAIN TEST CELLS CLIPS(train/test) negative positive surprise (train/test each)
  CHECK(rows["alpha"] == std::vector<std::string>{"alpha", "beta+gamma", "alpha", "8", "6/4", "2/2", "2/1", "2/1"});
  CHECK(rows["beta"] == std::vector<std::string>{"beta", "alpha+gamma", "beta", "8", "7/3", "3/1", "2/1", "2/1"});
  CHECK(rows["gamma"] == std::vector<std::string>{"gamma", "alpha+beta", "gamma", "8", "7/3", "3/1", "2/1", "2/1"});

  RunResult p = run_merx("plan " + kExample);  // the table format shows it too
  REQUIRE(p.code == 0);
  CHECK(fold_rows(p.out) == rows);
}

TEST_CASE("plan --format json gives the class counts of loso and kfold_subject folds") {
  RunResult r = run_merx("plan " + kExample + " --format json --set protocol.name=loso");
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out).at("fold_classes");
  REQUIRE(j.size() == 1);  // every sweep point has the same labels
  CHECK(j[0]["points"] == nlohmann::json{0, 1, 2, 3});
  CHECK(j[0]["classes"] == nlohmann::json{"negative", "positive", "surprise"});
  std::map<std::string, nlohmann::json> folds;
  for (const auto& f : j[0]["folds"]) folds[f["id"]] = f;
  REQUIRE(folds.size() == 6);
  CHECK(folds["beta/b02"]["test_counts"] == nlohmann::json{{"negative", 0}, {"positive", 1}, {"surprise", 1}});
  CHECK(folds["beta/b02"]["train_counts"] == nlohmann::json{{"negative", 4}, {"positive", 2}, {"surprise", 2}});
  CHECK(folds["beta/b02"]["test_subjects"] == 1);
  CHECK(folds["beta/b02"]["train_subjects"] == 5);

  // kfold_subject, k = 2: subjects largest first, ties by id, each to the lighter fold:
  // k0 = a01, b02, b01 (negative 2, positive 2, surprise 1); k1 = a02, g01, g02 (2, 1, 2).
  RunResult k = run_merx("plan " + kExample +
                         " --format json --set protocol.name=kfold_subject --set protocol.params.k=2");
  REQUIRE(k.code == 0);
  const auto kf = nlohmann::json::parse(k.out).at("fold_classes")[0]["folds"];
  REQUIRE(kf.size() == 2);
  CHECK(kf[0]["id"] == "k0");
  CHECK(kf[0]["test_counts"] == nlohmann::json{{"negative", 2}, {"positive", 2}, {"surprise", 1}});
  CHECK(kf[1]["test_counts"] == nlohmann::json{{"negative", 2}, {"positive", 1}, {"surprise", 2}});
  CHECK(kf[0]["train"] == 5);
  CHECK(kf[0]["test"] == 5);
}

TEST_CASE("validate warns about folds with nothing to test and reports bad annotation rows") {
  RunResult r = run_merx("validate " + kExample + " --set protocol.name=kfold_subject --set protocol.params.k=8");
  CHECK(r.code == 0);  // 6 subjects for 8 folds: k6 and k7 are empty
  CHECK(r.err.find("fold k6: no test clip") != std::string::npos);
  CHECK(r.err.find("fold k7: no test clip") != std::string::npos);
  CHECK(r.err.find("fold k5: no test clip") == std::string::npos);

  const fs::path dir = fs::temp_directory_path() / ("merx-cli-folds-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  for (const char* d : {"x", "y"}) {
    fs::create_directories(dir / d);
    std::ofstream(dir / d / "annotations.csv")
        << "subject,clip,frames,onset,apex,offset,label\n"
        << "s1,c1,frames/c1,1,2,3,negative\n"
        << "s1,c2,frames/c2," << (d[0] == 'y' ? "one" : "1") << ",2,3,positive\n";
  }
  std::ofstream(dir / "spec.json") << R"({
    "name": "bad-sheet",
    "datasets": [
      {"name": "x", "adapter": "manifest", "root": "x", "annotations": "x/annotations.csv"},
      {"name": "y", "adapter": "manifest", "root": "y", "annotations": "y/annotations.csv"}
    ],
    "protocol": {"name": "lodo"},
    "backbone": {"name": "linear", "params": {"channels": 3, "size": 28}}
  })";
  RunResult bad = run_merx("validate '" + (dir / "spec.json").string() + "'");
  CHECK(bad.code == 2);
  CHECK(bad.err.find((dir / "y" / "annotations.csv").string()) != std::string::npos);
  CHECK(bad.err.find("y/s1/c2: onset 'one' is not a frame number") != std::string::npos);
  CHECK(bad.out.empty());
  fs::remove_all(dir);
}
