// The merx executable as a user meets it: grammar, exit codes (0 ok, 1 runtime, 2 user error), formats.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "run.h"

namespace fs = std::filesystem;
using merx::test::run_merx;
using merx::test::RunResult;

namespace {

fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("merx-cli-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("--version names merx and the commit and LibTorch and OpenCV and CUDA availability") {
  RunResult r = run_merx("--version");
  CHECK(r.code == 0);
  CHECK(r.out.find("merx 0.1.0 (commit ") == 0);
  CHECK(r.out.find("LibTorch 1.13") != std::string::npos);
  CHECK(r.out.find("OpenCV 4.") != std::string::npos);
  CHECK(r.out.find("CUDA not available") != std::string::npos);  // Debian's LibTorch is CPU-only
  CHECK(r.out.find("plugin ABI 1.0") != std::string::npos);
}

TEST_CASE("no arguments prints the help with every noun and bad arguments exit 2") {
  RunResult r = run_merx("");
  CHECK(r.code == 0);
  for (const char* noun : {"plugins", "validate", "plan"}) CHECK(r.out.find(noun) != std::string::npos);

  CHECK(run_merx("frobnicate").code == 2);
  RunResult typo = run_merx("valdate spec.json");
  CHECK(typo.code == 2);
  CHECK(typo.err.find("unknown command `valdate`; did you mean `validate`?") != std::string::npos);
  RunResult later = run_merx("slurm no-such-spec.json");  // a user error, named
  CHECK(later.code == 2);
  CHECK(later.err.find("no-such-spec.json") != std::string::npos);
  RunResult bare = run_merx("datasets");
  CHECK(bare.code == 2);
  CHECK(bare.err.find("`merx datasets` needs a subcommand") != std::string::npos);
  CHECK(bare.err.find("check") != std::string::npos);
  CHECK(run_merx("plugins --no-such-flag").code == 2);
  RunResult k = run_merx("plugins --kind widget");
  CHECK(k.code == 2);
  CHECK(k.err.find("widget") != std::string::npos);
}

TEST_CASE("plugins --json lists the real plugins with version and ABI and file and parameters") {
  RunResult r = run_merx("plugins --json");
  REQUIRE(r.code == 0);
  auto a = nlohmann::json::parse(r.out);
  REQUIRE(a.is_array());
  bool linear = false, reg_none = false, aug_none = false;
  for (const auto& p : a) {
    CHECK(p.at("abi") == "1.0");
    CHECK(fs::exists(p.at("file").get<std::string>()));
    if (p["kind"] == "backbone" && p["name"] == "linear") {
      linear = true;
      CHECK(p["version"] == "1.0.0");
      // declared parameters: channels 3, size 28, features 64 (see plugins/backbones/linear/linear.cpp)
      std::map<std::string, nlohmann::json> defaults;
      for (const auto& d : p["params"]) defaults[d["name"]] = d["default"];
      CHECK(defaults.at("channels") == 3);
      CHECK(defaults.at("size") == 28);
      CHECK(defaults.at("features") == 64);
    }
    reg_none |= p["kind"] == "regularizer" && p["name"] == "none";
    aug_none |= p["kind"] == "augmenter" && p["name"] == "none";
  }
  CHECK(linear);
  CHECK(reg_none);
  CHECK(aug_none);

  RunResult b = run_merx("plugins --kind backbone --json");
  REQUIRE(b.code == 0);
  for (const auto& p : nlohmann::json::parse(b.out)) CHECK(p["kind"] == "backbone");
}

TEST_CASE("plugins (table) shows parameters with defaults and ranges") {
  RunResult r = run_merx("plugins --kind backbone");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("linear") != std::string::npos);
  CHECK(r.out.find("features") != std::string::npos);
  CHECK(r.out.find("[1, 65536]") != std::string::npos);
}

TEST_CASE("plugins table: file names in rows, the folder once, rows within 125 columns") {
  RunResult r = run_merx("plugins");
  REQUIRE(r.code == 0);
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) CHECK_MESSAGE(l.size() <= 125, l);
  CHECK(r.out.find("  merx_backbone_linear.so\n") != std::string::npos);
  CHECK(r.out.find("\nloaded from " MERX_BINARY_DIR "/plugins\n") != std::string::npos);
  CHECK(run_merx("plugins --format json").out == run_merx("plugins --json").out);
  CHECK(run_merx("plugins --format xml").code == 2);
}

