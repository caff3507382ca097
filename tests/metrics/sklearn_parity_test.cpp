// Parity with scikit-learn: sklearn_cases.py (Debian's python3-sklearn) writes >= 50 label/prediction cases
// with macro F1 over the defined classes, macro recall over the classes present, accuracy and the per-class
// values; merx must agree to 1e-12 on every one.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "merx/metrics/metrics.h"

using namespace merx;
using namespace merx::metrics;

namespace {

nlohmann::json sklearn_cases() {
  const std::string cmd = std::string("'") + MERX_SYSTEM_PYTHON3 + "' '" + MERX_SKLEARN_SCRIPT + "' '" +
                          MERX_SKLEARN_CASES + "'";
  const int rc = std::system(cmd.c_str());
  REQUIRE_MESSAGE(rc == 0, "the scikit-learn script failed (is python3-sklearn installed?): " << cmd);
  std::ifstream in(MERX_SKLEARN_CASES);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

void check_close(const std::optional<double>& ours, const nlohmann::json& theirs, const std::string& what) {
  if (theirs.is_null()) {
    CHECK_MESSAGE(!ours, what << ": sklearn undefined, merx " << ours.value_or(-1));
    return;
  }
  REQUIRE_MESSAGE(ours, what << ": merx undefined, sklearn " << theirs.get<double>());
  CHECK_MESSAGE(std::fabs(*ours - theirs.get<double>()) <= 1e-12,
                what << ": merx " << *ours << " sklearn " << theirs.get<double>());
}

}  // namespace

TEST_CASE("UF1 UAR accuracy and per-class values agree with scikit-learn to 1e-12 on at least 50 cases") {
  const nlohmann::json cases = sklearn_cases();
  REQUIRE(cases.size() >= 50);
  std::set<std::string> kinds;  // the edge cases the issue names must be among them
  for (const auto& c : cases) {
    const std::string name = c.at("name");
    const int k = c.at("k");
    std::vector<std::string> classes;
    for (int i = 0; i < k; ++i) classes.push_back("c" + std::to_string(i));
    const Confusion m = Confusion::from(classes, c.at("y_true").get<std::vector<int>>(),
                                        c.at("y_pred").get<std::vector<int>>());
    const auto rows = metric_rows(m, MetricScope::Fold);
    check_close(rows[0].value, c["uf1"], name + " uf1");
    check_close(rows[1].value, c["uar"], name + " uar");
    check_close(rows[2].value, c["accuracy"], name + " accuracy");
    for (int i = 0; i < k; ++i) {
      const size_t base = 3 + 3 * static_cast<size_t>(i);
      check_close(rows[base].value, c["precision"][i], name + " precision c" + std::to_string(i));
      check_close(rows[base + 1].value, c["recall"][i], name + " recall c" + std::to_string(i));
      check_close(rows[base + 2].value, c["f1"][i], name + " f1 c" + std::to_string(i));
    }
    // Which edge cases the data holds, judged from the labels themselves.
    std::set<int> t(c["y_true"].begin(), c["y_true"].end()), p(c["y_pred"].begin(), c["y_pred"].end());
    for (int i = 0; i < k; ++i) {
      if (!t.count(i) && p.count(i)) kinds.insert("absent from labels");
      if (t.count(i) && !p.count(i)) kinds.insert("absent from predictions");
      if (!t.count(i) && !p.count(i)) kinds.insert("absent from both");
    }
    if (c["y_true"].size() == 1) kinds.insert("single sample");
    if (c["accuracy"] == 0.0) kinds.insert("all wrong");
    if (c["accuracy"] == 1.0) kinds.insert("all right");
  }
  CHECK(kinds == std::set<std::string>{"absent from labels", "absent from predictions", "absent from both",
                                       "single sample", "all wrong", "all right"});
}
