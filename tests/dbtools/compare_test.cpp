// `merx db compare` (merx/compare/compare.h) on a fixture whose group figures are chosen here; expected test
// results come from SciPy (tests/stats/expected.json, cases compare_*, written by gen_expected.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "merx/compare/compare.h"
#include "merx/errors.h"
#include "merx/store/store.h"
#include "store/store_test_util.h"

using namespace merx;

namespace {

const std::vector<std::string> kTargets = {"casme2", "samm", "smic"};
// Target-scope UF1 per (target, seed), pair order: casme2 s1..s3, samm s1..s3, smic s1..s3 (as in
// tests/stats/gen_expected.py).
const std::map<std::string, std::vector<double>> kValues = {
    {"erm", {0.50, 0.52, 0.47, 0.40, 0.43, 0.41, 0.55, 0.51, 0.53}},
    {"brl", {0.56, 0.55, 0.52, 0.41, 0.47, 0.40, 0.60, 0.55, 0.58}},
    {"coral", {0.50, 0.54, 0.46, 0.42, 0.43, 0.43, 0.55, 0.50, 0.55}},
};

// One finished group per (variant, seed) with three done cells and its Target-scope uf1 rows.
// point / source_val: the sweep point index and the source-validation UF1 its cells report at their chosen
// epoch (nullopt: no selection curve).
void add_runs(Store& s, const std::string& experiment, const std::string& protocol,
              const std::vector<std::string>& datasets, const std::string& variant,
              const std::vector<double>& v, int point = 0, std::optional<double> source_val = std::nullopt) {
  const int64_t exp =
      s.upsert_experiment({experiment, {{"name", experiment}}, std::string(63, 'e') + experiment[0]});
  for (int seed = 1; seed <= 3; ++seed) {
    GroupKey g;
    g.experiment_id = exp;
    g.identity = experiment + "/" + variant + "/" + std::to_string(point) + "/" + std::to_string(seed);
    g.variant = variant;
    g.point_index = point;
    g.point_hash = "p-" + variant + "-" + std::to_string(point);
    g.assignments = {{"regularizer", variant == "erm" ? "none" : variant}, {"gamma", point}};
    g.seed = seed;
    g.protocol = protocol;
    g.datasets = datasets;
    const int64_t gid = s.upsert_group(g);
    std::vector<MetricRow> rows;
    for (std::size_t t = 0; t < datasets.size(); ++t) {
      const std::string cell = g.identity + "/" + datasets[t];
      s.enqueue_cells({{cell, gid, datasets[t], datasets[t], 1}});
      REQUIRE(s.claim_cell(cell, {"h", "cpu", 1}));
      CellResult r;
      r.identity = cell;
      r.selection = "source_val";
      r.backbone = {"ststnet", "1", ""};
      r.regularizer = {variant == "erm" ? "none" : variant, "1", ""};
      r.augmenter = {"none", "1", ""};
      if (source_val) {
        r.chosen_epoch = 0;
        r.curves = {{0, "source_val_uf1", *source_val}};
      }
      s.write_finished_cell(r);
      rows.push_back(
          {MetricScope::Target, datasets[t], "uf1", std::nullopt, v[t * 3 + (seed - 1)], "", 30, 3});
    }
    // Pooled rows as update_group_metrics writes them (the leaderboard needs them; compare reads targets).
    double mean = 0;
    for (const auto& r : rows) mean += *r.value / static_cast<double>(rows.size());
    rows.push_back({MetricScope::Pooled, "", "uf1", std::nullopt, mean, "", 90, 3});
    rows.push_back({MetricScope::Pooled, "", "uf1_target_mean", std::nullopt, mean, "", 90, 3});
    s.write_group_metrics(gid, rows, {});
  }
}

// The experiment "study": erm, brl and coral with kValues on the three LODO targets; returns the file.
std::string study_db(const test::TempDir& dir) {
  const std::string db = dir.file("cmp.sqlite");
  Store s = Store::open(db);
  for (const auto& [variant, v] : kValues) add_runs(s, "study", "lodo", kTargets, variant, v);
  return db;
}

nlohmann::json scipy_case(const std::string& name) {
  std::ifstream in(MERX_STATS_EXPECTED);
  const nlohmann::json all = nlohmann::json::parse(in);
  for (const auto& c : all.at("cases"))
    if (c.at("name") == name) return c;
  FAIL("no case " << name);
  return {};
}

void check_against_scipy(const compare::Comparison& c, const std::string& name) {
  const auto e = scipy_case(name);
  INFO(name);
  REQUIRE(c.pairs.size() == 9);
  // Pairs in (target, seed) order carry the fixture's numbers.
  const auto a = e.at("a").get<std::vector<double>>(), b = e.at("b").get<std::vector<double>>();
  for (std::size_t i = 0; i < 9; ++i) {
    CHECK(c.pairs[i].target == kTargets[i / 3]);
    CHECK(c.pairs[i].seed == static_cast<int64_t>(i % 3 + 1));
    CHECK(c.pairs[i].a == a[i]);
    CHECK(c.pairs[i].b == b[i]);
  }
  const auto& t = e.at("ttest_rel");
  CHECK(c.t.mean_difference == doctest::Approx(t.at("mean_difference").get<double>()).epsilon(1e-12));
  CHECK(*c.t.p == doctest::Approx(t.at("p").get<double>()).epsilon(1e-9));
  CHECK(*c.t.ci_low == doctest::Approx(t.at("ci_low").get<double>()).epsilon(1e-9));
  CHECK(*c.t.ci_high == doctest::Approx(t.at("ci_high").get<double>()).epsilon(1e-9));
  const auto& w = e.at("wilcoxon");
  CHECK(c.wilcoxon.statistic == w.at("statistic").get<double>());
  CHECK(*c.wilcoxon.p == doctest::Approx(w.at("p").get<double>()).epsilon(1e-9));
  CHECK(c.wilcoxon.n_zero == w.at("n_zero").get<std::size_t>());
}

}  // namespace

