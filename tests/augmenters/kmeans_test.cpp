// au_gan's K-means (plugins/augmenters/au_gan/kmeans.h) against scikit-learn: kmeans_cases.json is written by
// kmeans_cases.py (Debian's /usr/bin/python3 with python3-sklearn) and checked in; Lloyd from the same
// initial centres must give scikit-learn's centres, assignments and inertia.
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "au_gan/kmeans.h"

#include <doctest/doctest.h>

namespace {

nlohmann::json cases() {
  std::ifstream in(std::string(MERX_SOURCE_DIR) + "/tests/augmenters/kmeans_cases.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("K-means from the same initial centres matches scikit-learn centres and labels and inertia") {
  const nlohmann::json all = cases();
  REQUIRE(all["cases"].size() == 4);
  for (const auto& c : all["cases"]) {
    CAPTURE(c["name"].get<std::string>());
    const size_t n = c["n"], dim = c["dim"], k = c["k"];
    const auto x = c["x"].get<std::vector<double>>();
    const auto r = merx::au_gan::lloyd(x, n, dim, c["init"].get<std::vector<double>>());
    REQUIRE(r.k == k);
    CHECK(r.labels == c["labels"].get<std::vector<int>>());
    const auto want = c["centres"].get<std::vector<double>>();
    REQUIRE(r.centres.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) CHECK(r.centres[i] == doctest::Approx(want[i]).epsilon(1e-12));
    CHECK(r.inertia == doctest::Approx(c["inertia"].get<double>()).epsilon(1e-10));
    // scikit-learn counts the final iteration that confirms the assignments; lloyd() counts changes.
    CHECK(r.iterations + 1 == c["sklearn_n_iter"].get<int>());
    int64_t total = 0;
    for (int64_t s : r.sizes) total += s;
    CHECK(total == static_cast<int64_t>(n));
  }
}

TEST_CASE("K-means by hand: two groups on a line") {
  // Points 0, 1, 10, 11 from centres 0 and 1: first pass {0} | {1, 10, 11} -> centres 0, 22/3; second
  // pass {0, 1} | {10, 11} -> centres 0.5, 10.5; third pass unchanged. Inertia 4 * 0.25 = 1.
  const auto r = merx::au_gan::lloyd({0, 1, 10, 11}, 4, 1, {0, 1});
  CHECK(r.labels == std::vector<int>{0, 0, 1, 1});
  CHECK(r.centres[0] == doctest::Approx(0.5));
  CHECK(r.centres[1] == doctest::Approx(10.5));
  CHECK(r.inertia == doctest::Approx(1.0));
  CHECK(r.iterations == 2);
}

TEST_CASE("k-means++ seeding picks distinct data points and k = min(k n) and is reproducible") {
  const std::vector<double> x = {0, 0, 0, 1, 5, 5, 5, 6, 9, 0};  // 5 points in 2-D
  std::mt19937_64 a(7), b(7);
  const auto ca = merx::au_gan::kmeanspp_init(x, 5, 2, 3, a);
  CHECK(ca == merx::au_gan::kmeanspp_init(x, 5, 2, 3, b));
  std::set<std::pair<double, double>> points, chosen;
  for (size_t i = 0; i < 5; ++i) points.insert({x[2 * i], x[2 * i + 1]});
  for (size_t i = 0; i < 3; ++i) chosen.insert({ca[2 * i], ca[2 * i + 1]});
  CHECK(chosen.size() == 3);
  for (const auto& p : chosen) CHECK(points.count(p) == 1);
  const auto r = merx::au_gan::kmeans(x, 5, 2, 10, 3);  // k = 10 > n = 5: every point its own centre
  CHECK(r.k == 5);
  CHECK(r.inertia == doctest::Approx(0.0));
  CHECK_THROWS_AS(merx::au_gan::kmeanspp_init(x, 5, 2, 6, a), std::invalid_argument);
}
