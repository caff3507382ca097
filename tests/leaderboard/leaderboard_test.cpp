// Leaderboards on the fixture database (fixture.h): selected sweep points, means and standard errors,
// reference rows, oracle separation, views, the SQL cookbook of docs/database.md, read-only queries, and
// the output formats. Every expected number is computed here by hand from the fixture's chosen counts.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "../store/store_test_util.h"
#include "fixture.h"
#include "merx/errors.h"
#include "merx/leaderboard/leaderboard.h"
#include "merx/leaderboard/per_class.h"
#include "merx/stats/stats.h"

using namespace merx;
using merx::leaderboard::Estimate;
using merx::leaderboard::Row;
using merx::leaderboard::Table;

namespace {

constexpr size_t kErm = 0, kBrl = 1, kOracle = 2;

// Hand statistics: mean and standard error with the n-1 sample standard deviation.
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double se(const std::vector<double>& v) {
  const double m = mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::sqrt(static_cast<double>(v.size()));
}

// UF1 of fixture cell (method, point, target, seed index).
double cell_uf1(size_t m, size_t p, size_t t, size_t s) {
  return test::uf1_k(test::kCounts[t][0], test::kCounts[t][1], test::kFixture[m][p][t][s].k);
}
std::vector<double> seeds_uf1(size_t m, size_t p, size_t t, int seeds = 3) {
  std::vector<double> v;
  for (size_t s = 0; s < static_cast<size_t>(seeds); ++s) v.push_back(cell_uf1(m, p, t, s));
  return v;
}

const Row& find_row(const std::vector<Row>& rows, const std::string& variant, int64_t point = -1) {
  for (const Row& r : rows)
    if (r.method.variant == variant && (point < 0 || (r.point && r.point->point_index == point))) return r;
  FAIL("no row " << variant << " " << point);
  throw std::logic_error("unreachable");
}

void check_estimate(const Estimate& e, const std::vector<double>& per_seed) {
  REQUIRE(e.mean);
  CHECK(*e.mean == doctest::Approx(mean(per_seed)).epsilon(1e-12));
  CHECK(e.n == static_cast<int>(per_seed.size()));
  if (per_seed.size() >= 2) {
    REQUIRE(e.se);
    CHECK(*e.se == doctest::Approx(se(per_seed)).epsilon(1e-12));
  } else {
    CHECK_FALSE(e.se);
  }
}

struct FixtureDb {
  test::TempDir dir;
  std::string path;
  explicit FixtureDb(int seeds = 3, bool oracle = true) : path(dir.file("fixture.db")) {
    test::write_fixture(path, seeds, oracle);
  }
};

int run_merx(const std::string& args, std::string* out = nullptr) {
  char name[] = "/tmp/merx-leaderboard-out-XXXXXX";
  const int fd = ::mkstemp(name);
  if (fd >= 0) ::close(fd);
  const std::string file = name;
  const int rc = std::system((std::string(MERX_EXE) + " " + args + " > " + file + " 2>&1").c_str());
  if (out) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
  }
  std::remove(file.c_str());
  if (out && std::getenv("MERX_TEST_VERBOSE")) std::cout << "$ merx " << args << "\n" << *out;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST_CASE("leaderboard selects each method's sweep point per target by source-validation UF1 over seeds") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  const auto lb = leaderboard::build(store, {});
  REQUIRE(lb.tables.size() == 1);  // the oracle method is not in the default leaderboard
  const Table& t = lb.tables[0];
  CHECK(t.protocol == "lodo");
  CHECK(t.datasets == std::vector<std::string>{"A", "B", "C"});
  CHECK(t.columns == std::vector<std::string>{"A", "B", "C", "mean"});
  CHECK_FALSE(t.oracle);
  REQUIRE(t.selected.size() == 2);
  // Per backbone ERM (none + none) first, then by regularizer, augmenter, variant.
  CHECK(t.selected[0].method.label() == "netA + none + none [erm]");
  CHECK(t.selected[1].method.label() == "netA + brl + none [brl]");

  // erm: point #0 (index 0) everywhere (score 0.8 > 0.6), although point #1 is better on every target.
  const Row& erm = find_row(t.selected, "erm");
  for (size_t c = 0; c < 3; ++c) {
    CAPTURE(c);
    REQUIRE(erm.values[c].point);
    CHECK(erm.values[c].point->point_index == 0);
    CHECK(*erm.values[c].selection_score == doctest::Approx(0.8));
    check_estimate(erm.values[c], seeds_uf1(kErm, 0, c));
    CHECK(mean(seeds_uf1(kErm, 1, c)) > mean(seeds_uf1(kErm, 0, c)));  // the target would pick #1
  }
  std::vector<double> erm_mean;
  for (size_t s = 0; s < 3; ++s)
    erm_mean.push_back((cell_uf1(kErm, 0, 0, s) + cell_uf1(kErm, 0, 1, s) + cell_uf1(kErm, 0, 2, s)) / 3);
  check_estimate(erm.values[3], erm_mean);

  // brl: A -> its point #1 (spec index 3; mean score (0.9 + 0.5 + 0.7) / 3 = 0.7 > 0.5), B and C -> point
  // #0 (index 2; 0.9 > 0.8 and 0.9 > 0.85).
  const Row& brl = find_row(t.selected, "brl");
  CHECK(brl.values[0].point->point_index == 3);
  CHECK(*brl.values[0].selection_score == doctest::Approx(0.7));
  CHECK(brl.values[1].point->point_index == 2);
  CHECK(*brl.values[1].selection_score == doctest::Approx(0.9));
  CHECK(brl.values[2].point->point_index == 2);
  check_estimate(brl.values[0], seeds_uf1(kBrl, 1, 0));
  check_estimate(brl.values[1], seeds_uf1(kBrl, 0, 1));
  check_estimate(brl.values[2], seeds_uf1(kBrl, 0, 2));
  std::vector<double> brl_mean;
  for (size_t s = 0; s < 3; ++s)
    brl_mean.push_back((cell_uf1(kBrl, 1, 0, s) + cell_uf1(kBrl, 0, 1, s) + cell_uf1(kBrl, 0, 2, s)) / 3);
  check_estimate(brl.values[3], brl_mean);
  CHECK_FALSE(brl.few_seeds);

