// `merx run` over several slots (issue 9): a 12-cell LODO spec (linear backbone, tiny generated corpus) on
// two CPU slots with exact stored rows, one throwing and one non-finite cell failed with their reasons;
// the same spec on three simulated GPUs (one cell per device at a time, failures return the slot);
// concurrent cells bit-identical to the same cells run one at a time (STSTNet, with dropout); SIGINT and
// SIGKILL mid-run followed by a rerun; --shard partitions.
//
// Expected counts come from the corpus layout: datasets alpha (12 clips), beta (6), gamma (6); a LODO fold
// tests on one dataset, so a cell predicts 12, 6 or 6 clips; fold-scope metrics are uf1, uar, accuracy and
// precision/recall/f1 for each of the 3 classes = 12 rows (merx/metrics/metrics.h contract).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../cli/run.h"
#include "corpus_fixture.h"
#include "merx/spec/plan.h"
#include "merx/spec/spec.h"
#include "merx/store/store.h"

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using merx::test::run_merx;
using merx::test::run_shell;

using namespace merx::test::engine;

namespace {

// LODO (3 folds) x 4 variants x 1 seed = 12 cells. Variant `fault` throws in fold alpha and turns NaN in
// fold beta (tests/engine/plugins/test_fault.cpp); the other 10 cells are healthy.
nlohmann::json spec(const fs::path& dir, const std::string& backbone, int epochs, bool fault) {
  const nlohmann::json datasets = corpus_datasets(dir);
  nlohmann::json variants = {{{"name", "erm"}},
                             {{"name", "lr"}, {"training", {{"lr", 0.02}}}},
                             {{"name", "wd"}, {"training", {{"weight_decay", 0.001}}}}};
  if (fault)
    variants.push_back({{"name", "fault"},
                        {"regularizer",
                         {{"name", "test_fault"}, {"params", {{"throw_target", "alpha"}, {"nan_target", "beta"}}}}}});
  else
    variants.push_back({{"name", "sgd"}, {"training", {{"optimizer", "sgd"}, {"momentum", 0.9}}}});
  return {{"name", "sched"},
          {"datasets", datasets},
          {"labels", {{"name", "megc3"}}},
          {"recipe", {{"name", "flow_strain"}, {"params", {{"size", 28}, {"flow_size", 32}, {"flow", "farneback"}}}}},
          {"protocol", {{"name", "lodo"}}},
          {"backbone", {{"name", backbone}}},
          {"training", {{"epochs", epochs}, {"batch", 2}, {"lr", 0.01}}},
          {"seeds", 1},
          {"sweep", {{"variants", variants}}},
          {"plugin_paths", {std::string(MERX_TEST_PLUGIN_DIR) + "/engine"}},
          {"output", (dir / "results.sqlite").string()}};
}

std::string slot_of(const merx::CellResult& r) {
  for (const auto& a : r.artifacts)
    if (a.name == "engine.slot") return a.data.value("slot", "");
  return "";
}

// Every cell of the plan stored once with the rows its status implies; returns the failed cells' folds.
std::map<std::string, std::string> check_rows(const merx::Plan& plan, const fs::path& db, int threads) {
  merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
  CHECK(store.integrity_check().empty());
  const merx::StatusCounts counts = store.count_cells();
  CHECK(counts.total() == static_cast<int64_t>(plan.cells.size()));  // no duplicate cell rows
  std::map<std::string, std::string> failed;
  for (const auto& cell : plan.cells) {
    const std::string variant = plan.points.at(cell.point).variant;
    CAPTURE(variant);
    CAPTURE(cell.fold);
    const auto r = store.read_cell(cell.identity);
    REQUIRE(r);
    CHECK(r->threads == threads);
    CHECK(r->device == "cpu");
    if (r->status == merx::CellStatus::Failed) {
      failed[variant + "/" + cell.fold] = r->error;
      CHECK(r->predictions.empty());
      CHECK(r->metrics.empty());
      continue;
    }
    CHECK(r->status == merx::CellStatus::Done);
    CHECK(r->metrics.size() == 12);
    CHECK(r->predictions.size() == static_cast<size_t>(6 * kClipsPerClass.at(cell.fold)));
    std::set<std::string> keys;
    for (const auto& p : r->predictions) keys.insert(p.sample_key);
    CHECK(keys.size() == r->predictions.size());  // one prediction per test clip, none twice
    CHECK(r->chosen_epoch == plan.points.at(cell.point).training.epochs - 1);
  }
  return failed;
}

std::set<std::string> stored_identities(const fs::path& db) {
  merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
  std::set<std::string> ids;
  for (int64_t g : store.list_groups())
    for (const auto& c : store.group_cells(g)) ids.insert(c.key.identity);
  return ids;
}

}  // namespace

