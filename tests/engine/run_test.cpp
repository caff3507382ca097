// `merx run` end to end, on experiments/smoke.json over the `tiny` demo corpus (merx synth), and on a
// generated manifest corpus: three datasets (alpha 12 clips, beta 6, gamma 6;
// two subjects each; classes negative / positive / surprise moving the texture right / down / up-left),
// LODO with STSTNet. Checks exit codes, the stored rows (per cell and per group, counted from the metrics
// contract of merx/metrics/metrics.h), that a rerun does nothing, that --force reproduces the metrics bit for
// bit, and that a failing variant fails its own cells only.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../cli/run.h"
#include "corpus_fixture.h"
#include "merx/spec/plan.h"
#include "merx/spec/spec.h"
#include "merx/store/store.h"
#include "merx/synth/synth.h"

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using merx::test::run_merx;

using namespace merx::test::engine;

namespace {

// LODO over the corpus; `nan_variant` adds a variant whose regularizer turns NaN at step 2.
nlohmann::json spec(const fs::path& dir, const std::string& output, bool nan_variant) {
  nlohmann::json s = lodo_spec(dir, output, "engine_e2e");
  s["plugin_paths"] = {std::string(MERX_TEST_PLUGIN_DIR) + "/engine"};
  if (nan_variant)
    s["sweep"] = {
        {"variants",
         {{{"name", "erm"}},
          {{"name", "nan"}, {"regularizer", {{"name", "test_nan"}, {"params", {{"at_step", 2}}}}}}}}};
  return s;
}

size_t count_scope(const std::vector<merx::MetricRow>& rows, merx::MetricScope scope) {
  size_t n = 0;
  for (const auto& m : rows) n += m.scope == scope;
  return n;
}

// Every F1-type value (uf1, per-class f1, fold and target means) lies in [0, 1].
void check_f1_range(const std::vector<merx::MetricRow>& rows) {
  for (const auto& m : rows)
    if (m.value && (m.name.rfind("uf1", 0) == 0 || m.name == "f1" || m.name.rfind("uar", 0) == 0)) {
      CAPTURE(m.name);
      CHECK(*m.value >= 0.0);
      CHECK(*m.value <= 1.0);
    }
}

}  // namespace

TEST_CASE(
    "merx run trains and stores every LODO cell, a rerun does nothing, --force reproduces the metrics") {
  const Scratch scratch("lodo");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path db = dir / "results.sqlite";
  const fs::path file = write_spec(dir, "spec.json", spec(dir, db.string(), false));
  const std::string args = "run " + q(file) + " --cache " + q(dir / "cache") + " --prep-jobs 2";

  const auto first = run_merx(args);
  INFO(first.out);
  INFO(first.err);
  REQUIRE(first.code == 0);
  CHECK(first.out.find("engine_e2e: 3 cells run (3 done, 0 failed), 0 already done") != std::string::npos);
  CHECK(first.out.find("mean of targets") != std::string::npos);
  CHECK(first.err.find("[3/3] fold gamma, seed 0: done in ") != std::string::npos);

  const merx::Plan plan = plan_of(file);
  REQUIRE(plan.cells.size() == 3);
  std::map<std::string, std::vector<merx::MetricRow>> fold_metrics;
  std::map<std::string, std::string> finished;
  {
    merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
    CHECK(store.count_cells().done == 3);
    int64_t group = 0;
    for (const auto& cell : plan.cells) {
      CAPTURE(cell.fold);
      const auto r = store.read_cell(cell.identity);
      REQUIRE(r);
      CHECK(r->status == merx::CellStatus::Done);
      // Fold scope: uf1, uar, accuracy + precision, recall, f1 for each of the 3 classes.
      CHECK(r->metrics.size() == 12);
      CHECK(count_scope(r->metrics, merx::MetricScope::Fold) == 12);
      check_f1_range(r->metrics);
      // One prediction per clip of the target dataset: 2 subjects x 3 classes x clips per class.
      CHECK(r->predictions.size() == static_cast<size_t>(6 * kClipsPerClass.at(cell.fold)));
      CHECK(r->selection == "last");
      CHECK(r->chosen_epoch == 1);
      CHECK(r->backbone.name == "ststnet");
      CHECK(r->backbone.sha256.size() == 64);
      CHECK(r->libtorch_version.rfind("1.13", 0) == 0);
      CHECK(r->device == "cpu");
      CHECK(r->threads == 1);
      fold_metrics[cell.fold] = r->metrics;
      finished[cell.fold] = r->finished_at;
      group = store.find_cell(cell.identity)->key.group_id;
    }
    // Group (pooled when its last fold finished): per target 3 x 12 rows; pooled 12 + uf1/uar fold means +
    // uf1/uar target means.
    const merx::GroupMetrics gm = store.read_group_metrics(group);
    CHECK(count_scope(gm.metrics, merx::MetricScope::Target) == 36);
    CHECK(count_scope(gm.metrics, merx::MetricScope::Pooled) == 16);
    check_f1_range(gm.metrics);
    for (const auto& m : gm.metrics)
      if (m.scope == merx::MetricScope::Pooled && m.name == "uf1" && !m.class_name) CHECK(m.support == 24);
  }

  const auto again = run_merx(args);
  CHECK(again.code == 0);
  CHECK(again.out.rfind("nothing to do: all 3 cells of `engine_e2e` are done in ", 0) == 0);
  CHECK(again.out.find("pooled") != std::string::npos);

  const auto forced = run_merx(args + " --force");
  INFO(forced.err);
  REQUIRE(forced.code == 0);
  CHECK(forced.out.find("3 cells run (3 done, 0 failed)") != std::string::npos);
  merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
  for (const auto& cell : plan.cells) {
    const auto r = store.read_cell(cell.identity);
    REQUIRE(r);
    CHECK((r->metrics == fold_metrics[cell.fold]));  // same spec, seed and threads: bit-identical
    CHECK(r->finished_at != finished[cell.fold]);
  }
}