TEST_CASE("compare: paired differences, t interval and Wilcoxon match SciPy, with Holm over several comparisons") {
  test::TempDir dir;
  Store s = Store::open(study_db(dir), Store::Mode::ReadOnly);
  compare::Options opt;
  opt.unit = compare::Unit::TargetSeed;  // the SciPy cases of the 9 (target, seed) pairs

  const auto one = compare::compare(s, {"regularizer=brl", "erm"}, std::nullopt, opt);
  REQUIRE(one.size() == 1);
  check_against_scipy(one[0], "compare_brl_vs_erm");
  CHECK_FALSE(one[0].t_p_holm.has_value());
  CHECK(one[0].protocol == "lodo");
  CHECK(one[0].a_methods == std::vector<std::string>{"ststnet + brl + none [brl]"});
  const std::string text = compare::render_text(one, opt);
  CHECK(text.find("not independent samples") != std::string::npos);
  CHECK(text.find("NOT independent") != std::string::npos);
  CHECK(text.find("+0.0356") != std::string::npos);  // mean difference 0.035555...

  // Two comparisons against one baseline: Holm, m = 2 (hand: sorted p1 <= p2 -> 2 p1, max(2 p1, p2)).
  const auto two = compare::compare(s, {"brl", "variant=coral"}, std::string("regularizer=none"), opt);
  REQUIRE(two.size() == 2);
  check_against_scipy(two[0], "compare_brl_vs_erm");
  check_against_scipy(two[1], "compare_coral_vs_erm");
  // Holm by hand for m = 2: the smaller p doubled (capped at 1), the larger max(itself, that).
  auto holm2 = [](double p0, double p1) {
    const double lo = std::min(1.0, 2 * std::min(p0, p1)), hi = std::max(lo, std::max(p0, p1));
    return p0 <= p1 ? std::make_pair(lo, hi) : std::make_pair(hi, lo);
  };
  const auto [t0, t1] = holm2(*two[0].t.p, *two[1].t.p);
  CHECK(*two[0].t_p_holm == doctest::Approx(t0).epsilon(1e-12));
  CHECK(*two[1].t_p_holm == doctest::Approx(t1).epsilon(1e-12));
  const auto [w0, w1] = holm2(*two[0].wilcoxon.p, *two[1].wilcoxon.p);
  CHECK(*two[0].wilcoxon_p_holm == doctest::Approx(w0).epsilon(1e-12));
  CHECK(*two[1].wilcoxon_p_holm == doctest::Approx(w1).epsilon(1e-12));
  // brl's t p-value (0.0014) is the smaller: doubled.
  CHECK(*two[0].t_p_holm == doctest::Approx(2 * 0.0014321573747519884).epsilon(1e-9));
  const auto j = compare::to_json(two, opt);
  CHECK(j.at("comparisons").size() == 2);
  CHECK(j.at("comparisons")[0].at("pairs").size() == 9);
}