TEST_CASE("merx run --jobs 2: 12 cells, a throwing and a NaN cell fail with reasons, the other 10 are done") {
  const Scratch scratch("jobs");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path file = write_spec(dir, "spec.json", spec(dir, "linear", 3, true));
  const merx::Plan plan = plan_of(file);
  REQUIRE(plan.cells.size() == 12);
  const std::string cache = " --cache " + q(dir / "cache");

  const auto r = run_merx("run " + q(file) + cache + " --jobs 2");
  INFO(r.out);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.out.find("sched: 12 cells run (10 done, 2 failed), 0 already done") != std::string::npos);
  CHECK(r.err.find("cells: 12 on 2 cpu slots, 1 torch thread per cell") != std::string::npos);
  const auto failed = check_rows(plan, dir / "results.sqlite", 1);
  REQUIRE(failed.size() == 2);
  REQUIRE(failed.count("fault/alpha"));
  REQUIRE(failed.count("fault/beta"));
  CHECK(failed.at("fault/alpha").find("test_fault: injected failure for target alpha") != std::string::npos);
  CHECK(failed.at("fault/beta").find("non-finite loss at step 0 (epoch 0, batch 0 of ") != std::string::npos);
  CHECK(failed.at("fault/beta").find("nan_term=nan") != std::string::npos);

  // Both slots worked.
  std::set<std::string> slots;
  {
    merx::Store store = merx::Store::open((dir / "results.sqlite").string(), merx::Store::Mode::ReadOnly);
    for (const auto& c : plan.cells) slots.insert(slot_of(*store.read_cell(c.identity)));
  }
  CHECK(slots == std::set<std::string>{"cpu:0", "cpu:1"});

  // Three simulated GPUs: one cell per device at a time, a failed cell's device takes further cells, and
  // the results equal those of the CPU slots (the schedule does not change a cell).
  const fs::path sim = dir / "sim.sqlite";
  const auto g = run_merx("run " + q(file) + cache + " --simulate-gpus 3 --output " + q(sim));
  INFO(g.err);
  CHECK(g.code == 1);
  CHECK(g.err.find("cells: 12 on 3 simulated gpu slots") != std::string::npos);
  CHECK(check_rows(plan, sim, 1).size() == 2);
  merx::Store a = merx::Store::open((dir / "results.sqlite").string(), merx::Store::Mode::ReadOnly);
  merx::Store b = merx::Store::open(sim.string(), merx::Store::Mode::ReadOnly);
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_slot;  // slot -> (start, end)
  std::vector<std::pair<std::string, std::string>> failed_runs;                   // (slot, end)
  for (const auto& c : plan.cells) {
    const auto x = a.read_cell(c.identity), y = b.read_cell(c.identity);
    REQUIRE(x);
    REQUIRE(y);
    CHECK(x->status == y->status);
    CHECK((x->predictions == y->predictions));
    CHECK((x->curves == y->curves));
    const std::string s = slot_of(*y);
    CHECK((s == "sim-gpu:0" || s == "sim-gpu:1" || s == "sim-gpu:2"));
    by_slot[s].push_back({y->started_at, y->finished_at});
    if (y->status == merx::CellStatus::Failed) failed_runs.push_back({s, y->finished_at});
  }
  CHECK(by_slot.size() >= 2);
  for (auto& [s, runs] : by_slot) {
    CAPTURE(s);
    std::sort(runs.begin(), runs.end());
    for (size_t i = 1; i < runs.size(); ++i) CHECK(runs[i - 1].second <= runs[i].first);  // never two at once
  }
  // A failed cell gives its slot back: when any cell started after the failure (so work was still queued
  // then), the failed cell's slot took work again. A failure among the last cells may leave nothing to take.
  for (const auto& [s, end] : failed_runs) {
    CAPTURE(s);
    bool later = false, reused = false;
    for (const auto& [slot, runs] : by_slot)
      for (const auto& run : runs) later = later || run.first > end;
    for (const auto& run : by_slot[s]) reused = reused || run.first >= end;
    if (later) CHECK(reused);
  }
}

TEST_CASE("merx run: concurrent STSTNet cells (dropout) are bit-identical to the same cells run one at a time") {
  const Scratch scratch("repro");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  nlohmann::json s = spec(dir, "ststnet", 2, false);
  s["sweep"]["variants"] = nlohmann::json::array({s["sweep"]["variants"][0], s["sweep"]["variants"][1]});
  const fs::path file = write_spec(dir, "spec.json", s);
  const merx::Plan plan = plan_of(file);
  REQUIRE(plan.cells.size() == 6);
  const std::string base = "run " + q(file) + " --cache " + q(dir / "cache") + " --threads-per-cell 1";
  const auto one = run_merx(base + " --jobs 1 --output " + q(dir / "one.sqlite"));
  INFO(one.err);
  REQUIRE(one.code == 0);
  const auto two = run_merx(base + " --jobs 2 --output " + q(dir / "two.sqlite"));
  INFO(two.err);
  REQUIRE(two.code == 0);
  CHECK(check_rows(plan, dir / "one.sqlite", 1).empty());
  CHECK(check_rows(plan, dir / "two.sqlite", 1).empty());
  merx::Store a = merx::Store::open((dir / "one.sqlite").string(), merx::Store::Mode::ReadOnly);
  merx::Store b = merx::Store::open((dir / "two.sqlite").string(), merx::Store::Mode::ReadOnly);
  for (const auto& c : plan.cells) {
    const auto x = a.read_cell(c.identity), y = b.read_cell(c.identity);
    REQUIRE(x);
    REQUIRE(y);
    CHECK((x->predictions == y->predictions));  // probabilities to the last bit
    CHECK((x->curves == y->curves));            // per-epoch losses: the same dropout masks and batches
    CHECK((x->metrics == y->metrics));
  }
}

