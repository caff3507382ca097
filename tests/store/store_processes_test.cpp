// Several processes on one database file: concurrent writers, racing creators, a writer killed mid-cell.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "merx/store/store.h"
#include "store_test_util.h"

using namespace merx;
using merx::test::sql_int;
using merx::test::sql_text;

namespace {

// A small result: 3 metrics, 2 predictions, 1 curve point; values depend on the cell number.
CellResult small_result(const std::string& identity, int n, const std::string& host) {
  CellResult r;
  r.identity = identity;
  r.status = CellStatus::Done;
  r.host = host;
  r.train_seconds = 0.5;
  r.metrics = {{MetricScope::Fold, "", "uf1", std::nullopt, n / 1000.0, "", 10, 3},
               {MetricScope::Fold, "", "uar", std::nullopt, 0.5, "", 10, 3},
               {MetricScope::Fold, "", "f1", std::string("surprise"), std::nullopt, "no samples", 0, 3}};
  r.predictions = {{identity + "/a", "negative", "negative", {{"negative", 0.75}}},
                   {identity + "/b", "positive", "negative", nullptr}};
  r.curves = {{0, "loss", 1.0}};
  return r;
}

int cell_number(const std::string& identity) {
  return std::stoi(identity.substr(identity.find('-') + 1));
}

}  // namespace