TEST_CASE("compare: runs of different protocols or datasets are not paired, and bad selectors are user errors") {
  test::TempDir dir;
  const std::string db = dir.file("cmp.sqlite");
  {
    Store s = Store::open(db);
    add_runs(s, "study", "lodo", kTargets, "erm", kValues.at("erm"));
    add_runs(s, "other", "lodo", {"casme2", "samm", "smic"}, "brl", kValues.at("brl"));
    add_runs(s, "loso", "loso", {"casme2", "samm", "smic"}, "coral", kValues.at("coral"));
  }
  Store s = Store::open(db, Store::Mode::ReadOnly);
  const compare::Options opt;
  // Same protocol and datasets in another experiment: paired.
  CHECK(compare::compare(s, {"brl", "erm"}, std::nullopt, opt).at(0).pairs.size() == 9);
  try {
    compare::compare(s, {"coral", "erm"}, std::nullopt, opt);
    FAIL("paired a loso run with a lodo run");
  } catch (const UserError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("refusing to pair") != std::string::npos);
    CHECK(msg.find("loso") != std::string::npos);
  }
  // A selector spanning both protocols.
  CHECK_THROWS_WITH_AS(compare::compare(s, {"augmenter=none", "erm"}, std::nullopt, opt),
                       doctest::Contains("different protocols"), UserError);
  CHECK_THROWS_WITH_AS(compare::compare(s, {"nosuch", "erm"}, std::nullopt, opt),
                       doctest::Contains("matches no group"), UserError);
  CHECK_THROWS_AS(compare::compare(s, {"brl"}, std::nullopt, opt), UserError);
  CHECK_THROWS_AS(compare::compare(s, {"brl", "=x"}, std::nullopt, opt), UserError);
  CHECK_THROWS_AS(compare::compare(s, {"variant=brl,variant=erm", "erm"}, std::nullopt, opt), UserError);
}

TEST_CASE(
    "compare: a swept method is compared at the sweep point source validation selects, not the best on "
    "test") {
  test::TempDir dir;
  const std::string db = dir.file("cmp.sqlite");
  {
    Store s = Store::open(db);
    add_runs(s, "study", "lodo", kTargets, "erm", kValues.at("erm"), 0, 0.5);
    // mmd point 0 scores best on the targets (brl's numbers) but lower on source validation (0.6) than
    // point 1 (coral's numbers, 0.7): point 1 is the honest choice.
    add_runs(s, "study", "lodo", kTargets, "mmd", kValues.at("brl"), 0, 0.6);
    add_runs(s, "study", "lodo", kTargets, "mmd", kValues.at("coral"), 1, 0.7);
  }
  Store s = Store::open(db, Store::Mode::ReadOnly);
  compare::Options opt;
  opt.unit = compare::Unit::TargetSeed;
  const auto c = compare::compare(s, {"mmd", "erm"}, std::nullopt, opt);
  REQUIRE(c.size() == 1);
  check_against_scipy(c[0], "compare_coral_vs_erm");
  CHECK_FALSE(c[0].notes.empty());  // says which point was selected
  // Pinning a point by hand is possible (and then it is the user's choice).
  check_against_scipy(compare::compare(s, {"mmd,point=0", "erm"}, std::nullopt, opt).at(0),
                      "compare_brl_vs_erm");
  check_against_scipy(compare::compare(s, {"mmd,gamma=0", "erm"}, std::nullopt, opt).at(0),
                      "compare_brl_vs_erm");
}