TEST_CASE("merx run: SIGINT and SIGKILL mid-run, then a rerun finishes every cell once") {
  const Scratch scratch("signals");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path file = write_spec(dir, "spec.json", spec(dir, "ststnet", 12, false));
  const merx::Plan plan = plan_of(file);
  REQUIRE(plan.cells.size() == 12);
  const std::string cache = " --cache " + q(dir / "cache");
  // Starts merx in the background, waits for its first finished cell, sends the signal, prints the exit code.
  auto interrupted_run = [&](const fs::path& db, const std::string& signal) {
    const fs::path log = dir / ("log_" + signal);
    const std::string cmd = "'" + std::string(MERX_EXE) + "' run " + q(file) + cache + " --jobs 2 --output " +
                            q(db) + " >" + q(log) + " 2>&1 & pid=$!; i=0; while [ $i -lt 1200 ] && ! grep -q 'done in' " +
                            q(log) + "; do sleep 0.05; i=$((i+1)); done; kill -" + signal +
                            " $pid; wait $pid; echo \"rc=$?\"";
    return run_shell(cmd);
  };

  SUBCASE("SIGINT") {
    const fs::path db = dir / "int.sqlite";
    const auto r = interrupted_run(db, "INT");
    INFO(r.out);
    CHECK(r.out.find("rc=130") != std::string::npos);
    {
      merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
      const merx::StatusCounts c = store.count_cells();
      CHECK(c.running == 0);  // running cells were stored as interrupted
      CHECK(c.done >= 1);
      CHECK(c.done < 12);
      CHECK(c.total() == 12);
    }
    const auto again = run_merx("run " + q(file) + cache + " --jobs 2 --output " + q(db));
    INFO(again.err);
    CHECK(again.code == 0);
    CHECK(check_rows(plan, db, 1).empty());
  }
  SUBCASE("SIGKILL") {
    const fs::path db = dir / "kill.sqlite";
    const auto r = interrupted_run(db, "KILL");
    INFO(r.out);
    CHECK(r.out.find("rc=137") != std::string::npos);
    {
      merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
      const merx::StatusCounts c = store.count_cells();
      CHECK(c.running >= 1);  // what the killed run was doing
      CHECK(c.done < 12);
    }
    const auto again = run_merx("run " + q(file) + cache + " --jobs 2 --output " + q(db));
    INFO(again.err);
    CHECK(again.code == 0);
    CHECK(again.err.find("left `running` by a run that was killed: queued again") != std::string::npos);
    CHECK(check_rows(plan, db, 1).empty());  // includes integrity_check and no duplicate rows
  }
}

TEST_CASE("merx run --shard i/N: the shards partition the cells of merx plan, each into its own database") {
  const Scratch scratch("shard");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path file = write_spec(dir, "spec.json", spec(dir, "linear", 1, false));
  const auto planned = run_merx("plan " + q(file) + " --format json");
  REQUIRE(planned.code == 0);
  std::set<std::string> all;
  std::vector<std::string> order;
  const nlohmann::json plan_json = nlohmann::json::parse(planned.out);
  for (const auto& c : plan_json.at("cells")) {
    all.insert(c.at("identity").get<std::string>());
    order.push_back(c.at("identity").get<std::string>());
  }
  REQUIRE(all.size() == 12);
  std::set<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    const fs::path db = dir / ("shard" + std::to_string(i) + ".sqlite");
    const auto r = run_merx("run " + q(file) + " --cache " + q(dir / "cache") + " --shard " + std::to_string(i) +
                            "/5 --output " + q(db));
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::set<std::string> ids = stored_identities(db);
    // Cells i, i+5, i+10 of the plan (12 cells over 5 shards: 3, 3, 2, 2, 2).
    std::set<std::string> want;
    for (size_t k = static_cast<size_t>(i); k < order.size(); k += 5) want.insert(order[k]);
    CHECK(ids == want);
    for (const auto& id : ids) CHECK(seen.insert(id).second);  // no cell in two shards
  }
  CHECK(seen == all);
  // Default output: next to the spec's, named after the shard.
  const auto d = run_merx("run " + q(file) + " --cache " + q(dir / "cache") + " --shard 1/5");
  CHECK(d.code == 0);
  CHECK(fs::exists(dir / "results.shard-1-of-5.sqlite"));
  CHECK(run_merx("run " + q(file) + " --shard 5/5").code == 2);
  CHECK(run_merx("run " + q(file) + " --shard x").code == 2);
}
