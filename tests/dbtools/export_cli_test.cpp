// `merx db export` (CSV of every table, MEGC2019 per-clip layout) and the command line of compare / merge /
// export: exit codes and messages.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "cli/run.h"
#include "fixture.h"
#include "merx/errors.h"
#include "merx/store/export.h"
#include "merx/store/store.h"
#include "store/store_test_util.h"

using namespace merx;
namespace fs = std::filesystem;

namespace {

std::size_t lines(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

}  // namespace

TEST_CASE("export: csv writes every table with a header and one line per row, quoting JSON fields") {
  test::TempDir dir;
  const std::string db = dir.file("study.sqlite");
  {
    Store s = Store::open(db);
    test::write_study(
        s, [](std::size_t) { return true; }, "single");
  }
  const Store s = Store::open(db, Store::Mode::ReadOnly);
  const ExportSummary sum = export_csv(s, dir.file("csv"));
  for (const std::string table : {"schema_log", "experiments", "groups", "cells", "metrics", "confusion",
                                  "predictions", "curves", "artifacts"}) {
    INFO(table);
    const fs::path f = dir.path() / "csv" / (table + ".csv");
    REQUIRE(fs::exists(f));
    // Rows counted by SQLite directly; no field of the fixture holds a newline, so lines = rows + header.
    CHECK(lines(test::slurp(f)) ==
          static_cast<std::size_t>(test::sql_int(db, "SELECT count(*) FROM " + table)) + 1);
  }
  CHECK(sum.files.size() >= 9);
  // 12 cells x 3 classes x (6..8 clips): 6 + 7 + 8 per class, 4 rounds -> 3 * 4 * 21 = 252 predictions.
  CHECK(lines(test::slurp(dir.path() / "csv" / "predictions.csv")) == 253);
  const std::string exp = test::slurp(dir.path() / "csv" / "experiments.csv");
  CHECK(exp.rfind("id,name,spec_json,spec_hash,created_at\n", 0) == 0);
  // spec_json holds commas and quotes: quoted, quotes doubled.
  CHECK(exp.find("1,study,\"{\"\"datasets\"\":[\"\"casme2\"\",\"\"samm\"\",\"\"smic\"\"]") !=
        std::string::npos);
}

TEST_CASE("export: megc writes dataset, subject, filename, label, prediction per clip") {
  test::TempDir dir;
  const std::string db = dir.file("one.sqlite"), all = dir.file("all.sqlite");
  {
    Store s = Store::open(db);  // cells 0..2: group erm, seed 1 (one group)
    test::write_study(
        s, [](std::size_t i) { return i < 3; }, "single");
    Store t = Store::open(all);
    test::write_study(
        t, [](std::size_t) { return true; }, "single");
  }
  const Store one = Store::open(db, Store::Mode::ReadOnly);
  export_megc(one, dir.file("megc.csv"));
  const std::string text = test::slurp(dir.path() / "megc.csv");
  std::istringstream in(text);
  std::string header, first;
  std::getline(in, header);
  std::getline(in, first);
  CHECK(header == "dataset,subject,filename,label,prediction");
  // Cell 0 (casme2, variant index 0): clip j = 0 of class 0 goes to class 1 since (0 + 0 + 0) % 4 == 0;
  // its key is casme2/sub01/clip0_0.
  CHECK(first == "casme2,sub01,clip0_0,negative,positive");
  CHECK(text.find("casme2,sub02,clip0_1,negative,negative\n") != std::string::npos);
  // cells 0, 1, 2 hold 18 + 21 + 24 clips.
  CHECK(lines(text) == 1 + 18 + 21 + 24);

  const Store s = Store::open(all, Store::Mode::ReadOnly);
  CHECK_THROWS_WITH_AS(export_megc(s, dir.file("x.csv")), doctest::Contains("4 groups"), UserError);
  const ExportSummary per_group = export_megc(s, dir.file("megc") + "/");
  CHECK(per_group.files.size() == 4);
  CHECK(fs::exists(dir.path() / "megc" / "study__brl__seed2.csv"));
  CHECK(per_group.rows == 252);
}

TEST_CASE("db compare, merge and export on the command line: results and exit codes") {
  test::TempDir dir;
  const std::string a = dir.file("a.sqlite"), b = dir.file("b.sqlite"), out = dir.file("out.sqlite");
  {
    Store s = Store::open(a);
    test::write_study(
        s, [](std::size_t i) { return i % 2 == 0; }, "node-a");
    Store t = Store::open(b);
    test::write_study(
        t, [](std::size_t i) { return i % 2 == 1; }, "node-b");
  }
  const std::string merx = std::string("'") + MERX_EXE + "' ";
  auto r = test::run_shell(merx + "db merge " + quoted(out) + " " + quoted(a) + " " + quoted(b));
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("12 cells added") != std::string::npos);
  CHECK(r.out.find("pooled metrics of 4 of 4 changed groups recomputed") != std::string::npos);

  r = test::run_shell(merx + "db compare brl erm --db " + quoted(out));
  CHECK(r.code == 0);
  CHECK(r.out.find("6 (target, seed) values") != std::string::npos);
  CHECK(r.out.find("paired unit: seed") != std::string::npos);  // the default unit (issue 16)
  r = test::run_shell(merx + "db compare brl erm --unit target_seed --db " + quoted(out));
  CHECK(r.code == 0);
  CHECK(r.out.find("paired unit: (target, seed), n = 6") != std::string::npos);
  CHECK(r.out.find("not independent samples") != std::string::npos);
  r = test::run_shell(merx + "db compare brl erm --unit nonsense --db " + quoted(out));
  CHECK(r.code == 2);
  r = test::run_shell(merx + "db compare brl erm --db " + quoted(out) + " --format json");
  CHECK(r.code == 0);
  CHECK(nlohmann::json::parse(r.out).at("comparisons").size() == 1);
  r = test::run_shell(merx + "db compare nosuch erm --db " + quoted(out));
  CHECK(r.code == 2);
  CHECK(r.err.find("matches no group") != std::string::npos);
  r = test::run_shell(merx + "db compare brl erm --db " + quoted(dir.file("missing.sqlite")));
  CHECK(r.code == 2);

  r = test::run_shell(merx + "db export --db " + quoted(out) + " --format csv " + quoted(dir.file("csv")));
  CHECK(r.code == 0);
  CHECK(fs::exists(dir.path() / "csv" / "curves.csv"));
  r = test::run_shell(merx + "db export --db " + quoted(out) + " --format megc " + quoted(dir.file("m.csv")));
  CHECK(r.code == 2);
  r = test::run_shell(merx + "db export --db " + quoted(out) + " --format xml " + quoted(dir.file("m.csv")));
  CHECK(r.code == 2);

  // A conflicting shard: exit 2 naming the cell, output unchanged.
  const std::string c = dir.file("c.sqlite");
  {
    Store s = Store::open(c);
    test::write_study(
        s, [](std::size_t i) { return i == 5; }, "node-c", [](std::size_t) { return true; });
  }
  const std::string before = test::dump_tables(out);
  r = test::run_shell(merx + "db merge " + quoted(out) + " " + quoted(c));
  CHECK(r.code == 2);
  CHECK(r.err.find("cell-5") != std::string::npos);
  CHECK(test::dump_tables(out) == before);
}