  // Bold: per column the higher selected mean, and only when a paired t-test over the seeds puts it above the
  // other (p < 0.05; merx::stats::paired_t, checked against SciPy in tests/stats); otherwise unconfirmed.
  const std::vector<std::vector<double>> erm_cols = {seeds_uf1(kErm, 0, 0), seeds_uf1(kErm, 0, 1),
                                                     seeds_uf1(kErm, 0, 2), erm_mean};
  const std::vector<std::vector<double>> brl_cols = {seeds_uf1(kBrl, 1, 0), seeds_uf1(kBrl, 0, 1),
                                                     seeds_uf1(kBrl, 0, 2), brl_mean};
  for (size_t c = 0; c < 4; ++c) {
    CAPTURE(c);
    REQUIRE(mean(erm_cols[c]) != mean(brl_cols[c]));
    const bool erm_top = mean(erm_cols[c]) > mean(brl_cols[c]);
    const auto p = erm_top ? merx::stats::paired_t(erm_cols[c], brl_cols[c]).p
                           : merx::stats::paired_t(brl_cols[c], erm_cols[c]).p;
    const bool significant = p && *p < 0.05;
    const Row& top = erm_top ? erm : brl;
    const Row& other = erm_top ? brl : erm;
    CHECK(top.values[c].best == significant);
    CHECK(top.values[c].best_unconfirmed == !significant);
    CHECK_FALSE(other.values[c].best);
    CHECK_FALSE(other.values[c].best_unconfirmed);
    REQUIRE(top.values[c].best_p.has_value());
    CHECK(*top.values[c].best_p == *p);
  }
  for (const Row& r : t.all_points)
    for (const Estimate& e : r.values) {
      CHECK_FALSE(e.best);
      CHECK_FALSE(e.best_unconfirmed);
    }
}

TEST_CASE("leaderboard all-sweep-points table holds every point with its own mean and standard error") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  const auto lb = leaderboard::build(store, {});
  const Table& t = lb.tables.at(0);
  REQUIRE(t.all_points.size() == 4);
  for (size_t m : {kErm, kBrl})
    for (size_t p = 0; p < 2; ++p) {
      const Row& r = find_row(t.all_points, m == kErm ? "erm" : "brl", static_cast<int64_t>(m * 2 + p));
      std::vector<double> per_seed_mean;
      for (size_t s = 0; s < 3; ++s)
        per_seed_mean.push_back((cell_uf1(m, p, 0, s) + cell_uf1(m, p, 1, s) + cell_uf1(m, p, 2, s)) / 3);
      for (size_t c = 0; c < 3; ++c) check_estimate(r.values[c], seeds_uf1(m, p, c));
      check_estimate(r.values[3], per_seed_mean);
      CHECK(r.point->assignments["training.lr"].get<double>() == doctest::Approx(p == 0 ? 0.01 : 0.001));
    }
}

TEST_CASE("leaderboard reference rows equal the analytic majority-class and random-prior values") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  // Training counts (negative, positive) per target = the other two datasets: A <- B + C = (8, 12);
  // B <- A + C = (9, 11); C <- A + B = (11, 9). Test counts: A (6, 4), B (5, 5), C (3, 7).
  // Majority: A, B predict positive, C negative. UF1 = F1 of that class / 2 (the other class has
  // samples and F1 0): F1 = 2 n_m / (n_m + N). A: 2*4/14, B: 2*5/15, C: 2*3/13.
  const double maj_a = 8.0 / 14 / 2, maj_b = 10.0 / 15 / 2, maj_c = 6.0 / 13 / 2;
  // Random with priors q: F1_c = 2 p_c q_c / (p_c + q_c). A: p = (.6, .4), q = (.4, .6) -> .48 both.
  const double rnd_a = (2 * .6 * .4 / 1.0 + 2 * .4 * .6 / 1.0) / 2;
  const double rnd_b = (2 * .5 * .45 / .95 + 2 * .5 * .55 / 1.05) / 2;
  const double rnd_c = (2 * .3 * .55 / .85 + 2 * .7 * .45 / 1.15) / 2;
  auto lb = leaderboard::build(store, {});
  const Table& t = lb.tables.at(0);
  REQUIRE(t.references.size() == 2);
  const auto& maj = t.references[0].values;
  const auto& rnd = t.references[1].values;
  CHECK(*maj[0] == doctest::Approx(maj_a).epsilon(1e-12));
  CHECK(*maj[1] == doctest::Approx(maj_b).epsilon(1e-12));
  CHECK(*maj[2] == doctest::Approx(maj_c).epsilon(1e-12));
  CHECK(*maj[3] == doctest::Approx((maj_a + maj_b + maj_c) / 3).epsilon(1e-12));
  CHECK(*rnd[0] == doctest::Approx(rnd_a).epsilon(1e-12));
  CHECK(*rnd[1] == doctest::Approx(rnd_b).epsilon(1e-12));
  CHECK(*rnd[2] == doctest::Approx(rnd_c).epsilon(1e-12));
  CHECK(*rnd[3] == doctest::Approx((rnd_a + rnd_b + rnd_c) / 3).epsilon(1e-12));

  // Accuracy: majority = n_m / N (A: 4/10, C: 3/10); random = sum p_c q_c (A: .6*.4 + .4*.6).
  leaderboard::Options acc;
  acc.metric = leaderboard::Metric::Accuracy;
  lb = leaderboard::build(store, acc);
  CHECK(*lb.tables.at(0).references[0].values[0] == doctest::Approx(0.4));
  CHECK(*lb.tables.at(0).references[0].values[2] == doctest::Approx(0.3));
  CHECK(*lb.tables.at(0).references[1].values[0] == doctest::Approx(.48));
  CHECK(*lb.tables.at(0).references[1].values[2] == doctest::Approx(.3 * .55 + .7 * .45));
  // UAR: majority = 1/2 (one of two classes fully recalled); random = mean q_c over present classes = 1/2.
  leaderboard::Options uar;
  uar.metric = leaderboard::Metric::UAR;
  lb = leaderboard::build(store, uar);
  CHECK(*lb.tables.at(0).references[0].values[1] == doctest::Approx(0.5));
  CHECK(*lb.tables.at(0).references[1].values[2] == doctest::Approx(0.5));
}