TEST_CASE("4 processes x 200 cells written concurrently: no errors, every cell exactly once") {
  test::TempDir dir;
  const std::string path = dir.file("results.db");
  int64_t exp = 0;
  {
    Store store = Store::open(path);
    exp = test::seed_queue(store, 800);
  }  // no connection may be open across fork()

  test::Barrier start;
  std::vector<pid_t> children;
  for (int k = 0; k < 4; ++k) {
    children.push_back(test::spawn([&, k]() -> int {
      start.wait();
      Store store = Store::open(path);
      const std::string host = "worker-" + std::to_string(k);
      // Each worker stops after 200 cells: with 800 queued, all four reach exactly 200 only if no cell is
      // ever handed to two workers.
      int written = 0;
      while (written < 200) {
        const auto id = store.claim_next(exp, {host, "cpu", 1});
        if (!id) break;
        store.write_finished_cell(small_result(*id, cell_number(*id), host));
        ++written;
      }
      return written == 200 ? 0 : 1;
    }));
  }
  start.release();
  for (pid_t pid : children) CHECK(test::wait_child(pid) == 0);

  CHECK(sql_int(path, "SELECT count(*) FROM cells WHERE status = 'done'") == 800);
  CHECK(sql_int(path, "SELECT count(*) FROM cells") == 800);
  CHECK(sql_int(path, "SELECT count(*) FROM cells WHERE attempts = 1") == 800);
  CHECK(sql_int(path, "SELECT count(*) FROM metrics") == 2400);
  CHECK(sql_int(path, "SELECT count(*) FROM metrics WHERE value IS NULL AND reason = 'no samples'") == 800);
  CHECK(sql_int(path, "SELECT count(*) FROM predictions") == 1600);
  CHECK(sql_int(path, "SELECT count(*) FROM curves") == 800);
  for (int k = 0; k < 4; ++k)
    CHECK(sql_int(path, "SELECT count(*) FROM cells WHERE host = 'worker-" + std::to_string(k) + "'") == 200);
  // Each cell's rows belong to it: uf1 = n / 1000 for cell-n (sum over n = 0..799 is 319600 / 1000).
  CHECK(sql_text(path, "SELECT printf('%.3f', sum(value)) FROM metrics WHERE name = 'uf1'") == "319.600");
  CHECK(sql_text(path, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("8 processes creating the same new database at once apply the schema exactly once") {
  test::TempDir dir;
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    const std::string path = dir.file("race-" + std::to_string(round) + ".db");
    test::Barrier start;
    std::vector<pid_t> children;
    for (int k = 0; k < 8; ++k) {
      children.push_back(test::spawn([&]() -> int {
        start.wait();
        Store store = Store::open(path);
        return store.user_version() == 4 ? 0 : 1;
      }));
    }
    start.release();
    for (pid_t pid : children) CHECK(test::wait_child(pid) == 0);

    CHECK(sql_int(path, "PRAGMA user_version") == 4);  // db/001 .. db/004
    CHECK(sql_int(path, "PRAGMA application_id") == 1296388696);
    CHECK(sql_text(path, "PRAGMA journal_mode") == "wal");
    // schema_log gets one row per application, inside the migration's transaction.
    CHECK(sql_int(path, "SELECT count(*) FROM schema_log") == 4);  // db/001..004
    CHECK(sql_text(path, "SELECT file FROM schema_log WHERE version = 1") == "001_initial.sql");
    CHECK(sql_text(path, "SELECT file FROM schema_log WHERE version = 2") == "002_views.sql");
    CHECK(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'") == 9);
    for (const char* table : {"schema_log", "experiments", "groups", "cells", "metrics", "confusion",
                              "predictions", "curves", "artifacts"})
      CHECK_MESSAGE(
          sql_int(path, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") +
                            table + "'") == 1,
          table);
  }
}

TEST_CASE(
    "a writer killed with SIGKILL in the middle of a cell leaves that cell unwritten and the rest intact") {
  test::TempDir dir;
  const std::string path = dir.file("results.db");
  {
    Store store = Store::open(path);
    test::seed_queue(store, 6);
  }

  int signal_pipe[2];
  REQUIRE(::pipe(signal_pipe) == 0);
  const pid_t child = test::spawn([&]() -> int {
    ::close(signal_pipe[0]);
    Store store = Store::open(path);
    for (int i = 0; i < 5; ++i) {
      const std::string id = "cell-" + std::to_string(i);
      if (!store.claim_cell(id, {"h", "cpu", 1})) return 2;
      store.write_finished_cell(test::full_result(id, i));
    }
    if (!store.claim_cell("cell-5", {"h", "cpu", 1})) return 3;
    // A large cell (more than the 2 MB page cache), so that SQLite has already spilled uncommitted pages
    // into the WAL when the kill comes.
    CellResult big = test::full_result("cell-5", 5);
    for (int p = 0; p < 20000; ++p)
      big.predictions.push_back({"casme2/sub/clip" + std::to_string(p),
                                 "negative",
                                 "positive",
                                 {{"negative", 0.125}, {"positive", 0.75}, {"surprise", 0.125}}});
    store.set_test_write_hook([&](std::size_t rows) {
      if (rows == 15000) {
        const char c = 'k';
        if (::write(signal_pipe[1], &c, 1) != 1) ::_exit(4);
        for (;;) ::pause();  // the parent kills us here, inside the transaction
      }
    });
    store.write_finished_cell(big);
    return 5;  // the hook never returns
  });
  ::close(signal_pipe[1]);
  char c = 0;
  REQUIRE(::read(signal_pipe[0], &c, 1) == 1);
  ::close(signal_pipe[0]);
  CHECK(sql_int(path, "SELECT count(*) FROM predictions") == 10);  // another connection sees no partial cell
  ::kill(child, SIGKILL);
  CHECK(test::wait_child(child) == -SIGKILL);

  Store store = Store::open(path);
  CHECK(store.integrity_check().empty());
  CHECK(sql_text(path, "PRAGMA integrity_check") == "ok");
  CHECK(store.cell_status("cell-5") == CellStatus::Running);
  const int64_t cell5 = sql_int(path, "SELECT id FROM cells WHERE identity = 'cell-5'");
  CHECK(sql_int(path, "SELECT count(*) FROM metrics WHERE cell_id = " + std::to_string(cell5)) == 0);
  CHECK(sql_int(path, "SELECT count(*) FROM predictions WHERE cell_id = " + std::to_string(cell5)) == 0);
  CHECK(sql_int(path, "SELECT count(*) FROM curves WHERE cell_id = " + std::to_string(cell5)) == 0);
  CHECK(store.count_cells().done == 5);
  CHECK(sql_int(path, "SELECT count(*) FROM metrics") == 15);
  CHECK(sql_int(path, "SELECT count(*) FROM predictions") == 10);
  for (int i = 0; i < 5; ++i) {
    const CellResult got = *store.read_cell("cell-" + std::to_string(i));
    const CellResult want = test::full_result("cell-" + std::to_string(i), i);
    CHECK(got.status == CellStatus::Done);
    CHECK(got.metrics == want.metrics);
    CHECK(got.predictions == want.predictions);
    CHECK(got.curves == want.curves);
    CHECK(got.artifacts == want.artifacts);
    CHECK(got.train_seconds == 300.125 + i);
  }

  // The dead worker's cell can be requeued and run again.
  const int64_t exp = sql_int(path, "SELECT id FROM experiments");
  CHECK(store.requeue(exp, {CellStatus::Running}) == 1);
  REQUIRE(store.claim_cell("cell-5", {"h2", "cpu", 1}));
  store.write_finished_cell(test::full_result("cell-5", 5));
  CHECK(store.cell_status("cell-5") == CellStatus::Done);
  CHECK(sql_int(path, "SELECT count(*) FROM predictions") == 12);
}