TEST_CASE("merx run: a variant whose loss turns NaN fails its own cells with the reason, the others finish") {
  const Scratch scratch("nan");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path db = dir / "results.sqlite";
  const fs::path file = write_spec(dir, "spec.json", spec(dir, db.string(), true));
  const std::string args = "run " + q(file) + " --cache " + q(dir / "cache") + " --prep-jobs 2";

  // device cuda on a machine without CUDA (Debian's LibTorch is CPU-only): a user error before any cell.
  if (run_merx("--version").out.find("CUDA not available") != std::string::npos) {
    const auto cuda = run_merx(args + " --set training.device=cuda");
    CHECK(cuda.code == 2);
    CHECK(cuda.err.find("training.device is `cuda` (") != std::string::npos);
    CHECK(cuda.err.find("LibTorch reports no CUDA device on this machine; use `auto` or `cpu`") !=
          std::string::npos);
  }

  const auto r = run_merx(args);
  INFO(r.out);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.out.find("6 cells run (3 done, 3 failed)") != std::string::npos);
  CHECK(r.err.find("point 1 (`nan`): FAILED after ") != std::string::npos);
  CHECK(r.err.find("non-finite loss at step 2 (epoch ") != std::string::npos);
  CHECK(r.out.find("incomplete: 0 of 3 folds done") != std::string::npos);

  const merx::Plan plan = plan_of(file);
  REQUIRE(plan.cells.size() == 6);
  {
    merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
    for (const auto& cell : plan.cells) {
      const auto rec = store.read_cell(cell.identity);
      REQUIRE(rec);
      const bool nan = plan.points[cell.point].variant == "nan";
      CHECK(rec->status == (nan ? merx::CellStatus::Failed : merx::CellStatus::Done));
      if (nan) {
        CHECK(rec->error.find("nan_term=nan") != std::string::npos);
        CHECK(rec->predictions.empty());
        CHECK(rec->regularizer.name == "test_nan");
      }
    }
  }

  const auto retry = run_merx(args + " --rerun-failed");
  CHECK(retry.code == 1);
  CHECK(retry.out.find("3 cells run (0 done, 3 failed), 3 already done") != std::string::npos);
  const auto idle = run_merx(args);
  CHECK(idle.code == 1);
  CHECK(idle.out.rfind("nothing to do: all 6 cells of `engine_e2e` are finished (3 failed; --rerun-failed",
                       0) == 0);
}