TEST_CASE("leaderboard reference_values of three classes match hand-computed expectations") {
  // test (2, 3, 5), train (6, 3, 1): q = (.6, .3, .1), p = (.2, .3, .5).
  const auto r = leaderboard::reference_values({{{2, 3, 5}, {6, 3, 1}}}, true);
  const double f1 = (2 * .2 * .6 / .8 + 2 * .3 * .3 / .6 + 2 * .5 * .1 / .6) / 3;
  CHECK(*r.uf1 == doctest::Approx(f1).epsilon(1e-12));
  CHECK(*r.uar == doctest::Approx((.6 + .3 + .1) / 3).epsilon(1e-12));
  CHECK(*r.accuracy == doctest::Approx(.2 * .6 + .3 * .3 + .5 * .1).epsilon(1e-12));
  // Majority = class 0: TP 2, FP 8 -> F1_0 = 4 / 12; classes 1 and 2 have samples, F1 0.
  const auto m = leaderboard::reference_values({{{2, 3, 5}, {6, 3, 1}}}, false);
  CHECK(*m.uf1 == doctest::Approx(4.0 / 12 / 3).epsilon(1e-12));
  CHECK(*m.uar == doctest::Approx(1.0 / 3).epsilon(1e-12));
  CHECK(*m.accuracy == doctest::Approx(0.2));
}

TEST_CASE("leaderboard keeps oracle-selected runs out of the default table and in their own") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  const leaderboard::Leaderboard plain = leaderboard::build(store, {});  // kept alive for the loop
  for (const Row& r : plain.tables.at(0).all_points) CHECK(r.method.variant != "oracle");
  leaderboard::Options opt;
  opt.oracle = true;
  opt.bootstrap = 200;
  const auto lb = leaderboard::build(store, opt);
  REQUIRE(lb.tables.size() == 2);
  CHECK_FALSE(lb.tables[0].oracle);
  CHECK(lb.tables[1].oracle);
  REQUIRE(lb.tables[1].selected.size() == 1);
  const Row& o = lb.tables[1].selected[0];
  CHECK(o.method.variant == "oracle");
  check_estimate(o.values[2], seeds_uf1(kOracle, 0, 2));  // C: every seed perfect
  CHECK(*o.values[2].mean == doctest::Approx(1.0));
  // Every resample of perfect predictions has UF1 1: the interval is [1, 1].
  CHECK(*o.values[2].ci_low == doctest::Approx(1.0));
  CHECK(*o.values[2].ci_high == doctest::Approx(1.0));
  // Views: the oracle method only in leaderboard_oracle.
  auto count = [&](const std::string& sql) {
    int64_t n = 0;
    store.query(sql, {}, [&](const std::vector<SqlValue>& r) { n = std::get<int64_t>(r[0]); });
    return n;
  };
  CHECK(count("SELECT count(*) FROM leaderboard WHERE variant = 'oracle'") == 0);
  CHECK(count("SELECT count(*) FROM leaderboard_oracle WHERE variant = 'oracle'") > 0);
  CHECK(count("SELECT count(*) FROM leaderboard_oracle WHERE variant <> 'oracle'") == 0);
}

TEST_CASE("leaderboard bootstrap interval is repeatable for a seed and brackets the mean") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  leaderboard::Options opt;
  opt.bootstrap = 300;
  opt.bootstrap_seed = 7;
  const auto a = leaderboard::build(store, opt);
  const auto b = leaderboard::build(store, opt);
  opt.bootstrap_seed = 8;
  const auto c = leaderboard::build(store, opt);
  const Row& ra = find_row(a.tables.at(0).selected, "erm");
  const Row& rb = find_row(b.tables.at(0).selected, "erm");
  const Row& rc = find_row(c.tables.at(0).selected, "erm");
  bool differs = false;
  for (size_t col = 0; col < 4; ++col) {
    CAPTURE(col);
    REQUIRE(ra.values[col].ci_low);
    CHECK(*ra.values[col].ci_low == *rb.values[col].ci_low);
    CHECK(*ra.values[col].ci_high == *rb.values[col].ci_high);
    CHECK(*ra.values[col].ci_low <= *ra.values[col].mean);
    CHECK(*ra.values[col].ci_high >= *ra.values[col].mean);
    CHECK(*ra.values[col].ci_low < *ra.values[col].ci_high);
    differs = differs || *rc.values[col].ci_low != *ra.values[col].ci_low;
  }
  CHECK(differs);
}

TEST_CASE("leaderboard marks rows with fewer than 3 seeds") {
  FixtureDb db(2, false);
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  const auto lb = leaderboard::build(store, {});
  const Row& erm = find_row(lb.tables.at(0).selected, "erm");
  CHECK(erm.few_seeds);
  check_estimate(erm.values[0], seeds_uf1(kErm, 0, 0, 2));
  CHECK(leaderboard::render(lb, leaderboard::Format::Markdown).find("netA + none + none [erm] †") !=
        std::string::npos);
}

TEST_CASE("views answer per sweep point with the hand-computed mean, standard error and n") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  std::vector<double> got;
  int64_t n = 0;
  store.query(
      "SELECT mean, se, n_seeds FROM leaderboard WHERE variant = 'erm' AND point_index = 1 AND target = 'A' "
      "AND metric = 'uf1'",
      {}, [&](const std::vector<SqlValue>& r) {
        got = {std::get<double>(r[0]), std::get<double>(r[1])};
        n = std::get<int64_t>(r[2]);
      });
  REQUIRE(got.size() == 2);
  CHECK(got[0] == doctest::Approx(mean(seeds_uf1(kErm, 1, 0))).epsilon(1e-12));
  CHECK(got[1] == doctest::Approx(se(seeds_uf1(kErm, 1, 0))).epsilon(1e-9));
  CHECK(n == 3);
  int64_t cells = 0;
  store.query("SELECT count(*) FROM cell_summary WHERE status = 'done' AND source_val_uf1 IS NOT NULL", {},
              [&](const std::vector<SqlValue>& r) { cells = std::get<int64_t>(r[0]); });
  CHECK(cells == 36);  // 2 methods x 2 points x 3 seeds x 3 targets; oracle cells have no source-val score
}

