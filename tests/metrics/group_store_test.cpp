// update_group_metrics on a real results store (cells written the way the engine writes them, by the
// convention of metrics.h) and `merx db recompute`. Expected figures: the hand example of metrics_test.cpp.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "cli/run.h"
#include "merx/metrics/metrics.h"
#include "merx/store/store.h"

using namespace merx;
using namespace merx::metrics;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kClasses = {"negative", "positive", "surprise"};

fs::path fresh(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("merx-metrics-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

struct Db {
  Store store;
  int64_t experiment = 0;
  explicit Db(const fs::path& file) : store(Store::open(file.string())) {
    experiment = store.upsert_experiment({"t", nlohmann::json::object(), std::string(64, 'e')});
  }
  int64_t group(const std::string& identity, const std::string& protocol) {
    GroupKey g;
    g.experiment_id = experiment;
    g.identity = identity;
    g.point_hash = "p";
    g.protocol = protocol;
    g.datasets = {"A", "B"};
    return store.upsert_group(g);
  }
  void cell(int64_t group, const std::string& id, const std::string& fold, const std::string& target) {
    store.enqueue_cells({{id, group, fold, target, 1}});
  }
  // Writes a done cell the way the engine does: fold rows from metric_rows / confusion_entries.
  void finish(const std::string& id, const Confusion& c, std::vector<Prediction> predictions = {}) {
    REQUIRE(store.claim_cell(id, {"host", "cpu", 1}));
    CellResult r;
    r.identity = id;
    r.status = CellStatus::Done;
    r.metrics = metric_rows(c, MetricScope::Fold);
    r.confusion = confusion_entries(c, MetricScope::Fold);
    r.predictions = std::move(predictions);
    store.write_finished_cell(r);
  }
};

std::optional<double> value(const GroupMetrics& g, MetricScope scope, const std::string& name,
                            const std::string& target = "") {
  for (const auto& m : g.metrics)
    if (m.scope == scope && m.name == name && !m.class_name && m.target == target) return m.value;
  return std::nullopt;
}

// The hand example: loso-like group, folds A/s1 and A/s2 on target A, B/s3 on target B.
int64_t hand_example(Db& db, bool finish_last = true) {
  const int64_t g = db.group("g-loso", "loso");
  db.cell(g, "c1", "A/s1", "A");
  db.cell(g, "c2", "A/s2", "A");
  db.cell(g, "c3", "B/s3", "B");
  db.finish("c1", Confusion::from(kClasses, {0, 0, 1}, {0, 0, 1}));
  db.finish("c2", Confusion::from(kClasses, {0}, {1}));
  if (finish_last) db.finish("c3", Confusion::from(kClasses, {1, 1, 1}, {1, 1, 0}));
  return g;
}

}  // namespace

TEST_CASE("update_group_metrics waits for every cell, then writes pooled, fold-mean and target figures") {
  const fs::path dir = fresh("update");
  Db db(dir / "r.sqlite");
  const int64_t g = hand_example(db, false);
  CHECK(!update_group_metrics(db.store, g));  // c3 still queued
  CHECK(db.store.read_group_metrics(g).metrics.empty());
  db.finish("c3", Confusion::from(kClasses, {1, 1, 1}, {1, 1, 0}));
  REQUIRE(update_group_metrics(db.store, g));
  const GroupMetrics m = db.store.read_group_metrics(g);
  CHECK(*value(m, MetricScope::Pooled, "uf1") == doctest::Approx(17.0 / 24).epsilon(1e-15));
  CHECK(*value(m, MetricScope::Pooled, "uf1_fold_mean") == doctest::Approx(7.0 / 15).epsilon(1e-15));
  CHECK(*value(m, MetricScope::Pooled, "uf1_target_mean") == doctest::Approx(17.0 / 30).epsilon(1e-15));
  CHECK(*value(m, MetricScope::Pooled, "uar_target_mean") == doctest::Approx(0.75).epsilon(1e-15));
  CHECK(*value(m, MetricScope::Target, "uf1", "A") == doctest::Approx(11.0 / 15).epsilon(1e-15));
  CHECK(*value(m, MetricScope::Target, "uar", "B") == doctest::Approx(2.0 / 3).epsilon(1e-15));
  int64_t pooled_count = 0;
  for (const auto& e : m.confusion)
    if (e.scope == MetricScope::Pooled) pooled_count += e.count;
  CHECK(pooled_count == 7);
  // Running it again gives the same rows (replaced, not added).
  REQUIRE(update_group_metrics(db.store, g));
  CHECK(db.store.read_group_metrics(g).metrics.size() == m.metrics.size());
  CHECK(!update_group_metrics(db.store, 9999));  // no such group: no cells
}

TEST_CASE("a cell tested on several datasets is split per target from its predictions") {
  const fs::path dir = fresh("kfold");
  Db db(dir / "r.sqlite");
  const int64_t g = db.group("g-kfold", "kfold_subject");
  db.cell(g, "k0", "k0", "A+B");
  // A: true negative negative, predicted negative positive -> UF1_A (2/3 + 0) / 2 = 1/3; B: positive right -> 1
  db.finish("k0", Confusion::from(kClasses, {0, 0, 1}, {0, 1, 1}),
            {{"A/s1/c1", "negative", "negative", nullptr},
             {"A/s1/c2", "negative", "positive", nullptr},
             {"B/s2/c1", "positive", "positive", nullptr}});
  REQUIRE(update_group_metrics(db.store, g));
  const GroupMetrics m = db.store.read_group_metrics(g);
  CHECK(*value(m, MetricScope::Target, "uf1", "A") == doctest::Approx(1.0 / 3));
  CHECK(*value(m, MetricScope::Target, "uf1", "B") == 1.0);
  CHECK(!value(m, MetricScope::Target, "uf1", "A+B"));
}

TEST_CASE("update_group_metrics refuses done cells that break the storage convention") {
  const fs::path dir = fresh("refuse");
  Db db(dir / "r.sqlite");
  const int64_t g = db.group("g1", "lodo");
  db.cell(g, "bare", "A", "A");
  REQUIRE(db.store.claim_cell("bare", {"h", "cpu", 1}));
  CellResult r;
  r.identity = "bare";
  r.status = CellStatus::Done;
  r.metrics = {MetricRow{MetricScope::Fold, "", "uf1", std::nullopt, 0.5, "", 3, 2}};  // no per-class rows
  db.store.write_finished_cell(r);
  CHECK_THROWS_AS(update_group_metrics(db.store, g), std::invalid_argument);

  const int64_t g2 = db.group("g2", "lodo");
  db.cell(g2, "x", "A", "A");
  db.cell(g2, "y", "B", "B");
  db.finish("x", Confusion::from(kClasses, {0}, {0}));
  db.finish("y", Confusion::from({"negative", "positive"}, {0}, {0}));  // other class list
  CHECK_THROWS_AS(update_group_metrics(db.store, g2), std::invalid_argument);

  const int64_t g3 = db.group("g3", "kfold_subject");
  db.cell(g3, "z", "k0", "A+B");
  db.finish("z", Confusion::from(kClasses, {0, 1}, {0, 1}), {{"A/s/c", "negative", "negative", nullptr}});
  CHECK_THROWS_AS(update_group_metrics(db.store, g3), std::invalid_argument);  // one prediction missing
}

TEST_CASE("merx db recompute rewrites every finished group and leaves unfinished ones") {
  const fs::path dir = fresh("cli");
  const fs::path file = dir / "r.sqlite";
  {
    Db db(file);
    const int64_t g = hand_example(db);
    const int64_t open = db.group("g-open", "lodo");
    db.cell(open, "o1", "A", "A");
    db.store.write_group_metrics(g, {}, {});  // as if the group had never been pooled
  }
  const auto r = test::run_merx("db recompute --db '" + file.string() + "'");
  CHECK(r.code == 0);
  CHECK(r.out.find("recomputed 1 of 2 groups") != std::string::npos);
  CHECK(r.out.find("0.7083") != std::string::npos);  // loso headline: pooled UF1 17/24
  CHECK(r.out.find("incomplete") != std::string::npos);
  {
    Store s = Store::open(file.string(), Store::Mode::ReadOnly);
    const GroupMetrics m = s.read_group_metrics(s.list_groups().front());
    CHECK(*value(m, MetricScope::Pooled, "uf1") == doctest::Approx(17.0 / 24).epsilon(1e-15));
  }
  const auto missing = test::run_merx("db recompute --db '" + (dir / "none.sqlite").string() + "'");
  CHECK(missing.code == 2);
  CHECK(missing.err.find("none.sqlite") != std::string::npos);
  CHECK(!fs::exists(dir / "none.sqlite"));
  const auto bare = test::run_merx("db");
  CHECK(bare.code == 2);
  CHECK(bare.err.find("`merx db` needs a subcommand") != std::string::npos);
}