TEST_CASE("compare: the default unit is the seed, the mean over the targets, tested as SciPy does") {
  test::TempDir dir;
  Store s = Store::open(study_db(dir), Store::Mode::ReadOnly);
  const compare::Options opt;  // unit: seed
  const auto c = compare::compare(s, {"brl", "variant=coral"}, std::string("erm"), opt);
  REQUIRE(c.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string name = i == 0 ? "compare_seed_brl_vs_erm" : "compare_seed_coral_vs_erm";
    INFO(name);
    const auto e = scipy_case(name);
    CHECK(c[i].unit == compare::Unit::Seed);
    REQUIRE(c[i].seed_pairs.size() == 3);
    CHECK(c[i].pairs.size() == 9);  // the (target, seed) values are still listed
    const auto a = e.at("a").get<std::vector<double>>(), b = e.at("b").get<std::vector<double>>();
    for (std::size_t k = 0; k < 3; ++k) {
      CHECK(c[i].seed_pairs[k].seed == static_cast<int64_t>(k + 1));
      CHECK(c[i].seed_pairs[k].targets == 3);
      CHECK(c[i].seed_pairs[k].a == doctest::Approx(a[k]).epsilon(1e-14));
      CHECK(c[i].seed_pairs[k].b == doctest::Approx(b[k]).epsilon(1e-14));
    }
    const auto& t = e.at("ttest_rel");
    CHECK(c[i].t.df == 2);
    CHECK(c[i].t.mean_difference == doctest::Approx(t.at("mean_difference").get<double>()).epsilon(1e-12));
    CHECK(*c[i].t.p == doctest::Approx(t.at("p").get<double>()).epsilon(1e-9));
    CHECK(*c[i].t.ci_low == doctest::Approx(t.at("ci_low").get<double>()).epsilon(1e-9));
    CHECK(*c[i].wilcoxon.p == doctest::Approx(e.at("wilcoxon").at("p").get<double>()).epsilon(1e-9));
  }
  // brl - erm by hand: per seed the target means differ by (0.06+0.01+0.05)/3, (0.03+0.04+0.04)/3,
  // (0.05-0.01+0.05)/3 -> mean 0.0355...
  CHECK(c[0].t.mean_difference == doctest::Approx((0.12 + 0.11 + 0.09) / 9).epsilon(1e-12));
  const std::string text = compare::render_text(c, opt);
  CHECK(text.find("paired unit: seed (the mean over 3 targets), n = 3 seeds") != std::string::npos);
  CHECK(text.find("NOT independent") == std::string::npos);
  // No predictions stored in this fixture: the bootstrap says why it is missing.
  REQUIRE(c[0].bootstrap.has_value());
  CHECK(c[0].bootstrap->reason.find("no stored per-sample predictions") != std::string::npos);
}

