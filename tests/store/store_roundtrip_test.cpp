// Round trips through every table, idempotent upserts, the queue, and the schema's own constraints.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

#include "merx/store/store.h"
#include "store_test_util.h"

using namespace merx;
using merx::test::sql_exec;
using merx::test::sql_int;
using merx::test::sql_text;

namespace {

void check_metric(const MetricRow& got, MetricScope scope, const std::string& target, const std::string& name,
                  std::optional<std::string> cls, std::optional<double> value, const std::string& reason,
                  int64_t support, int64_t defined) {
  CHECK(got.scope == scope);
  CHECK(got.target == target);
  CHECK(got.name == name);
  CHECK(got.class_name == cls);
  CHECK(got.value == value);
  CHECK(got.reason == reason);
  CHECK(got.support == support);
  CHECK(got.n_classes_defined == defined);
}

}  // namespace

TEST_CASE("a finished cell reads back field by field from every table") {
  test::TempDir dir;
  const std::string path = dir.file("results.db");
  Store store = Store::open(path);
  CHECK(store.user_version() == 4);
  test::seed_queue(store, 2);
  REQUIRE(store.claim_cell("cell-0", {"claim-host", "cpu", 4}));

  store.write_finished_cell(test::full_result("cell-0", 0));
  const std::optional<CellResult> got = store.read_cell("cell-0");
  REQUIRE(got);
  const CellResult& r = *got;

  CHECK(r.identity == "cell-0");
  CHECK(r.status == CellStatus::Done);
  CHECK(r.error.empty());
  CHECK(r.started_at == "2025-01-02T03:04:05.678Z");
  CHECK(r.finished_at == "2025-01-02T03:14:05.000Z");
  CHECK(r.prep_seconds == 1.25);
  CHECK(r.fit_seconds == 2.5);
  CHECK(r.train_seconds == 300.125);
  CHECK(r.eval_seconds == 0.75);
  CHECK(r.threads == 2);
  CHECK(r.host == "node-7");
  CHECK(r.device == "cuda:0");
  CHECK(r.git_commit == "abc1234-dirty");
  CHECK(r.merx_version == "0.1.0");
  CHECK(r.libtorch_version == "2.1.0");
  CHECK(r.selection == "source_val");
  CHECK(r.chosen_epoch == 17);
  CHECK(r.backbone.name == "ststnet");
  CHECK(r.backbone.version == "1.0");
  CHECK(r.backbone.sha256 == std::string(64, 'a'));
  CHECK(r.regularizer.name == "brl");
  CHECK(r.regularizer.version == "2.1");
  CHECK(r.regularizer.sha256 == std::string(64, 'b'));
  CHECK(r.augmenter.name == "au_gan");
  CHECK(r.augmenter.version == "0.3");
  CHECK(r.augmenter.sha256 == std::string(64, 'c'));
  CHECK(r.validation_split["samm"][1] == "samm/007/b");
  CHECK(r.validation_split["seed"] == 42);

  REQUIRE(r.metrics.size() == 3);
  check_metric(r.metrics[0], MetricScope::Fold, "", "uf1", std::nullopt, 0.5, "", 30, 3);
  check_metric(r.metrics[1], MetricScope::Fold, "", "f1", std::string("surprise"), std::nullopt,
               "class absent: no samples, no predictions", 0, 3);
  check_metric(r.metrics[2], MetricScope::Target, "samm", "uar", std::nullopt, 0.625, "", 30, 2);

  REQUIRE(r.confusion.size() == 2);
  CHECK(r.confusion[1].scope == MetricScope::Fold);
  CHECK(r.confusion[1].true_class == "negative");
  CHECK(r.confusion[1].predicted_class == "positive");
  CHECK(r.confusion[1].count == 3);
  CHECK(r.confusion[0].count == 12);

  REQUIRE(r.predictions.size() == 2);
  CHECK(r.predictions[0].sample_key == "samm/006/clip_a");
  CHECK(r.predictions[0].true_class == "negative");
  CHECK(r.predictions[0].predicted_class == "negative");
  CHECK(r.predictions[0].probabilities["negative"] == 0.875);
  CHECK(r.predictions[0].probabilities["positive"] == 0.125);
  CHECK(r.predictions[1].sample_key == "samm/007/clip_b");
  CHECK(r.predictions[1].predicted_class == "negative");
  CHECK(r.predictions[1].probabilities.is_null());

  REQUIRE(r.curves.size() == 3);
  CHECK(r.curves[0].epoch == 0);
  CHECK(r.curves[0].name == "loss");
  CHECK(r.curves[0].value == 1.5);
  CHECK(r.curves[1].epoch == 1);
  CHECK(r.curves[1].value == 0.25);
  CHECK(r.curves[2].name == "loss_js");
  CHECK(std::isnan(r.curves[2].value));

  REQUIRE(r.artifacts.size() == 1);
  CHECK(r.artifacts[0].name == "au_gan.quality");
  CHECK(r.artifacts[0].data["accuracy"]["negative"] == 0.9);
  CHECK(r.artifacts[0].data["diversity"] == 0.33);

  // The whole value compares equal too (operator== of every row type).
  const CellResult want = test::full_result("cell-0", 0);
  CHECK(r.metrics == want.metrics);
  CHECK(r.confusion == want.confusion);
  CHECK(r.predictions == want.predictions);
  CHECK(r.curves == want.curves);
  CHECK(r.artifacts == want.artifacts);

  // Raw SQL sees what the schema promises: NULL value with reason, NULL class, one row per table entry.
  CHECK(sql_int(path, "SELECT count(*) FROM metrics WHERE value IS NULL AND reason IS NOT NULL") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM metrics WHERE class IS NULL") == 2);
  CHECK(sql_int(path, "SELECT count(*) FROM predictions") == 2);
  CHECK(sql_int(path, "SELECT count(*) FROM curves WHERE value IS NULL") == 1);
  CHECK(sql_text(path, "SELECT status FROM cells WHERE identity = 'cell-0'") == "done");
  CHECK(sql_int(path, "SELECT attempts FROM cells WHERE identity = 'cell-0'") == 1);

  // The other cell is untouched.
  CHECK(store.cell_status("cell-1") == CellStatus::Queued);
  CHECK(store.read_cell("cell-1")->metrics.empty());
  CHECK_FALSE(store.read_cell("no-such-cell"));
  CHECK(store.integrity_check().empty());
}

TEST_CASE("an empty started_at, host or device keeps what claim_cell recorded") {
  test::TempDir dir;
  Store store = Store::open(dir.file("r.db"));
  test::seed_queue(store, 1);
  REQUIRE(store.claim_cell("cell-0", {"claim-host", "cuda:1", 3}));
  CellResult r;
  r.identity = "cell-0";
  r.status = CellStatus::Failed;
  r.error = "CUDA out of memory";
  store.write_finished_cell(r);
  const CellResult got = *store.read_cell("cell-0");
  CHECK(got.status == CellStatus::Failed);
  CHECK(got.error == "CUDA out of memory");
  CHECK(got.host == "claim-host");
  CHECK(got.device == "cuda:1");
  CHECK(got.threads == 3);
  CHECK(got.started_at.size() == 24);  // 'YYYY-MM-DDTHH:MM:SS.sssZ'
  CHECK(got.finished_at.size() == 24);
  CHECK_FALSE(got.train_seconds);
  CHECK(got.validation_split.is_null());
  CHECK(got.backbone.name.empty());
}

TEST_CASE("rewriting a cell replaces its previous rows instead of adding to them") {
  test::TempDir dir;
  const std::string path = dir.file("r.db");
  Store store = Store::open(path);
  test::seed_queue(store, 1);
  store.write_finished_cell(test::full_result("cell-0", 0));
  CellResult second = test::full_result("cell-0", 1);
  second.metrics.resize(1);
  second.predictions.resize(1);
  store.write_finished_cell(second);
  CHECK(sql_int(path, "SELECT count(*) FROM metrics") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM predictions") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM confusion") == 2);
  CHECK(sql_int(path, "SELECT count(*) FROM curves") == 3);
  CHECK(store.read_cell("cell-0")->metrics[0].value == doctest::Approx(0.51));
}