TEST_CASE("every query of the SQL cookbook in docs/database.md runs and returns rows") {
  std::ifstream in(std::string(MERX_SOURCE_DIR) + "/docs/database.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const size_t start = doc.find("## SQL cookbook");
  REQUIRE(start != std::string::npos);
  const size_t end = doc.find("\n## ", start + 1);
  const std::string section = doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
  std::vector<std::string> queries;
  const std::regex block("```sql\\n([\\s\\S]*?)```");
  for (auto it = std::sregex_iterator(section.begin(), section.end(), block); it != std::sregex_iterator();
       ++it)
    queries.push_back((*it)[1]);
  CHECK(queries.size() >= 10);
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  for (const auto& q : queries) {
    CAPTURE(q);
    size_t rows = 0;
    CHECK_NOTHROW(store.query(q, {}, [&](const std::vector<SqlValue>&) { ++rows; }));
    if (q.find("may return no rows") == std::string::npos) CHECK(rows > 0);
  }
}

TEST_CASE("query refuses statements that write, several statements and ATTACH") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  auto none = [](const std::vector<SqlValue>&) {};
  for (const char* sql :
       {"DELETE FROM cells", "UPDATE cells SET status = 'queued'", "INSERT INTO curves VALUES (1)",
        "DROP TABLE cells", "CREATE TABLE x (y)", "PRAGMA user_version = 5",
        "ATTACH DATABASE '/tmp/merx-attach.db' AS other", "SELECT 1; DELETE FROM cells", "BEGIN", "VACUUM"}) {
    CAPTURE(sql);
    CHECK_THROWS_AS(store.query(sql, {}, none), SqlRefused);
  }
  CHECK_NOTHROW(store.query("SELECT 1; -- trailing comment", {}, none));
  CHECK_NOTHROW(store.query("PRAGMA user_version", {}, none));
  CHECK_NOTHROW(store.query("PRAGMA table_info(cells)", {}, none));
  CHECK(test::sql_int(db.path, "SELECT count(*) FROM cells") == 45);

  // The CLI: exit 2, nothing deleted.
  std::string out;
  CHECK(run_merx("db query \"DELETE FROM cells\" --db " + db.path, &out) == 2);
  CHECK(out.find("read-only") != std::string::npos);
  CHECK(test::sql_int(db.path, "SELECT count(*) FROM cells") == 45);
  CHECK(run_merx("db query \"SELECT count(*) AS n FROM cells\" --db " + db.path + " --format csv", &out) ==
        0);
  CHECK(out.find("n\n45\n") != std::string::npos);
}

TEST_CASE("db ls, show and leaderboard commands answer on the fixture") {
  FixtureDb db;
  std::string out;
  CHECK(run_merx("db ls --db " + db.path, &out) == 0);
  CHECK(out.find("fixture") != std::string::npos);
  const std::string identity = test::sql_text(db.path, "SELECT identity FROM cells WHERE id = 1");
  CHECK(run_merx("db show " + identity.substr(0, 16) + " --db " + db.path, &out) == 0);
  CHECK(out.find(identity) != std::string::npos);
  CHECK(out.find("source_val_uf1") != std::string::npos);
  CHECK(run_merx("db show group --db " + db.path, &out) == 2);  // a prefix of every identity: ambiguous
  CHECK(run_merx("db show zzzz --db " + db.path, &out) == 2);
  CHECK(run_merx("db leaderboard --db " + db.path + " --oracle --bootstrap 200", &out) == 0);
  CHECK(out.find("ORACLE") != std::string::npos);
  CHECK(run_merx("db leaderboard --db " + db.path + " --format md", &out) == 0);
  CHECK(run_merx("db leaderboard --db " + db.path + " --format json", &out) == 0);
  const auto j = nlohmann::json::parse(out);
  CHECK(j["tables"].size() == 1);
  CHECK(run_merx("db leaderboard --db " + db.path + " --format latex", &out) == 0);
  CHECK(out.find("\\toprule") != std::string::npos);
  CHECK(run_merx("db leaderboard --db " + db.path + " --metric f2", &out) == 2);
  CHECK(run_merx("db leaderboard --db " + db.path + " --experiment nope", &out) == 2);
  CHECK(run_merx("db leaderboard --db " + db.path + " --decimals 11", &out) == 2);
  CHECK(out.find("--decimals 11: must be between 0 and 10") != std::string::npos);
  CHECK(run_merx("db leaderboard --db " + db.path + " --format md --decimals 2", &out) == 0);
  // erm's point #0 on target A in the all-points table (no best marks there), from the hand UF1s.
  char expected[160];
  std::snprintf(expected, sizeof expected,
                "| netA + none + none [erm] | #0 training.lr=0.01 | %.2f ± %.2f (n=3) |",
                mean(seeds_uf1(kErm, 0, 0)), se(seeds_uf1(kErm, 0, 0)));
  CHECK(out.find(expected) != std::string::npos);
  CHECK_FALSE(std::regex_search(out, std::regex(R"(0\.\d{3} ±)")));  // no value with more decimals
}

