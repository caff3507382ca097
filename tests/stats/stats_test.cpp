// Paired t, Wilcoxon signed-rank and Holm against SciPy 1.10 (expected.json, written by gen_expected.py) and
// hand computations.
#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "merx/stats/stats.h"

namespace {

using merx::stats::holm;
using merx::stats::paired_t;
using merx::stats::signed_rank_distribution;
using merx::stats::wilcoxon_signed_rank;

nlohmann::json expected_cases() {
  std::ifstream in(MERX_STATS_EXPECTED);
  REQUIRE_MESSAGE(in.good(), "cannot read " MERX_STATS_EXPECTED);
  return nlohmann::json::parse(in).at("cases");
}

// Relative agreement to 1e-9 (SciPy and Boost compute the same closed forms by different routes).
void check_close(double got, double want, const std::string& what) {
  INFO(what << ": got " << got << ", SciPy " << want);
  CHECK(std::fabs(got - want) <= 1e-9 * std::max(1.0, std::fabs(want)));
}

}  // namespace

TEST_CASE("stats: paired t-test equals scipy.stats.ttest_rel on every case of expected.json") {
  const auto cases = expected_cases();
  REQUIRE(cases.size() > 90);
  for (const auto& c : cases) {
    const std::string name = c.at("name");
    const auto a = c.at("a").get<std::vector<double>>(), b = c.at("b").get<std::vector<double>>();
    const auto& e = c.at("ttest_rel");
    const merx::stats::PairedT r = paired_t(a, b);
    check_close(r.mean_difference, e.at("mean_difference"), name + " mean difference");
    if (e.at("p").is_null()) {
      INFO(name);
      CHECK_FALSE(r.p.has_value());
      CHECK_FALSE(r.reason.empty());
      continue;
    }
    REQUIRE_MESSAGE(r.p.has_value(), name);
    if (e.at("t").is_string()) {
      CHECK(std::isinf(*r.t));
      CHECK((*r.t > 0) == (e.at("t") == "inf"));
    } else {
      check_close(*r.t, e.at("t"), name + " t");
    }
    check_close(*r.p, e.at("p"), name + " p");
    check_close(*r.df, e.at("df"), name + " df");
    check_close(*r.ci_low, e.at("ci_low"), name + " CI low");
    check_close(*r.ci_high, e.at("ci_high"), name + " CI high");
  }
}

TEST_CASE("stats: Wilcoxon signed-rank equals scipy.stats.wilcoxon, exact and approximate, ties and zeros") {
  const auto cases = expected_cases();
  int exact = 0, approx = 0, with_ties = 0, with_zeros = 0;
  for (const auto& c : cases) {
    const std::string name = c.at("name");
    const auto a = c.at("a").get<std::vector<double>>(), b = c.at("b").get<std::vector<double>>();
    const auto& e = c.at("wilcoxon");
    const merx::stats::Wilcoxon w = wilcoxon_signed_rank(a, b);
    INFO(name);
    CHECK(w.n == e.at("n").get<std::size_t>());
    CHECK(w.n_zero == e.at("n_zero").get<std::size_t>());
    with_zeros += w.n_zero > 0;
    if (e.at("p").is_null()) {
      CHECK_FALSE(w.p.has_value());
      continue;
    }
    REQUIRE(w.p.has_value());
    CHECK(w.exact == e.at("exact").get<bool>());
    CHECK(w.ties == e.at("ties").get<bool>());
    (w.exact ? exact : approx) += 1;
    with_ties += w.ties;
    check_close(w.statistic, e.at("statistic"), name + " statistic");
    check_close(*w.p, e.at("p"), name + " p");
    if (!w.exact) check_close(*w.z, e.at("z"), name + " z");
  }
  // The file covers every path (guards against a regenerated file that lost them).
  CHECK(exact >= 30);
  CHECK(approx >= 20);
  CHECK(with_ties >= 20);
  CHECK(with_zeros >= 20);
}

TEST_CASE("stats: exact signed-rank distribution for n = 3 and n = 4 by enumeration by hand") {
  // n = 3: subsets of {1,2,3} by sum 0..6: {} {1} {2} {3},{1,2} {1,3} {2,3} {1,2,3} -> 1 1 1 2 1 1 1 (/8).
  const std::vector<double> p3 = signed_rank_distribution(3);
  const std::vector<double> want3 = {1, 1, 1, 2, 1, 1, 1};
  REQUIRE(p3.size() == want3.size());
  for (std::size_t k = 0; k < p3.size(); ++k) CHECK(p3[k] == want3[k] / 8);
  // n = 4, sums 0..10: 1 1 1 2 2 2 2 2 1 1 1 (/16).
  const std::vector<double> p4 = signed_rank_distribution(4);
  const std::vector<double> want4 = {1, 1, 1, 2, 2, 2, 2, 2, 1, 1, 1};
  REQUIRE(p4.size() == want4.size());
  for (std::size_t k = 0; k < p4.size(); ++k) CHECK(p4[k] == want4[k] / 16);
  // n = 5 all positive: R+ = 15, two-sided p = 2 / 32.
  const auto w = wilcoxon_signed_rank({1, 2, 3, 4, 5}, {0.5, 1.25, 2.125, 3.0625, 4.03125});
  CHECK(w.exact);
  CHECK(w.r_plus == 15);
  CHECK(w.statistic == 0);
  CHECK(*w.p == doctest::Approx(2.0 / 32).epsilon(1e-15));
  CHECK_THROWS_AS(signed_rank_distribution(61), std::invalid_argument);
}

TEST_CASE("stats: Holm adjustment by hand") {
  // p = (0.01, 0.04, 0.03, 0.5), m = 4: sorted 0.01*4 = 0.04, 0.03*3 = 0.09, 0.04*2 = 0.08 -> max 0.09,
  // 0.5*1 = 0.5. Back in input order: 0.04, 0.09, 0.09, 0.5.
  const auto adj = holm({0.01, 0.04, 0.03, 0.5});
  REQUIRE(adj.size() == 4);
  CHECK(adj[0] == doctest::Approx(0.04));
  CHECK(adj[1] == doctest::Approx(0.09));
  CHECK(adj[2] == doctest::Approx(0.09));
  CHECK(adj[3] == doctest::Approx(0.5));
  // Capped at 1; one p-value unchanged; empty stays empty.
  const auto capped = holm({0.6, 0.7});
  CHECK(capped[0] == 1.0);
  CHECK(capped[1] == 1.0);
  CHECK(holm({0.2})[0] == 0.2);
  CHECK(holm({}).empty());
  CHECK_THROWS_AS(holm({1.5}), std::invalid_argument);
  CHECK_THROWS_AS(holm({std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
}

TEST_CASE("stats: bad input is refused with std::invalid_argument") {
  CHECK_THROWS_AS(paired_t({1, 2}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(wilcoxon_signed_rank({1, 2}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(paired_t({1, std::numeric_limits<double>::infinity()}, {1, 2}), std::invalid_argument);
  CHECK_THROWS_AS(paired_t({1, 2}, {1, 2}, 1.0), std::invalid_argument);
  const auto empty = wilcoxon_signed_rank({}, {});
  CHECK_FALSE(empty.p.has_value());
  CHECK(empty.reason == "no pairs");
}