TEST_CASE("group metrics read back and a second write replaces the first") {
  test::TempDir dir;
  const std::string path = dir.file("r.db");
  Store store = Store::open(path);
  test::seed_queue(store, 1);
  const int64_t group = sql_int(path, "SELECT id FROM groups WHERE identity = 'group-a'");
  REQUIRE(group > 0);

  const std::vector<MetricRow> first = {
      {MetricScope::Pooled, "", "uf1", std::nullopt, 0.25, "", 300, 3},
      {MetricScope::Pooled, "", "uar", std::nullopt, std::nullopt, "no test samples", 0, 0},
  };
  store.write_group_metrics(group, first, {{MetricScope::Pooled, "", "a", "b", 5}});
  const std::vector<MetricRow> second = {
      {MetricScope::Pooled, "", "uf1", std::nullopt, 0.75, "", 300, 3},
      {MetricScope::Target, "samm", "uf1", std::nullopt, 0.5, "", 120, 3},
      {MetricScope::Pooled, "", "recall", std::string("surprise"), 1.0, "", 20, 3},
  };
  const std::vector<ConfusionEntry> confusion = {{MetricScope::Target, "samm", "negative", "surprise", 7}};
  store.write_group_metrics(group, second, confusion);

  const GroupMetrics got = store.read_group_metrics(group);
  REQUIRE(got.metrics.size() == 3);
  check_metric(got.metrics[0], MetricScope::Pooled, "", "uf1", std::nullopt, 0.75, "", 300, 3);
  check_metric(got.metrics[1], MetricScope::Target, "samm", "uf1", std::nullopt, 0.5, "", 120, 3);
  check_metric(got.metrics[2], MetricScope::Pooled, "", "recall", std::string("surprise"), 1.0, "", 20, 3);
  REQUIRE(got.confusion.size() == 1);
  CHECK(got.confusion[0].scope == MetricScope::Target);
  CHECK(got.confusion[0].target == "samm");
  CHECK(got.confusion[0].true_class == "negative");
  CHECK(got.confusion[0].predicted_class == "surprise");
  CHECK(got.confusion[0].count == 7);
  CHECK(sql_int(path, "SELECT count(*) FROM metrics WHERE group_id IS NOT NULL AND cell_id IS NULL") == 3);
}