TEST_CASE("plugins --path to a folder without plugins warns naming it") {
  const auto dir = temp_dir("no-plugins-here");
  RunResult r = run_merx("plugins --path '" + dir.string() + "'");
  CHECK(r.code == 0);
  CHECK(r.err.find("--path " + dir.string() + ": no merx plugin there") != std::string::npos);
}

TEST_CASE("db commands on a missing database exit 2 and say where databases come from") {
  const std::string missing = (temp_dir("no-db") / "none.sqlite").string();
  for (const std::string& cmd : {"db export --format csv '" + temp_dir("no-db-out").string() + "' --db ",
                                std::string("db leaderboard --db "), std::string("report -o /dev/null --db ")}) {
    RunResult r = run_merx(cmd + "'" + missing + "'");
    INFO(cmd);
    CHECK(r.code == 2);
    CHECK(r.err.find("results database " + missing + " does not exist (`merx run SPEC` writes") !=
          std::string::npos);
    CHECK_FALSE(fs::exists(missing));
  }
}

TEST_CASE("plugins --path with a missing folder is a user error naming it") {
  RunResult r = run_merx("plugins --path /nonexistent/merx-plugins");
  CHECK(r.code == 2);
  CHECK(r.err.find("/nonexistent/merx-plugins") != std::string::npos);
}

TEST_CASE("validate experiments/example.json: summary of folds, sweep points and cells") {
  RunResult r = run_merx("validate '" MERX_SOURCE_DIR "/experiments/example.json'");
  CHECK(r.code == 0);
  CHECK(r.out.find("spec OK: example") != std::string::npos);
  // 3 lodo folds x (2 variants x 2 grid values) x 2 seeds, as written in the spec
  CHECK(r.out.find("3 folds x 4 sweep points x 2 seeds = 24 cells") != std::string::npos);
}

TEST_CASE("validate reports every problem with its JSON path and exits 2") {
  const auto dir = temp_dir("validate-bad");
  write(dir / "spec.json", R"({
    "name": "bad",
    "datasets": [],
    "protocol": {"name": "lodo"},
    "backbone": {"name": "linear", "params": {"size": 1}},
    "trainng": {"lr": 0.1},
    "seeds": 1
  })");
  RunResult r = run_merx("validate '" + (dir / "spec.json").string() + "'");
  CHECK(r.code == 2);
  CHECK(r.err.find("trainng") != std::string::npos);
  CHECK(r.err.find("did you mean `training`") != std::string::npos);
  CHECK(r.err.find("datasets") != std::string::npos);
  CHECK(r.err.find("backbone.params.size") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("validate: a spec that is not JSON names the file and line and a missing file exits 2") {
  const auto dir = temp_dir("validate-syntax");
  write(dir / "spec.json", "{\n  \"name\": \"x\",\n  oops\n}\n");
  RunResult r = run_merx("validate '" + (dir / "spec.json").string() + "'");
  CHECK(r.code == 2);
  CHECK(r.err.find("spec.json:3") != std::string::npos);
  CHECK(run_merx("validate /nonexistent/spec.json").code == 2);
}

TEST_CASE("validate: an output that is not an SQLite file is a user error and the file is untouched") {
  const auto dir = temp_dir("validate-output");
  const std::string text = "these are my notes, not a database\n";
  write(dir / "notes.txt", text);
  const auto mtime = fs::last_write_time(dir / "notes.txt");
  RunResult r = run_merx("validate '" MERX_SOURCE_DIR "/experiments/example.json' --set output='" +
                         (dir / "notes.txt").string() + "'");
  CHECK(r.code == 2);
  CHECK(r.err.find((dir / "notes.txt").string()) != std::string::npos);
  CHECK(merx::test::slurp(dir / "notes.txt") == text);
  CHECK(fs::last_write_time(dir / "notes.txt") == mtime);
  CHECK(!fs::exists(dir / "notes.txt-wal"));
}

TEST_CASE("validate, plan and run refuse a sweep of billions of cells at once with exit 2 naming the count") {
  const auto dir = temp_dir("huge-sweep");
  auto spec = nlohmann::json::parse(merx::test::slurp(MERX_SOURCE_DIR "/experiments/example.json"));
  for (auto& d : spec["datasets"])
    for (const char* k : {"root", "annotations"})
      d[k] = std::string(MERX_SOURCE_DIR "/experiments/") + d[k].get<std::string>();
  spec["output"] = (dir / "huge.sqlite").string();
  auto list = [](int n) {
    nlohmann::json a = nlohmann::json::array();
    for (int i = 1; i <= n; ++i) a.push_back(i);
    return a;
  };
  spec["sweep"]["grid"] = {{"backbone.params.features", list(1000)},
                           {"training.epochs", list(1000)},
                           {"training.batch", list(500)}};
  write(dir / "spec.json", spec.dump());
  // By hand: 2 variants x 1000 x 1000 x 500 grid points x 3 lodo folds x 2 seeds = 6,000,000,000 cells.
  const std::string expected =
      "merx: error: sweep.variants (2) × sweep.grid backbone.params.features (1,000) × training.batch (500) "
      "× training.epochs (1,000) × 3 folds × 2 seeds = 6,000,000,000 cells, above the limit of 100,000; "
      "pass --allow-large to expand it anyway\n";
  const auto t0 = std::chrono::steady_clock::now();
  for (const char* cmd : {"validate", "plan", "run"}) {
    INFO(cmd);
    const RunResult r = run_merx(std::string(cmd) + " '" + (dir / "spec.json").string() + "'");
    CHECK(r.code == 2);
    CHECK(r.err == expected);
    CHECK(r.out.empty());
  }
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 30.0);
  CHECK_FALSE(fs::exists(dir / "huge.sqlite"));  // run stopped before opening its database
}