TEST_CASE("experiments/smoke.json runs LODO over the tiny demo corpus end to end") {
  for (const auto& f : merx::synth::source_files())
    if (!fs::exists(merx::synth::default_sources_dir() / f)) {
      MESSAGE("skipped: no face source " << (merx::synth::default_sources_dir() / f).string()
                                         << " (tools/fetch-faces puts them there)");
      return;
    }
  const Scratch scratch("smoke");
  const fs::path& dir = scratch.dir;
  const auto synth = run_merx("synth --preset tiny --out " + q(dir / "tiny") + " --jobs 2");
  INFO(synth.err);
  REQUIRE(synth.code == 0);
  // Clips per dataset that megc3 keeps (negative + positive + surprise), from synth's own summary table:
  // "casme2_like  casme2   28     12        363     negative 13, others 3, positive 6, surprise 6".
  std::map<std::string, size_t> expected;
  for (const char* ds : {"casme2_like", "samm_like", "smic_like"}) {
    const auto at = synth.out.find(std::string("\n") + ds + " ");
    REQUIRE(at != std::string::npos);
    const std::string line = synth.out.substr(at + 1, synth.out.find('\n', at + 1) - at - 1);
    for (const char* cls : {"negative ", "positive ", "surprise "}) {
      const auto c = line.find(cls);
      REQUIRE(c != std::string::npos);
      expected[ds] += std::stoul(line.substr(c + std::string(cls).size()));
    }
  }
  const fs::path db = dir / "smoke.sqlite";
  const std::string env = "MERX_TINY_DIR=" + q(dir / "tiny") + " MERX_SMOKE_DB=" + q(db) + " ";
  const std::string spec_file = std::string(MERX_SOURCE_DIR) + "/experiments/smoke.json";
  const auto r = merx::test::run_shell(env + "'" + MERX_EXE + "' run '" + spec_file + "' --cache " +
                                       q(dir / "cache") + " --prep-jobs 2");
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("smoke: 3 cells run (3 done, 0 failed)") != std::string::npos);

  ::setenv("MERX_TINY_DIR", (dir / "tiny").c_str(), 1);
  ::setenv("MERX_SMOKE_DB", db.c_str(), 1);
  const merx::Plan plan = plan_of(spec_file);
  REQUIRE(plan.cells.size() == 3);
  merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
  CHECK(store.count_cells().done == 3);
  int64_t group = 0;
  size_t total = 0;
  for (const auto& cell : plan.cells) {
    CAPTURE(cell.fold);
    const auto rec = store.read_cell(cell.identity);
    REQUIRE(rec);
    CHECK(rec->status == merx::CellStatus::Done);
    CHECK(count_scope(rec->metrics, merx::MetricScope::Fold) == 12);
    check_f1_range(rec->metrics);
    CHECK(rec->predictions.size() == expected.at(cell.fold));
    CHECK(rec->selection == "source_val");
    CHECK(rec->validation_split["method"] == "source_val");
    total += rec->predictions.size();
    group = store.find_cell(cell.identity)->key.group_id;
  }
  const merx::GroupMetrics gm = store.read_group_metrics(group);
  CHECK(count_scope(gm.metrics, merx::MetricScope::Target) == 36);
  CHECK(count_scope(gm.metrics, merx::MetricScope::Pooled) == 16);
  check_f1_range(gm.metrics);
  for (const auto& m : gm.metrics)
    if (m.scope == merx::MetricScope::Pooled && m.name == "uf1" && !m.class_name)
      CHECK(m.support == static_cast<int64_t>(total));
}