TEST_CASE("upserting the same experiment, group and cells twice leaves one row each") {
  test::TempDir dir;
  const std::string path = dir.file("r.db");
  Store store = Store::open(path);
  const ExperimentKey e{"exp", {{"lr", 0.001}}, "hash-1"};
  const int64_t e1 = store.upsert_experiment(e);
  const int64_t e2 = store.upsert_experiment(e);
  CHECK(e1 == e2);
  CHECK(store.upsert_experiment({"exp", {{"lr", 0.01}}, "hash-2"}) != e1);

  GroupKey g;
  g.experiment_id = e1;
  g.identity = "g-1";
  g.variant = "brl";
  g.point_hash = "p";
  g.assignments = {{"regularizer.lambda_js", 1.0}};
  g.seed = 3;
  g.protocol = "loso";
  g.datasets = {"casme2", "samm"};
  const int64_t g1 = store.upsert_group(g);
  CHECK(store.upsert_group(g) == g1);

  const std::vector<CellKey> cells = {{"c-1", g1, "casme2/sub01", "casme2", 1},
                                      {"c-2", g1, "casme2/sub02", "casme2", 2},
                                      {"c-3", g1, "samm/006", "samm", 3}};
  CHECK(store.enqueue_cells(cells) == 3);
  REQUIRE(store.claim_cell("c-2", {"h", "cpu", 1}));
  store.write_finished_cell(test::full_result("c-2", 0));
  CHECK(store.enqueue_cells(cells) == 0);

  CHECK(sql_int(path, "SELECT count(*) FROM experiments") == 2);
  CHECK(sql_int(path, "SELECT count(*) FROM groups") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM cells") == 3);
  CHECK(store.cell_status("c-2") == CellStatus::Done);  // re-enqueueing does not reset a finished cell
  CHECK(sql_text(path, "SELECT datasets_json FROM groups") == R"(["casme2","samm"])");
  CHECK(sql_text(path, "SELECT protocol FROM groups") == "loso");
  CHECK(sql_int(path, "SELECT seed FROM groups") == 3);
}

TEST_CASE("the full 64-bit cell seed survives the signed INTEGER column") {
  test::TempDir dir;
  const std::string path = dir.file("r.db");
  Store store = Store::open(path);
  test::seed_queue(store, 0);
  const int64_t group = sql_int(path, "SELECT id FROM groups");
  store.enqueue_cells({{"max", group, "f", "t", 0xFFFFFFFFFFFFFFFFull},
                       {"high", group, "f", "t", 0x8000000000000000ull},
                       {"low", group, "f", "t", 0x7FFFFFFFFFFFFFFFull}});
  CHECK(store.find_cell("max")->key.cell_seed == 0xFFFFFFFFFFFFFFFFull);
  CHECK(store.find_cell("high")->key.cell_seed == 0x8000000000000000ull);
  CHECK(store.find_cell("low")->key.cell_seed == 0x7FFFFFFFFFFFFFFFull);
  CHECK(sql_int(path, "SELECT cell_seed FROM cells WHERE identity = 'max'") == -1);
  CHECK(sql_text(path, "SELECT printf('%016x', cell_seed) FROM cells WHERE identity = 'high'") ==
        "8000000000000000");
}

TEST_CASE("the queue: claims are exclusive, counts follow status, requeue brings cells back") {
  test::TempDir dir;
  Store store = Store::open(dir.file("r.db"));
  const int64_t exp = test::seed_queue(store, 3);
  const Claim who{"host-1", "cpu", 2};
  CHECK(store.claim_next(exp, who) == std::optional<std::string>("cell-0"));
  CHECK_FALSE(store.claim_cell("cell-0", who));  // already running
  CHECK(store.claim_cell("cell-2", who));
  CHECK(store.claim_next(exp, who) == std::optional<std::string>("cell-1"));
  CHECK_FALSE(store.claim_next(exp, who));
  CHECK_FALSE(store.claim_cell("no-such-cell", who));

  CellResult failed;
  failed.identity = "cell-1";
  failed.status = CellStatus::Failed;
  failed.error = "boom";
  store.write_finished_cell(failed);
  store.write_finished_cell(test::full_result("cell-2", 0));

  StatusCounts n = store.count_cells(exp);
  CHECK(n.running == 1);
  CHECK(n.failed == 1);
  CHECK(n.done == 1);
  CHECK(n.queued == 0);
  CHECK(n.total() == 3);
  CHECK(store.count_cells(exp + 100).total() == 0);

  CHECK(store.requeue(exp, {CellStatus::Failed, CellStatus::Running}) == 2);
  n = store.count_cells();
  CHECK(n.queued == 2);
  CHECK(n.done == 1);
  const CellRecord rec = *store.find_cell("cell-1");
  CHECK(rec.status == CellStatus::Queued);
  CHECK(rec.attempts == 1);
  CHECK(rec.key.fold_id == "f1");
  CHECK(rec.key.target == "casme2");
  CHECK(rec.host == "host-1");
  CHECK(store.claim_cell("cell-1", who));
  CHECK(store.find_cell("cell-1")->attempts == 2);
}

TEST_CASE("invalid results are refused before anything is written") {
  test::TempDir dir;
  const std::string path = dir.file("r.db");
  Store store = Store::open(path);
  test::seed_queue(store, 1);
  REQUIRE(store.claim_cell("cell-0", {"h", "cpu", 1}));

  CellResult nan_metric = test::full_result("cell-0", 0);
  nan_metric.metrics[0].value = std::nan("");
  CHECK_THROWS_AS(store.write_finished_cell(nan_metric), std::invalid_argument);

  CellResult no_reason = test::full_result("cell-0", 0);
  no_reason.metrics[1].reason.clear();
  CHECK_THROWS_AS(store.write_finished_cell(no_reason), std::invalid_argument);

  CellResult target_missing = test::full_result("cell-0", 0);
  target_missing.metrics[2].target.clear();
  CHECK_THROWS_AS(store.write_finished_cell(target_missing), std::invalid_argument);

  CellResult unknown = test::full_result("cell-9", 0);
  CHECK_THROWS_AS(store.write_finished_cell(unknown), std::invalid_argument);

  CellResult queued = test::full_result("cell-0", 0);
  queued.status = CellStatus::Queued;
  CHECK_THROWS_AS(store.write_finished_cell(queued), std::invalid_argument);

  // A constraint failure half-way (duplicate prediction key) rolls the whole cell back.
  CellResult duplicate = test::full_result("cell-0", 0);
  duplicate.predictions.push_back(duplicate.predictions[0]);
  CHECK_THROWS_AS(store.write_finished_cell(duplicate), StoreError);

  CHECK(store.cell_status("cell-0") == CellStatus::Running);
  CHECK(sql_int(path, "SELECT count(*) FROM metrics") == 0);
  CHECK(sql_int(path, "SELECT count(*) FROM predictions") == 0);
  CHECK(sql_int(path, "SELECT count(*) FROM confusion") == 0);
}

TEST_CASE("the schema itself rejects what the API never writes") {
  test::TempDir dir;
  const std::string path = dir.file("r.db");
  {
    Store store = Store::open(path);
    test::seed_queue(store, 1);
  }
  const int64_t cell = sql_int(path, "SELECT id FROM cells");
  const int64_t group = sql_int(path, "SELECT id FROM groups");
  const std::string c = std::to_string(cell), g = std::to_string(group);
  const int ok = 0;
  // The baseline row is accepted, so each rejection below is due to the one thing changed.
  CHECK(sql_exec(path,
                 "INSERT INTO metrics (cell_id, scope, name, value, support, n_classes_defined) VALUES (" +
                     c + ", 'fold', 'uf1', 0.5, 1, 1)") == ok);
  CHECK(sql_exec(path,
                 "INSERT INTO metrics (cell_id, group_id, scope, name, value, support, n_classes_defined) "
                 "VALUES (" +
                     c + ", " + g + ", 'fold', 'uar', 0.5, 1, 1)") != ok);
  CHECK(sql_exec(path,
                 "INSERT INTO metrics (scope, name, value, support, n_classes_defined) "
                 "VALUES ('fold', 'uar', 0.5, 1, 1)") != ok);
  CHECK(sql_exec(path,
                 "INSERT INTO metrics (cell_id, scope, name, value, support, n_classes_defined) VALUES (" +
                     c + ", 'fold', 'uar', NULL, 1, 1)") != ok);
  CHECK(sql_exec(path,
                 "INSERT INTO metrics (cell_id, scope, name, value, support, n_classes_defined) VALUES (" +
                     c + ", 'global', 'uar', 0.5, 1, 1)") != ok);
  CHECK(sql_exec(path,
                 "INSERT INTO metrics (cell_id, scope, name, value, support, n_classes_defined) VALUES (" +
                     c + ", 'fold', 'uf1', 0.7, 1, 1)") != ok);  // duplicate (cell, scope, name, class)
  CHECK(sql_exec(path, "UPDATE cells SET status = 'finished'") != ok);
  CHECK(sql_exec(path, "INSERT INTO curves (cell_id, epoch, name, value) VALUES (999, 0, 'loss', 1)") != ok);

  // Deleting an experiment removes everything under it.
  CHECK(sql_exec(path, "DELETE FROM experiments") == ok);
  CHECK(sql_int(path, "SELECT count(*) FROM groups") == 0);
  CHECK(sql_int(path, "SELECT count(*) FROM cells") == 0);
  CHECK(sql_int(path, "SELECT count(*) FROM metrics") == 0);
}

TEST_CASE("a store opened read-only reads but never writes") {
  test::TempDir dir;
  const std::string path = dir.file("r.db");
  {
    Store store = Store::open(path);
    test::seed_queue(store, 2);
  }
  const auto before = test::snapshot(path);
  {
    Store ro = Store::open(path, Store::Mode::ReadOnly);
    CHECK(ro.count_cells().queued == 2);
    CHECK(ro.cell_status("cell-1") == CellStatus::Queued);
    CHECK_THROWS_AS(ro.claim_cell("cell-1", {"h", "cpu", 1}), StoreError);
  }
  CHECK(test::snapshot(path) == before);
  CHECK(sql_text(path, "SELECT status FROM cells WHERE identity = 'cell-1'") == "queued");
}
