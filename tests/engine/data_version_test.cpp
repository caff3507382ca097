// Data versions (issue 18): a corrected annotation sheet gives the rerun spec new groups on a new data version;
// the leaderboard shows one version per table, never pools versions, and says that others exist. Expected
// values are read from the database with plain SQL (groups, group_summary), not from the leaderboard code.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "../cli/run.h"
#include "corpus_fixture.h"
#include "merx/store/store.h"

using namespace merx::test::engine;
using merx::test::run_merx;

namespace {

struct GroupRow {
  int64_t id = 0;
  std::string data_version;
  double headline = 0;
};

std::vector<GroupRow> groups_of(const fs::path& db) {
  std::vector<GroupRow> out;
  const merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
  store.query("SELECT group_id, data_version, headline_uf1 FROM group_summary ORDER BY group_id", {},
              [&](const std::vector<merx::SqlValue>& r) {
                out.push_back({std::get<int64_t>(r[0]), std::get<std::string>(r[1]), std::get<double>(r[2])});
              });
  return out;
}

double mean_value(const nlohmann::json& table) {
  REQUIRE(table["selected"].size() == 1);
  return table["selected"][0]["values"]["mean"]["mean"].get<double>();
}

}  // namespace

TEST_CASE("data versions: a changed annotation file gives new groups and the leaderboard shows the current "
          "version and lists the others but never pools versions") {
  const Scratch scratch("data_version");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path db = dir / "results.sqlite";
  const fs::path spec = write_spec(dir, "spec.json", lodo_spec(dir, db.string(), "dv"));
  const std::string cache = " --cache " + q(dir / "cache");
  {
    const auto r = run_merx("run " + q(spec) + cache + " --prep-jobs 2");
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
  const std::vector<GroupRow> first = groups_of(db);
  REQUIRE(first.size() == 1);  // one point, one seed
  const std::string v1 = first[0].data_version;
  CHECK(v1.size() == 64);

  {  // the same data again: nothing new
    const auto r = run_merx("run " + q(spec) + cache);
    REQUIRE(r.code == 0);
    CHECK(groups_of(db).size() == 1);
  }

  // Correct one label of alpha's sheet (a source of two folds, the target of one).
  {
    const fs::path sheet = dir / "alpha" / "annotations.csv";
    std::string text = merx::test::slurp(sheet);
    const std::string from = "s1,s1_negative0,frames/s1_negative0,1,4,6,negative";
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), "s1,s1_negative0,frames/s1_negative0,1,4,6,positive");
    std::ofstream(sheet, std::ios::binary | std::ios::trunc) << text;
  }
  std::string run_out;
  {
    const auto r = run_merx("run " + q(spec) + cache);
    INFO(r.err);
    REQUIRE(r.code == 0);
    run_out = r.out;
  }
  const std::vector<GroupRow> both = groups_of(db);
  REQUIRE(both.size() == 2);
  CHECK(both[0].data_version == v1);
  const std::string v2 = both[1].data_version;
  CHECK(v2.size() == 64);
  CHECK(v2 != v1);
  // merx run's closing leaderboard is of the data the spec loads now, and says that v1 exists.
  CHECK(run_out.find("data version " + v2.substr(0, 12)) != std::string::npos);
  CHECK(run_out.find("the data the spec loads now") != std::string::npos);
  CHECK(run_out.find(v1.substr(0, 12) + " (1 group(s))") != std::string::npos);

  {  // default: the newest version, alone, with its own group's value
    const auto r = run_merx("db leaderboard --db " + q(db) + " --format json");
    INFO(r.err);
    REQUIRE(r.code == 0);
    const nlohmann::json lb = nlohmann::json::parse(r.out);
    REQUIRE(lb["tables"].size() == 1);
    const auto& t = lb["tables"][0];
    CHECK(t["data_version"] == v2);
    CHECK(mean_value(t) == doctest::Approx(both[1].headline).epsilon(1e-12));
    CHECK(t["selected"][0]["values"]["mean"]["n"] == 1);  // one seed: not pooled with v1's group
    bool noted = false;
    for (const auto& n : t["notes"]) noted |= n.get<std::string>().find(v1.substr(0, 12)) != std::string::npos;
    CHECK(noted);
  }
  {  // all: one table per version
    const auto r = run_merx("db leaderboard --db " + q(db) + " --format json --data-version all");
    REQUIRE(r.code == 0);
    const nlohmann::json lb = nlohmann::json::parse(r.out);
    REQUIRE(lb["tables"].size() == 2);
    std::set<std::string> versions;
    for (const auto& t : lb["tables"]) {
      versions.insert(t["data_version"].get<std::string>());
      const double want = t["data_version"] == v1 ? both[0].headline : both[1].headline;
      CHECK(mean_value(t) == doctest::Approx(want).epsilon(1e-12));
    }
    CHECK(versions == std::set<std::string>{v1, v2});
  }
  {  // a prefix picks the old version
    const auto r = run_merx("db leaderboard --db " + q(db) + " --format json --data-version " + v1.substr(0, 8));
    REQUIRE(r.code == 0);
    const nlohmann::json lb = nlohmann::json::parse(r.out);
    REQUIRE(lb["tables"].size() == 1);
    CHECK(lb["tables"][0]["data_version"] == v1);
    CHECK(mean_value(lb["tables"][0]) == doctest::Approx(both[0].headline).epsilon(1e-12));
  }
  {  // an unknown version is a user error naming the versions there are
    const auto r = run_merx("db leaderboard --db " + q(db) + " --data-version 0123zz");
    CHECK(r.code == 2);
    CHECK(r.err.find("no group has this data version") != std::string::npos);
    CHECK(r.err.find(v1.substr(0, 12)) != std::string::npos);
  }
  {  // the SQL views keep the versions apart too: one row per version, one seed each
    const merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
    int64_t rows = 0, versions = 0, max_seeds = 0;
    store.query("SELECT count(*), count(DISTINCT data_version), max(n_seeds) FROM leaderboard "
                "WHERE target = 'mean' AND metric = 'uf1'",
                {}, [&](const std::vector<merx::SqlValue>& r) {
                  rows = std::get<int64_t>(r[0]);
                  versions = std::get<int64_t>(r[1]);
                  max_seeds = std::get<int64_t>(r[2]);
                });
    CHECK(rows == 2);
    CHECK(versions == 2);
    CHECK(max_seeds == 1);
  }
}