TEST_CASE(
    "merx run predicts counterfactual twins: an identical twin flips nothing, a re-rendered one is counted") {
  const Scratch scratch("twins");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  // gamma_cf: gamma's clip names with the frames of another class of the same subject (negative <- positive
  // <- surprise <- negative), and without the clip s2_surprise0 (unmatched).
  {
    std::ifstream in(dir / "gamma" / "annotations.csv");
    std::ofstream out(dir / "gamma_cf.csv");
    const std::map<std::string, std::string> next = {
        {"negative", "positive"}, {"positive", "surprise"}, {"surprise", "negative"}};
    std::string line;
    std::getline(in, line);
    out << line << "\n";
    while (std::getline(in, line)) {
      if (line.find("s2_surprise0") == 0 || line.find(",s2_surprise0,") != std::string::npos) continue;
      for (const auto& [from, to] : next) {
        const std::string key = "frames/s1_" + from, key2 = "frames/s2_" + from;
        if (auto at = line.find(key); at != std::string::npos) {
          line.replace(at, key.size(), "frames/s1_" + to);
          break;
        }
        if (auto at = line.find(key2); at != std::string::npos) {
          line.replace(at, key2.size(), "frames/s2_" + to);
          break;
        }
      }
      out << line << "\n";
    }
  }
  nlohmann::json s = spec(dir, (dir / "results.sqlite").string(), false);
  s["datasets"].push_back({{"name", "beta_cf"},
                           {"adapter", "manifest"},
                           {"root", (dir / "beta").string()},
                           {"annotations", (dir / "beta" / "annotations.csv").string()},
                           {"options", {{"cropped", true}}},
                           {"counterfactual_of", "beta"}});
  s["datasets"].push_back({{"name", "gamma_cf"},
                           {"adapter", "manifest"},
                           {"root", (dir / "gamma").string()},
                           {"annotations", (dir / "gamma_cf.csv").string()},
                           {"options", {{"cropped", true}}},
                           {"counterfactual_of", "gamma"}});

  // A twin of an unknown dataset, and a twin as a lodo target: user errors (exit 2) at their JSON paths.
  {
    nlohmann::json bad = s;
    bad["datasets"][3]["counterfactual_of"] = "betta";
    const auto r = run_merx("validate " + q(write_spec(dir, "bad.json", bad)));
    CHECK(r.code == 2);
    CHECK(r.err.find("datasets[3].counterfactual_of") != std::string::npos);
    CHECK(r.err.find("`betta` is not a dataset of this spec; did you mean `beta`?") != std::string::npos);
    bad = s;
    bad["protocol"]["params"] = {{"targets", {"alpha", "gamma_cf"}}};
    const auto t = run_merx("validate " + q(write_spec(dir, "bad.json", bad)));
    CHECK(t.code == 2);
    CHECK(t.err.find("protocol.params.targets[1]") != std::string::npos);
    CHECK(t.err.find("`gamma_cf` is the counterfactual twin of `gamma`") != std::string::npos);
  }

  const fs::path file = write_spec(dir, "spec.json", s);
  const auto r = run_merx("run " + q(file) + " --cache " + q(dir / "cache") + " --prep-jobs 2");
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("3 cells run (3 done, 0 failed)") != std::string::npos);  // no fold for a twin
  CHECK(r.err.find("counterfactual twin `gamma_cf`: 1 clip without a partner (e.g. gamma/s2/s2_surprise0)") !=
        std::string::npos);

  const merx::Plan plan = plan_of(file);
  REQUIRE(plan.cells.size() == 3);
  merx::Store store = merx::Store::open((dir / "results.sqlite").string(), merx::Store::Mode::ReadOnly);
  int64_t group = 0;
  for (const auto& cell : plan.cells) {
    CAPTURE(cell.fold);
    const auto rec = store.read_cell(cell.identity);
    REQUIRE(rec);
    REQUIRE(rec->status == merx::CellStatus::Done);
    group = store.find_cell(cell.identity)->key.group_id;
    std::map<std::string, const merx::MetricRow*> m;
    for (const auto& row : rec->metrics) m[row.name] = &row;
    // Only test clips in the predictions table: the twins' predictions live in the artifact.
    CHECK(rec->predictions.size() == static_cast<size_t>(6 * kClipsPerClass.at(cell.fold)));
    const nlohmann::json* art = nullptr;
    for (const auto& a : rec->artifacts)
      if (a.name == "engine.counterfactual") art = &a.data;
    if (cell.fold == "alpha") {  // no twin: none of the counterfactual rows
      CHECK(m.count("shortcut_flip_rate") == 0);
      CHECK(art == nullptr);
      CHECK(rec->metrics.size() == 12);
      continue;
    }
    REQUIRE(m.count("shortcut_flip_rate") == 1);
    REQUIRE(art);
    std::map<std::string, std::string> predicted;
    for (const auto& p : rec->predictions) predicted[p.sample_key] = p.predicted_class;
    int64_t flips = 0;
    for (const auto& pair : (*art)["pairs"]) flips += predicted.at(pair["key"]) != pair["twin_predicted"];
    const auto n = static_cast<int64_t>((*art)["pairs"].size());
    REQUIRE(m.at("shortcut_flip_rate")->value);
    CHECK(*m.at("shortcut_flip_rate")->value == static_cast<double>(flips) / static_cast<double>(n));
    CHECK(m.at("counterfactual_n")->value == static_cast<double>(n));
    if (cell.fold == "beta") {  // the same clips: the same predictions
      CHECK(n == 6);
      CHECK(flips == 0);
      CHECK(m.at("counterfactual_unmatched")->value == 0.0);
      CHECK((*art)["pairs"][0]["twin"].get<std::string>().rfind("beta_cf/", 0) == 0);
    } else {  // gamma: 5 of 6 clips paired, other motions
      CHECK(n == 5);
      CHECK(flips > 0);
      CHECK(m.at("counterfactual_unmatched")->value == 1.0);
      CHECK((*art)["unmatched"]["gamma_cf"] == nlohmann::json::array({"gamma/s2/s2_surprise0"}));
    }
  }
  // The group's pooled metrics see the test clips only (24), and it lists the protocol's domains only.
  const merx::GroupMetrics gm = store.read_group_metrics(group);
  for (const auto& m : gm.metrics)
    if (m.scope == merx::MetricScope::Pooled && m.name == "uf1" && !m.class_name) CHECK(m.support == 24);
  CHECK(store.read_group(group)->datasets == std::vector<std::string>{"alpha", "beta", "gamma"});
}