TEST_CASE("--allow-large expands a spec above the cell limit and validate, plan and run accept it") {
  const std::string spec = "'" MERX_SOURCE_DIR "/experiments/example.json'";
  // 3 folds x 4 sweep points x 8334 seeds = 100,008 cells, 8 above the limit.
  const RunResult refused = run_merx("validate " + spec + " --set seeds=8334");
  CHECK(refused.code == 2);
  CHECK(refused.err.find("sweep.variants (2) × sweep.grid backbone.params.features (2) × 3 folds × "
                         "8,334 seeds = 100,008 cells, above the limit of 100,000") != std::string::npos);
  const RunResult allowed = run_merx("validate " + spec + " --set seeds=8334 --allow-large");
  CHECK(allowed.code == 0);
  CHECK(allowed.out.find("3 folds x 4 sweep points x 8334 seeds = 100008 cells") != std::string::npos);
  // 3 x 4 x 8333 = 99,996 cells: under the limit, no flag needed.
  CHECK(run_merx("validate " + spec + " --set seeds=8333").code == 0);
  for (const char* cmd : {"validate", "plan", "run", "slurm", "datasets check"}) {
    INFO(cmd);
    CHECK(run_merx(std::string(cmd) + " --help").out.find("--allow-large") != std::string::npos);
  }
}

TEST_CASE("plan --format json lists every cell with a full identity and --set of training renames cells "
          "but --set of output does not") {
  const std::string spec = "'" MERX_SOURCE_DIR "/experiments/example.json'";
  RunResult a = run_merx("plan " + spec + " --format json");
  REQUIRE(a.code == 0);
  auto pa = nlohmann::json::parse(a.out);
  REQUIRE(pa.at("cells").size() == 24);
  std::set<std::string> ids;
  for (const auto& c : pa["cells"]) {
    const std::string id = c.at("identity");
    CHECK(id.size() == 64);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    ids.insert(id);
  }
  CHECK(ids.size() == 24);

  RunResult b = run_merx("plan " + spec + " --format json --set output=/tmp/elsewhere.sqlite");
  REQUIRE(b.code == 0);
  auto pb = nlohmann::json::parse(b.out);
  for (size_t i = 0; i < 24; ++i) CHECK(pb["cells"][i]["identity"] == pa["cells"][i]["identity"]);

  RunResult c = run_merx("plan " + spec + " --format json --set training.epochs=6");
  REQUIRE(c.code == 0);
  auto pc = nlohmann::json::parse(c.out);
  for (const auto& cell : pc["cells"]) CHECK(ids.count(cell["identity"].get<std::string>()) == 0);

  CHECK(run_merx("plan " + spec + " --format xml").code == 2);
}