namespace {

// One group (variant, seed) tested on target "t" with the given per-clip predictions; `correct[i]` says whether
// clip i (key t/<subject>/<clip>) is predicted right. Two classes x and y, every clip of class x.
void add_predicted_run(Store& s, const std::string& variant, int seed,
                       const std::vector<std::pair<std::string, bool>>& clips) {
  const int64_t exp = s.upsert_experiment({"boot", {{"name", "boot"}}, std::string(64, 'b')});
  GroupKey g;
  g.experiment_id = exp;
  g.identity = "boot/" + variant + "/" + std::to_string(seed);
  g.variant = variant;
  g.point_hash = "p-" + variant;
  g.assignments = nlohmann::json::object();
  g.seed = seed;
  g.protocol = "lodo";
  g.datasets = {"t", "u"};
  const int64_t gid = s.upsert_group(g);
  const std::string cell = g.identity + "/t";
  s.enqueue_cells({{cell, gid, "t", "t", 1}});
  REQUIRE(s.claim_cell(cell, {"h", "cpu", 1}));
  CellResult r;
  r.identity = cell;
  r.selection = "last";
  r.backbone = {"ststnet", "1", ""};
  r.regularizer = {variant, "1", ""};
  r.augmenter = {"none", "1", ""};
  double acc = 0;
  for (std::size_t i = 0; i < clips.size(); ++i) {
    r.predictions.push_back({"t/" + clips[i].first + "/c" + std::to_string(i), "x", clips[i].second ? "x" : "y", nullptr});
    acc += clips[i].second ? 1.0 / static_cast<double>(clips.size()) : 0.0;
  }
  s.write_finished_cell(r);
  s.write_group_metrics(gid,
                        {{MetricScope::Target, "t", "accuracy", std::nullopt, acc, "", static_cast<int64_t>(clips.size()), 2},
                         {MetricScope::Pooled, "", "accuracy", std::nullopt, acc, "", static_cast<int64_t>(clips.size()), 2}},
                        {});
}

}  // namespace

TEST_CASE("compare: the subject bootstrap resamples whole subjects, paired, with the distribution by hand") {
  // Subject s1 has 1 clip, right for A and B; s2 has 3 clips, right for A, wrong for B. Accuracy of A - B on a
  // resample of 2 subjects: {s1, s1} 0, {s2, s2} 1, {s1, s2} 0.75 (4 clips: A 4/4, B 1/4), with probabilities
  // 1/4, 1/4, 1/2: mean 0.625, P(A - B <= 0) = 1/4, 2.5 % quantile 0, 97.5 % quantile 1. On the clips as stored
  // A - B = 0.75. (Resampling clips instead of subjects would give other figures, e.g. P(0) = (1/4)^4 ...)
  test::TempDir dir;
  const std::string db = dir.file("boot.sqlite");
  const std::vector<std::pair<std::string, bool>> a = {{"s1", true}, {"s2", true}, {"s2", true}, {"s2", true}};
  const std::vector<std::pair<std::string, bool>> b = {{"s1", true}, {"s2", false}, {"s2", false}, {"s2", false}};
  {
    Store s = Store::open(db);
    add_predicted_run(s, "a", 1, a);
    add_predicted_run(s, "b", 1, b);
    add_predicted_run(s, "same", 1, b);
  }
  Store s = Store::open(db, Store::Mode::ReadOnly);
  compare::Options opt;
  opt.metric = leaderboard::Metric::Accuracy;
  opt.bootstrap = 8000;
  const auto c = compare::compare(s, {"a", "b"}, std::nullopt, opt);
  REQUIRE(c.size() == 1);
  REQUIRE(c[0].bootstrap.has_value());
  const compare::Bootstrap& bs = *c[0].bootstrap;
  INFO(bs.reason);
  REQUIRE(bs.reason.empty());
  CHECK(bs.subjects == 2);
  CHECK(bs.clips == 4);
  CHECK(bs.observed == doctest::Approx(0.75).epsilon(1e-12));
  CHECK(bs.mean == doctest::Approx(0.625).epsilon(0.02));           // sd of the mean ~0.004
  CHECK(bs.share_not_positive == doctest::Approx(0.25).epsilon(0.06)); // sd ~0.005
  CHECK(bs.ci_low == 0.0);
  CHECK(bs.ci_high == 1.0);
  // Deterministic given the seed; another seed gives other resamples.
  const auto again = compare::compare(s, {"a", "b"}, std::nullopt, opt);
  CHECK(again[0].bootstrap->mean == bs.mean);
  opt.bootstrap_seed = 7;
  CHECK(compare::compare(s, {"a", "b"}, std::nullopt, opt)[0].bootstrap->mean != bs.mean);
  // The same predictions on both sides: every resample gives 0.
  const auto same = compare::compare(s, {"same", "b"}, std::nullopt, opt);
  CHECK(same[0].bootstrap->ci_low == 0.0);
  CHECK(same[0].bootstrap->ci_high == 0.0);
  CHECK(same[0].bootstrap->share_not_positive == 1.0);
  CHECK(compare::to_json(c, opt).at("comparisons")[0].at("bootstrap").at("subjects") == 2);
}