TEST_CASE("a schema version 1 database is migrated to the views on open") {
  test::TempDir dir;
  const std::string path = dir.file("v1.db");
  test::write_file(path, "");  // sql_exec opens without SQLITE_OPEN_CREATE
  std::ifstream in(std::string(MERX_SOURCE_DIR) + "/db/001_initial.sql");
  std::stringstream ss;
  ss << in.rdbuf();
  REQUIRE(test::sql_exec(
              path, "BEGIN; " + ss.str() +
                        "; PRAGMA user_version = 1; INSERT INTO schema_log VALUES (1, '001_initial.sql', "
                        "'2026-01-01T00:00:00.000Z', '0.1.0'); COMMIT;") == 0);
  REQUIRE(test::sql_int(path, "PRAGMA user_version") == 1);
  std::string out;
  CHECK(run_merx("db query \"SELECT count(*) FROM leaderboard\" --db " + path, &out) == 0);
  CHECK(test::sql_int(path, "PRAGMA user_version") == 4);  // db/002 .. db/004 applied on open
  CHECK(test::sql_int(path, "SELECT count(*) FROM schema_log") == 4);
  CHECK(test::sql_int(path, "SELECT count(*) FROM pragma_table_info('cells') WHERE name LIKE 'model_%'") == 2);
  CHECK(test::sql_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'view'") == 8);
}

namespace {

// A lodo table over datasets `first` and B with columns {first, mean}, no rows yet.
Table lodo_table(const std::string& first) {
  Table t;
  t.protocol = "lodo";
  t.datasets = {first, "B"};
  t.experiments = {"exp"};
  t.columns = {first, "mean"};
  return t;
}

Estimate estimate(double mean, double se, int n) {
  Estimate e;
  e.mean = mean;
  e.se = se;
  e.n = n;
  return e;
}

}  // namespace

TEST_CASE("with one sweep point per method the text and markdown leaderboards omit the selection tables") {
  leaderboard::Leaderboard lb;
  Table t = lodo_table("A");
  const Estimate e = estimate(0.5, 0.1, 3);
  for (const char* reg : {"none", "brl"}) {
    Row r;
    r.method = {"net", reg, "none", "", ""};
    r.values = {e, e};
    t.selected.push_back(r);
    r.point = leaderboard::PointRef{0, std::string("h-") + reg, nlohmann::json::object()};
    t.all_points.push_back(r);
  }
  lb.tables = {t};
  const std::string text = leaderboard::render(lb, leaderboard::Format::Table);
  CHECK(text.find("net + brl + none") != std::string::npos);
  CHECK(text.find("(n); one sweep point per method; *best*") != std::string::npos);
  CHECK(text.find("(no sweep-point selection: the tables of selected and of all sweep points appear") !=
        std::string::npos);
  CHECK(text.find("\nselected sweep points (mean") == std::string::npos);
  CHECK(text.find("\nall sweep points (every point") == std::string::npos);
  const std::string md = leaderboard::render(lb, leaderboard::Format::Markdown);
  CHECK(md.find("Selected sweep points") == std::string::npos);
  CHECK(md.find("All sweep points") == std::string::npos);

  // A second point of one method brings both tables back.
  Row extra = lb.tables[0].all_points[1];
  extra.point = leaderboard::PointRef{1, "h-brl-2", {{"lr", 0.1}}};
  lb.tables[0].all_points.push_back(extra);
  const std::string swept = leaderboard::render(lb, leaderboard::Format::Table);
  CHECK(swept.find("\nselected sweep points (mean") != std::string::npos);
  CHECK(swept.find("\nall sweep points (every point") != std::string::npos);
  CHECK(swept.find("sweep points chosen per method and target by source-validation UF1") != std::string::npos);
}

TEST_CASE("render gives the expected text for a tiny leaderboard in every format") {
  leaderboard::Leaderboard lb;
  Table t = lodo_table("A_1");
  Row r;
  r.method = {"net", "none", "none", "", ""};
  Estimate e = estimate(0.5, 0.125, 2);
  e.best = true;
  e.point = leaderboard::PointRef{0, "h", {{"lr", 0.1}}};
  e.selection_score = 0.75;
  r.values = {e, e};
  r.values[1].point.reset();
  r.values[1].selection_score.reset();
  r.few_seeds = true;
  t.selected = {r};
  t.references = {{"majority class", {0.25, 0.25}}, {"random (training priors)", {0.5, std::nullopt}}};
  lb.tables = {t};

  CHECK(
      leaderboard::render(lb, leaderboard::Format::Latex) ==
      "% merx db leaderboard; needs \\usepackage{booktabs}\n"
      "\\begin{table}[t]\n"
      "  \\centering\n"
      "  \\caption{UF1 (mean $\\pm$ standard error over seeds; $n$ seeds), lodo over A\\_1, B. Sweep points "
      "chosen per method and target by source-validation UF1. Bold: highest mean, significantly above the "
      "runner-up (paired $t$ over seeds, $p < 0.05$); $^\\ddagger$ highest mean, not significantly above the "
      "runner-up. $^\\dagger$ fewer than 3 seeds.}\n"
      "  \\begin{tabular}{lccc}\n"
      "    \\toprule\n"
      "    Method & A\\_1 & Mean & $n$ \\\\\n"
      "    \\midrule\n"
      "    net + none + none$^\\dagger$ & \\textbf{0.5000} $\\pm$ 0.1250 & \\textbf{0.5000} $\\pm$ 0.1250 & "
      "2 \\\\\n"
      "    \\midrule\n"
      "    Majority class & 0.2500 & 0.2500 & -- \\\\\n"
      "    Random (training priors) & 0.5000 & -- & -- \\\\\n"
      "    \\bottomrule\n"
      "  \\end{tabular}\n"
      "\\end{table}\n");

  const std::string md = leaderboard::render(lb, leaderboard::Format::Markdown);
  CHECK(md.find("| Method | A\\_1 | mean |\n| --- | ---: | ---: |\n"
                "| net + none + none † | **0.5000 ± 0.1250 (n=2)** | **0.5000 ± 0.1250 (n=2)** |\n"
                "| *majority class* | 0.2500 | 0.2500 |\n"
                "| *random (training priors)* | 0.5000 | - |\n") != std::string::npos);
  CHECK(md.find("| net + none + none | #0 lr=0.1 (0.7500) |") != std::string::npos);

  const std::string csv = leaderboard::render(lb, leaderboard::Format::Csv);
  CHECK(csv.find("0,lodo,A_1+B,0,uf1,selected,net + none + "
                 "none,net,none,none,,0,\"{\"\"lr\"\":0.1}\",A_1,0.5,0.125,2,,,1,1,"
                 "0.75\n") != std::string::npos);
  CHECK(csv.find("0,lodo,A_1+B,0,uf1,reference,random (training priors),,,,,,,mean,,,0,,,0,0,\n") !=
        std::string::npos);

  const auto j = nlohmann::json::parse(leaderboard::render(lb, leaderboard::Format::Json));
  CHECK(j["tables"][0]["selected"][0]["values"]["A_1"]["se"].get<double>() == 0.125);
  CHECK(j["tables"][0]["references"][1]["values"]["mean"].is_null());
}

TEST_CASE("render prints values with the requested number of decimals in table, md and latex") {
  leaderboard::Leaderboard lb;
  Table t = lodo_table("A");
  Row r;
  r.method = {"net", "none", "none", "", ""};
  Estimate e = estimate(2.0 / 3.0, 0.0125, 3);  // 0.666666..., 0.0125
  e.best = true;
  r.values = {e, e};
  t.selected = {r};
  t.references = {{"majority class", {0.25, 1.0 / 8.0}}};
  lb.tables = {t};
  leaderboard::RenderOptions two;
  two.decimals = 2;
  // Rounded by printf: 0.666... -> 0.67, 0.0125 -> 0.01, 0.125 -> 0.12 (an exact tie in binary: round half
  // to even).
  const std::string md = leaderboard::render(lb, leaderboard::Format::Markdown, two);
  CHECK(md.find("| net + none + none | **0.67 ± 0.01 (n=3)** | **0.67 ± 0.01 (n=3)** |\n"
                "| *majority class* | 0.25 | 0.12 |\n") != std::string::npos);
  const std::string text = leaderboard::render(lb, leaderboard::Format::Table, two);
  CHECK(text.find("net + none + none           *0.67 ± 0.01 (n=3)*  *0.67 ± 0.01 (n=3)*\n") !=
        std::string::npos);
  leaderboard::RenderOptions none;
  none.decimals = 0;
  const std::string tex = leaderboard::render(lb, leaderboard::Format::Latex, none);
  CHECK(tex.find("    net + none + none & \\textbf{1} $\\pm$ 0 & \\textbf{1} $\\pm$ 0 & 3 \\\\\n") !=
        std::string::npos);
  CHECK(tex.find("    Majority class & 0 & 0 & -- \\\\\n") != std::string::npos);
  leaderboard::RenderOptions six;
  six.decimals = 6;
  CHECK(leaderboard::render(lb, leaderboard::Format::Markdown, six).find("**0.666667 ± 0.012500 (n=3)**") !=
        std::string::npos);
  // The default stays 4 decimals; csv stays unrounded whatever the option.
  CHECK(leaderboard::render(lb, leaderboard::Format::Markdown).find("**0.6667 ± 0.0125 (n=3)**") !=
        std::string::npos);
  CHECK(leaderboard::render(lb, leaderboard::Format::Csv, two)
            .find(",0.66666666666666663,0.012500000000000001,3,") != std::string::npos);
  leaderboard::RenderOptions bad;
  bad.decimals = 11;
  CHECK_THROWS_AS(leaderboard::render(lb, leaderboard::Format::Table, bad), merx::UserError);
}

namespace {
// UAR of fixture cell (method, point, target, seed index): every negative right (recall 1), k of n_pos
// positives wrong (recall (n_pos - k) / n_pos).
double cell_uar(size_t m, size_t p, size_t t, size_t s) {
  const double n_pos = test::kCounts[t][1];
  return (1.0 + (n_pos - test::kFixture[m][p][t][s].k) / n_pos) / 2.0;
}
}  // namespace

TEST_CASE(
    "leaderboard with metrics uf1 and uar puts both values of the same selected sweep point side by side") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  leaderboard::Options o;
  o.metrics = leaderboard::parse_metrics("uf1,uar");
  REQUIRE(o.metrics == std::vector<leaderboard::Metric>{leaderboard::Metric::UF1, leaderboard::Metric::UAR});
  const auto lb = leaderboard::build(store, o);
  REQUIRE(lb.tables.size() == 1);
  const Table& t = lb.tables[0];
  CHECK(t.shown_metrics() == o.metrics);
  CHECK(t.value_index(2, 1) == 5);
  const Row& brl = find_row(t.selected, "brl");
  REQUIRE(brl.values.size() == 8);  // (A, B, C, mean) x (UF1, UAR)
  // Selection by source-validation UF1 (as in the one-metric test): A -> index 3 (its point #1), B, C -> 2.
  const size_t points[] = {1, 0, 0};
  const int64_t indices[] = {3, 2, 2};
  std::vector<double> uf1_mean(3, 0.0), uar_mean(3, 0.0);
  for (size_t c = 0; c < 3; ++c) {
    CAPTURE(c);
    const Estimate& uf1 = brl.values[t.value_index(c, 0)];
    const Estimate& uar = brl.values[t.value_index(c, 1)];
    REQUIRE(uf1.point);
    REQUIRE(uar.point);
    CHECK(uf1.point->point_index == indices[c]);
    CHECK(uar.point->point_hash == uf1.point->point_hash);  // the same sweep point for both metrics
    CHECK(*uar.selection_score == doctest::Approx(*uf1.selection_score));
    check_estimate(uf1, seeds_uf1(kBrl, points[c], c));
    std::vector<double> uar_seeds;
    for (size_t s = 0; s < 3; ++s) {
      uar_seeds.push_back(cell_uar(kBrl, points[c], c, s));
      uf1_mean[s] += cell_uf1(kBrl, points[c], c, s) / 3;
      uar_mean[s] += cell_uar(kBrl, points[c], c, s) / 3;
    }
    check_estimate(uar, uar_seeds);
  }
  check_estimate(brl.values[t.value_index(3, 0)], uf1_mean);
  check_estimate(brl.values[t.value_index(3, 1)], uar_mean);
  // Majority-class reference: UAR = 1 / (classes present) = 0.5 on every target and in the mean.
  REQUIRE(t.references.size() == 2);
  REQUIRE(t.references[0].values.size() == 8);
  for (size_t c = 0; c < 4; ++c) CHECK(*t.references[0].values[t.value_index(c, 1)] == doctest::Approx(0.5));

  // Text and CSV name the metric of every value.
  const std::string text = leaderboard::render(lb, leaderboard::Format::Table);
  CHECK(text.find("A UF1") != std::string::npos);
  CHECK(text.find("mean UAR") != std::string::npos);
  CHECK(text.find("(the same point for every metric of a method and target)") != std::string::npos);
  char line[200];
  std::snprintf(line, sizeof line,
                "0,lodo,A+B+C,0,uar,selected,netA + brl + none [brl],netA,brl,none,brl,3,");
  CHECK(leaderboard::render(lb, leaderboard::Format::Csv).find(line) != std::string::npos);
  const auto j = nlohmann::json::parse(leaderboard::render(lb, leaderboard::Format::Json));
  const auto& row = j["tables"][0]["selected"][1];
  CHECK(row["method"]["variant"] == "brl");
  CHECK(row["by_metric"]["uar"]["B"]["metric"] == "uar");
  CHECK(row["by_metric"]["uar"]["B"]["mean"].get<double>() ==
        doctest::Approx(mean({cell_uar(kBrl, 0, 1, 0), cell_uar(kBrl, 0, 1, 1), cell_uar(kBrl, 0, 1, 2)})));
  CHECK(row["values"]["B"]["metric"] == "uf1");

  CHECK_THROWS_AS(leaderboard::parse_metrics("uf1,uf1"), merx::UserError);
  CHECK_THROWS_AS(leaderboard::parse_metrics("uf1,"), merx::UserError);
  std::string out;
  CHECK(run_merx("db leaderboard --db " + db.path + " --metric uf1,f2", &out) == 2);
  CHECK(out.find("unknown metric 'f2'") != std::string::npos);
  CHECK(run_merx("db leaderboard --db " + db.path + " --metric uar,uf1 --format latex", &out) == 0);
  CHECK(out.find(" & UAR & UF1 & UAR & UF1 & UAR & UF1 & UAR & UF1 & \\\\\n") != std::string::npos);
}

