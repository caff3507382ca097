// merge_databases: two shards of a study merged equal the single-run database (timings and host aside);
// conflicting cells are refused with the cell named and the output untouched.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "fixture.h"
#include "merx/errors.h"
#include "merx/metrics/metrics.h"
#include "merx/store/merge.h"
#include "merx/store/store.h"
#include "store/store_test_util.h"

using namespace merx;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kIgnored = {"queued_at",   "started_at",    "finished_at",  "prep_seconds",
                                           "fit_seconds", "train_seconds", "eval_seconds", "threads",
                                           "host",        "device"};

void write_db(const std::string& path, const std::function<bool(std::size_t)>& mine, const std::string& host,
              const std::function<bool(std::size_t)>& bump = {}) {
  Store s = Store::open(path);
  test::write_study(s, mine, host, bump);
}

MergeSummary merge_and_recompute(const std::string& out, const std::vector<std::string>& in) {
  const MergeSummary sum = merge_databases(out, in);
  Store s = Store::open(out);
  for (int64_t g : sum.groups_changed) metrics::update_group_metrics(s, g);
  return sum;
}

}  // namespace

TEST_CASE(
    "merge: a study run as 2 shards and merged equals the single run in cells, metrics, confusion, "
    "predictions and curves") {
  test::TempDir dir;
  const std::string single = dir.file("single.sqlite"), a = dir.file("shard0.sqlite"),
                    b = dir.file("shard1.sqlite"), out = dir.file("merged.sqlite");
  write_db(
      single, [](std::size_t) { return true; }, "single");
  write_db(
      a, [](std::size_t i) { return i % 2 == 0; }, "node-a");  // as `merx run --shard 0/2`
  write_db(
      b, [](std::size_t i) { return i % 2 == 1; }, "node-b");
  // Shards alone lack the pooled rows of every group (each group has cells in both shards).
  CHECK(test::sql_int(a, "SELECT count(*) FROM metrics WHERE group_id IS NOT NULL") == 0);

  const MergeSummary sum = merge_and_recompute(out, {a, b});
  CHECK(sum.inputs == 2);
  CHECK(sum.experiments_added == 1);
  CHECK(sum.groups_added == 4);
  CHECK(sum.cells_added == test::kStudyCells);
  CHECK(sum.cells_identical == 0);
  CHECK(sum.groups_changed.size() == 4);

  const std::string want = test::dump_tables(single, kIgnored);
  const std::string got = test::dump_tables(out, kIgnored);
  CHECK(want.find("predictions:") != std::string::npos);
  CHECK(want.find("curves:") != std::string::npos);
  CHECK(want.find("metrics(group):") != std::string::npos);
  CHECK(got == want);
  // Host and timings come from the shards, not from the single run.
  CHECK(test::sql_int(out, "SELECT count(*) FROM cells WHERE host = 'node-a'") == 6);
  // Without ignoring them the dumps differ (the comparison is not blind).
  CHECK(test::dump_tables(out) != test::dump_tables(single));

  SUBCASE("merging a shard again is a no-op: identical duplicates are fine") {
    const MergeSummary again = merge_and_recompute(out, {b});
    CHECK(again.cells_added == 0);
    CHECK(again.cells_identical == 6);
    CHECK(again.groups_changed.empty());
    CHECK(test::dump_tables(out, kIgnored) == want);
  }
  SUBCASE("merging the single run into the merged database adds nothing") {
    const MergeSummary again = merge_and_recompute(out, {single});
    CHECK(again.cells_identical == test::kStudyCells);
    CHECK(test::dump_tables(out, kIgnored) == want);
  }
}

TEST_CASE(
    "merge: the same cell with different results is an error naming the cell and the output is untouched") {
  test::TempDir dir;
  const std::string a = dir.file("a.sqlite"), b = dir.file("b.sqlite"), out = dir.file("out.sqlite");
  write_db(
      a, [](std::size_t i) { return i < 8; }, "node-a");
  // b overlaps a on cells 6 and 7; cell 7's UF1 differs.
  write_db(
      b, [](std::size_t i) { return i >= 6; }, "node-b", [](std::size_t i) { return i == 7; });

  SUBCASE("into a new output: the file is not left behind") {
    try {
      merge_databases(out, {a, b});
      FAIL("merge accepted conflicting cells");
    } catch (const UserError& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find("cell-7") != std::string::npos);
      CHECK(msg.find("variant brl") != std::string::npos);
      CHECK(msg.find(a) != std::string::npos);
      CHECK(msg.find(b) != std::string::npos);
      CHECK(msg.find("uf1") != std::string::npos);
    }
    CHECK_FALSE(fs::exists(out));
  }
  SUBCASE("into an existing output: its content is as before") {
    merge_databases(out, {a});
    const std::string before = test::dump_tables(out);
    CHECK_THROWS_AS(merge_databases(out, {b}), UserError);
    CHECK(test::dump_tables(out) == before);
    CHECK(Store::open(out).integrity_check().empty());
  }
}

TEST_CASE("merge: a done cell replaces a queued one, and bad inputs are user errors") {
  test::TempDir dir;
  const std::string a = dir.file("a.sqlite"), b = dir.file("b.sqlite"), out = dir.file("out.sqlite");
  write_db(
      b, [](std::size_t i) { return i < 3; }, "node-b");
  // a: a copy of b where cell-1 is still queued (a shard that was stopped before running it).
  fs::copy_file(b, a, fs::copy_options::overwrite_existing);
  test::sql_exec(a, "UPDATE cells SET status = 'queued', error = NULL WHERE identity = 'cell-1'");
  test::sql_exec(a, "DELETE FROM metrics WHERE cell_id = (SELECT id FROM cells WHERE identity = 'cell-1')");
  const MergeSummary s1 = merge_and_recompute(out, {a, b});
  CHECK(s1.cells_added == 3);
  CHECK(s1.cells_replaced == 1);
  CHECK(s1.cells_identical == 2);
  CHECK(test::sql_text(out, "SELECT status FROM cells WHERE identity = 'cell-1'") == "done");
  CHECK(test::sql_int(out, "SELECT count(*) FROM metrics WHERE group_id IS NOT NULL") > 0);

  CHECK_THROWS_AS(merge_databases(out, {}), UserError);
  CHECK_THROWS_AS(merge_databases(out, {dir.file("missing.sqlite")}), UserError);
  CHECK_THROWS_AS(merge_databases(out, {out}), UserError);
  CHECK_THROWS_AS(merge_databases(dir.file("o2.sqlite"), {a, a}), UserError);
  test::write_file(dir.file("text.sqlite"), "not a database");
  CHECK_THROWS_AS(merge_databases(dir.file("o3.sqlite"), {dir.file("text.sqlite")}), UserError);
}