TEST_CASE("compare --family: the comparisons the spec declared, Holm over all of them, others post hoc") {
  test::TempDir dir;
  const std::string db = dir.file("cmp.sqlite");
  {
    Store s = Store::open(db);
    // The experiment row add_runs would write, with the spec's declared family (same name and hash).
    s.upsert_experiment({"study",
                         {{"name", "study"},
                          {"comparisons",
                           {{{"a", "brl"}, {"b", "erm"}}, {{"a", "coral"}, {"b", "erm"}}, {{"a", "brl"}, {"b", "coral"}}}}},
                         std::string(63, 'e') + 's'});
    for (const auto& [variant, v] : kValues) add_runs(s, "study", "lodo", kTargets, variant, v);
  }
  Store s = Store::open(db, Store::Mode::ReadOnly);
  compare::Options opt;
  opt.bootstrap = 0;
  const auto fams = compare::declared_families(s);
  REQUIRE(fams.size() == 1);
  CHECK(fams[0].experiment == "study");
  CHECK(fams[0].comparisons.size() == 3);

  const auto fam = compare::compare_family(s, opt);
  REQUIRE(fam.size() == 3);
  CHECK(fam[0].a == "brl");
  CHECK(fam[2].b == "coral");
  // Holm by hand for m = 3 over the unadjusted paired-t p-values.
  std::vector<std::size_t> order = {0, 1, 2};
  std::sort(order.begin(), order.end(), [&](auto x, auto y) { return *fam[x].t.p < *fam[y].t.p; });
  double running = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    running = std::max(running, std::min(1.0, (3.0 - static_cast<double>(k)) * *fam[order[k]].t.p));
    CHECK(*fam[order[k]].t_p_holm == doctest::Approx(running).epsilon(1e-12));
  }
  // The family-adjusted p of brl - erm is larger than its own p-value (three comparisons, not one).
  const auto single = compare::compare(s, {"brl", "erm"}, std::nullopt, opt);
  CHECK(*fam[0].t.p == doctest::Approx(*single[0].t.p).epsilon(1e-15));
  CHECK(*fam[0].t_p_holm > *single[0].t.p);
  const auto has_note = [](const compare::Comparison& c, const std::string& text) {
    for (const auto& n : c.notes)
      if (n.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(has_note(fam[1], "the Holm family"));
  CHECK(compare::render_text(fam, opt).find("the spec declared") == std::string::npos);  // opt.family unset
  opt.family = true;
  CHECK(compare::render_text(fam, opt).find("3 comparisons the spec declared") != std::string::npos);
  opt.family = false;
  CHECK(has_note(single[0], "declared by experiment study as one of its 3 comparisons"));
  // Other selectors for the same groups are the same declared comparison.
  CHECK(has_note(compare::compare(s, {"variant=brl", "regularizer=none"}, std::nullopt, opt)[0],
                 "declared by experiment study"));
  // Reversed order is a different comparison (A - B), not declared: post hoc.
  const auto posthoc = compare::compare(s, {"coral", "brl"}, std::nullopt, opt);
  CHECK(has_note(posthoc[0], "post hoc"));

  opt.experiment = "nosuch";
  CHECK_THROWS_WITH_AS(compare::compare_family(s, opt), doctest::Contains("declares no comparisons"), UserError);
}

TEST_CASE("compare --family refuses a database where no spec declares comparisons") {
  test::TempDir dir;
  Store s = Store::open(study_db(dir), Store::Mode::ReadOnly);
  CHECK(compare::declared_families(s).empty());
  CHECK_THROWS_WITH_AS(compare::compare_family(s, {}), doctest::Contains("no experiment"), UserError);
  // Without a declared family there is nothing to say about post hoc.
  for (const auto& n : compare::compare(s, {"brl", "erm"}, std::nullopt, {})[0].notes)
    CHECK(n.find("post hoc") == std::string::npos);
}