TEST_CASE("latex with two metrics has a two-level header with a cmidrule under each target") {
  leaderboard::Leaderboard lb;
  Table t = lodo_table("A");
  t.metrics = {leaderboard::Metric::UF1, leaderboard::Metric::UAR};
  Row r;
  r.method = {"net", "none", "none", "", ""};
  r.values = {estimate(0.5, 0.125, 3), estimate(0.75, 0.25, 3), estimate(0.5, 0.125, 3),
              estimate(0.625, 0.0625, 3)};
  t.selected = {r};
  t.references = {{"majority class", {0.25, 0.5, 0.25, 0.5}}};
  lb.tables = {t};
  CHECK(
      leaderboard::render(lb, leaderboard::Format::Latex) ==
      "% merx db leaderboard; needs \\usepackage{booktabs}\n"
      "\\begin{table}[t]\n"
      "  \\centering\n"
      "  \\caption{UF1 and UAR (mean $\\pm$ standard error over seeds; $n$ seeds), lodo over A, B. Sweep "
      "points "
      "chosen per method and target by source-validation UF1; every metric of a method and target comes from "
      "the same point. Bold: highest mean, significantly above the runner-up (paired $t$ over seeds, $p < "
      "0.05$); $^\\ddagger$ highest mean, not significantly above the runner-up.}\n"
      "  \\begin{tabular}{lccccc}\n"
      "    \\toprule\n"
      "    Method & \\multicolumn{2}{c}{A} & \\multicolumn{2}{c}{Mean} & $n$ \\\\\n"
      "    \\cmidrule(lr){2-3} \\cmidrule(lr){4-5}\n"
      "     & UF1 & UAR & UF1 & UAR & \\\\\n"
      "    \\midrule\n"
      "    net + none + none & 0.5000 $\\pm$ 0.1250 & 0.7500 $\\pm$ 0.2500 & 0.5000 $\\pm$ 0.1250 & 0.6250 "
      "$\\pm$ "
      "0.0625 & 3 \\\\\n"
      "    \\midrule\n"
      "    Majority class & 0.2500 & 0.5000 & 0.2500 & 0.5000 & -- \\\\\n"
      "    \\bottomrule\n"
      "  \\end{tabular}\n"
      "\\end{table}\n");
  const std::string md = leaderboard::render(lb, leaderboard::Format::Markdown);
  CHECK(
      md.find("| Method | A UF1 | A UAR | mean UF1 | mean UAR |\n| --- | ---: | ---: | ---: | ---: |\n"
              "| net + none + none | 0.5000 ± 0.1250 (n=3) | 0.7500 ± 0.2500 (n=3) | 0.5000 ± 0.1250 (n=3) | "
              "0.6250 ± 0.0625 (n=3) |\n") != std::string::npos);
  const std::string csv = leaderboard::render(lb, leaderboard::Format::Csv);
  CHECK(
      csv.find("0,lodo,A+B,0,uar,selected,net + none + none,net,none,none,,,,mean,0.625,0.0625,3,,,0,0,\n") !=
      std::string::npos);
  CHECK(csv.find("0,lodo,A+B,0,uar,reference,majority class,,,,,,,A,0.5,,0,,,0,0,\n") != std::string::npos);
}