TEST_CASE("plan (table) shows one row per cell and the summary") {
  RunResult r = run_merx("plan '" MERX_SOURCE_DIR "/experiments/example.json'");
  REQUIRE(r.code == 0);
  size_t rows = 0;
  for (size_t pos = 0; (pos = r.out.find('\n', pos)) != std::string::npos; ++pos) ++rows;
  CHECK(rows >= 24 + 2);
  CHECK(r.out.find("= 24 cells") != std::string::npos);
  // The POINT column names the variant (example.json: points 0-1 adam, 2-3 sgd).
  CHECK(r.out.find("  0 adam  ") != std::string::npos);
  CHECK(r.out.find("  3 sgd  ") != std::string::npos);
}

TEST_CASE("plan with protocol loso has one fold per global subject read from the annotation files") {
  // experiments/toy: alpha has subjects a01 a02, beta b01 b02, gamma g01 g02 (6 global subjects)
  RunResult r = run_merx("plan '" MERX_SOURCE_DIR "/experiments/example.json' --format json --set protocol.name=loso");
  REQUIRE(r.code == 0);
  auto p = nlohmann::json::parse(r.out);
  std::set<std::string> folds;
  for (const auto& f : p.at("folds")) folds.insert(f.at("id").get<std::string>());
  CHECK(folds == std::set<std::string>{"alpha/a01", "alpha/a02", "beta/b01", "beta/b02", "gamma/g01", "gamma/g02"});
  CHECK(p.at("cells").size() == 6 * 4 * 2);
}

TEST_CASE("plugins new writes a project with the name substituted and refuses bad names and used folders") {
  const auto dir = temp_dir("plugins-new");
  const auto project = dir / "fn";
  RunResult r = run_merx("plugins new --kind regularizer --name feature_norm '" + project.string() + "'");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("cmake -S") != std::string::npos);
  // The next steps paste as they are: this merx by its full path, the plugin folder, valid JSON.
  const std::string plugins = fs::weakly_canonical(project).string() + "/build/plugins";
  CHECK(r.out.find("  " + fs::canonical(MERX_EXE).string() + " plugins --kind regularizer --path " + plugins +
                   "\n") != std::string::npos);
  CHECK(r.out.find("  \"regularizer\": {\"name\": \"feature_norm\"},\n  \"plugin_paths\": [\"" + plugins +
                   "\"]\n") != std::string::npos);
  const std::string cpp = merx::test::slurp(project / "feature_norm.cpp");
  CHECK(cpp.find("class FeatureNorm final : public merx::Regularizer") != std::string::npos);
  CHECK(cpp.find("MERX_PLUGIN(merx::Regularizer, FeatureNorm, \"feature_norm\"") != std::string::npos);
  CHECK(cpp.find("myreg") == std::string::npos);
  CHECK(cpp.find("MyReg") == std::string::npos);
  const std::string cmake = merx::test::slurp(project / "CMakeLists.txt");
  CHECK(cmake.find("merx_add_plugin(NAME feature_norm KIND regularizer SOURCES feature_norm.cpp") !=
        std::string::npos);
  CHECK(cmake.find("mynet") == std::string::npos);
  CHECK(cmake.find("backbone") == std::string::npos);

  // The folder now holds files: never overwritten.
  r = run_merx("plugins new --kind augmenter --name other '" + project.string() + "'");
  CHECK(r.code == 2);
  CHECK(r.err.find("not an empty folder") != std::string::npos);
  CHECK(merx::test::slurp(project / "feature_norm.cpp") == cpp);

  r = run_merx("plugins new --kind backbone --name My-Net '" + (dir / "x").string() + "'");
  CHECK(r.code == 2);
  CHECK(r.err.find("is not a plugin name") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "x"));
  r = run_merx("plugins new --kind head --name net '" + (dir / "y").string() + "'");
  CHECK(r.code == 2);
  CHECK(r.err.find("is not a plugin kind") != std::string::npos);
}