TEST_CASE("a variant's spec label names its row in every format without changing any identity or value") {
  FixtureDb db;
  leaderboard::Options o;
  o.bootstrap = 50;
  const auto before = [&] {
    Store store = Store::open(db.path, Store::Mode::ReadOnly);
    return leaderboard::build(store, o);
  }();
  // The spec relabelled and rerun: a new experiment row of the same name; the groups stay on the first one.
  {
    Store store = Store::open(db.path);
    nlohmann::json spec = {
        {"name", "fixture"},
        {"sweep", {{"variants", {{{"name", "erm"}, {"label", "old"}}, {{"name", "brl"}}}}}}};
    store.upsert_experiment({"fixture", spec, "spec-fixture-2"});
    spec["sweep"]["variants"] = {{{"name", "erm"}, {"label", "ERM baseline"}},
                                 {{"name", "brl"}, {"label", "Ours (BRL)"}}};
    store.upsert_experiment({"fixture", spec, "spec-fixture-3"});
  }
  CHECK(test::sql_int(db.path, "SELECT count(*) FROM experiments WHERE name = 'fixture'") == 3);
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  const auto after = leaderboard::build(store, o);
  REQUIRE(after.tables.size() == 1);
  const Table& a = after.tables[0];
  const Table& b = before.tables[0];
  REQUIRE(a.selected.size() == 2);
  CHECK(a.selected[0].method.label() == "ERM baseline");  // the newest spec's label
  CHECK(a.selected[1].method.label() == "Ours (BRL)");
  CHECK(a.selected[1].method.identity() == "netA + brl + none [brl]");
  // Same rows, same order, same points, same values and bootstrap intervals as without labels.
  for (size_t i = 0; i < 2; ++i) {
    CHECK(a.selected[i].method == b.selected[i].method);
    CHECK(a.selected[i].method.variant == b.selected[i].method.variant);
    for (size_t c = 0; c < a.columns.size(); ++c) {
      const Estimate& x = a.selected[i].values[c];
      const Estimate& y = b.selected[i].values[c];
      CHECK(x.mean == y.mean);
      CHECK(x.se == y.se);
      CHECK(x.ci_low == y.ci_low);
      CHECK(x.ci_high == y.ci_high);
      CHECK(x.point.has_value() == y.point.has_value());
      if (x.point) CHECK(x.point->point_hash == y.point->point_hash);
    }
  }
  REQUIRE(a.selected[0].values[0].ci_low);
  REQUIRE(a.all_points.size() == b.all_points.size());
  for (size_t i = 0; i < a.all_points.size(); ++i)
    CHECK(a.all_points[i].point->point_hash == b.all_points[i].point->point_hash);

  const std::string md = leaderboard::render(after, leaderboard::Format::Markdown);
  CHECK(md.find("| Ours (BRL) |") != std::string::npos);
  CHECK(md.find("[brl]") == std::string::npos);
  CHECK(leaderboard::render(after, leaderboard::Format::Latex).find("    Ours (BRL) & ") !=
        std::string::npos);
  CHECK(leaderboard::render(after, leaderboard::Format::Table).find("ERM baseline") != std::string::npos);
  CHECK(
      leaderboard::render(after, leaderboard::Format::Csv).find(",selected,Ours (BRL),netA,brl,none,brl,") !=
      std::string::npos);
  const auto j = nlohmann::json::parse(leaderboard::render(after, leaderboard::Format::Json));
  CHECK(j["tables"][0]["selected"][1]["method"]["label"] == "Ours (BRL)");
  CHECK(j["tables"][0]["selected"][1]["method"]["variant"] == "brl");
  // The CLI reads the labels from the same database.
  std::string out;
  CHECK(run_merx("db leaderboard --db " + db.path + " --format md", &out) == 0);
  CHECK(out.find("| Ours (BRL) |") != std::string::npos);
}

TEST_CASE("per-class F1 of the selected rows is each class's hand F1 at the selected point, over seeds") {
  FixtureDb db;
  Store store = Store::open(db.path, Store::Mode::ReadOnly);
  const auto lb = leaderboard::build(store, {});
  const auto pcs = leaderboard::per_class(store, lb);
  REQUIRE(pcs.size() == 1);
  const auto& t = pcs[0];
  CHECK(t.targets == std::vector<std::string>{"A", "B", "C"});
  CHECK(t.classes == std::vector<std::string>{"negative", "positive"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[1].method.variant == "brl");
  // Selected points as in the first test: erm #0 everywhere; brl A -> its point 1, B and C -> point 0.
  const size_t points[2][3] = {{0, 0, 0}, {1, 0, 0}};
  for (size_t m = 0; m < 2; ++m)
    for (size_t c = 0; c < 3; ++c) {
      CAPTURE(m);
      CAPTURE(c);
      std::vector<double> neg, pos;
      const double n_neg = test::kCounts[c][0], n_pos = test::kCounts[c][1];
      for (size_t s = 0; s < 3; ++s) {
        const double k = test::kFixture[m][points[m][c]][c][s].k;
        neg.push_back(2 * n_neg / (2 * n_neg + k));              // FP = k
        pos.push_back(2 * (n_pos - k) / (2 * (n_pos - k) + k));  // FN = k
      }
      REQUIRE(t.rows[m].values.size() == 6);
      check_estimate(t.rows[m].values[c * 2 + 0], neg);
      check_estimate(t.rows[m].values[c * 2 + 1], pos);
    }
  const std::string md = leaderboard::render_per_class(pcs, leaderboard::Format::Markdown);
  CHECK(
      md.find("| Method | A negative | A positive | B negative | B positive | C negative | C positive |\n") !=
      std::string::npos);
  char expected[200];
  std::snprintf(expected, sizeof expected, "0,lodo,A+B+C,0,netA + brl + none [brl],brl,A,positive,%.17g,",
                [&] {
                  double sum = 0;
                  for (size_t s = 0; s < 3; ++s) {
                    const double k = test::kFixture[kBrl][1][0][s].k, n_pos = test::kCounts[0][1];
                    sum += 2 * (n_pos - k) / (2 * (n_pos - k) + k);
                  }
                  return sum / 3;
                }());
  std::string out;
  CHECK(run_merx("db leaderboard --db " + db.path + " --per-class --format csv", &out) == 0);
  // The mean is formatted from a sum in another order than the hand one: compare the prefix up to the value.
  const std::string prefix = "0,lodo,A+B+C,0,netA + brl + none [brl],brl,A,positive,";
  const size_t at = out.find(prefix);
  REQUIRE(at != std::string::npos);
  const double value = std::stod(out.substr(at + prefix.size()));
  CHECK(value == doctest::Approx(std::stod(std::string(expected).substr(prefix.size()))).epsilon(1e-12));
  CHECK(run_merx("db leaderboard --db " + db.path + " --per-class --format latex", &out) == 0);
  CHECK(out.find("\\multicolumn{2}{c}{A} & \\multicolumn{2}{c}{B} & \\multicolumn{2}{c}{C} \\\\\n") !=
        std::string::npos);
}
