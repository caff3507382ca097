// MEGC2019 metrics on hand-computed examples: the undefined-class policy, row layout, and group pooling where
// pooled, fold-mean and target-mean figures all differ. Every expected number is worked out in the comments.
#include <doctest/doctest.h>

#include <map>
#include <stdexcept>

#include "merx/metrics/metrics.h"

using namespace merx;
using namespace merx::metrics;

namespace {

const MetricRow& find(const std::vector<MetricRow>& rows, MetricScope scope, const std::string& name,
                      const std::string& cls = "", const std::string& target = "") {
  for (const auto& r : rows)
    if (r.scope == scope && r.name == name && r.class_name.value_or("") == cls && r.target == target) return r;
  FAIL("no row " << name << " " << cls << " " << target);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("Confusion counts and refuses bad input") {
  const Confusion c = Confusion::from({"a", "b", "c"}, {0, 0, 1, 2, 2, 2}, {0, 1, 1, 2, 0, 2});
  CHECK(c.counts == std::vector<std::vector<int64_t>>{{1, 1, 0}, {0, 1, 0}, {1, 0, 2}});
  CHECK(c.total() == 6);
  CHECK(c.support(2) == 3);
  CHECK(c.predicted(0) == 2);
  CHECK_THROWS_AS(Confusion::from({"a", "b"}, {0, 1}, {0}), std::invalid_argument);
  CHECK_THROWS_AS(Confusion::from({"a", "b"}, {0, 2}, {0, 1}), std::invalid_argument);
  CHECK_THROWS_AS(Confusion::from({"a", "b"}, {0, -1}, {0, 1}), std::invalid_argument);
  CHECK_THROWS_AS(Confusion::from({"a", "a"}, {0}, {0}), std::invalid_argument);
  CHECK_THROWS_AS(Confusion::from({}, {}, {}), std::invalid_argument);
  Confusion d = Confusion::from({"a", "b", "c"}, {1}, {1});
  d += c;
  CHECK(d.counts[1][1] == 2);
  Confusion other = Confusion::from({"a", "c", "b"}, {}, {});
  CHECK_THROWS_AS(d += other, std::invalid_argument);
}

TEST_CASE("metric rows follow the undefined-class policy with reasons and n_classes_defined") {
  // classes a b c d; true 0 0 1 1 1, predicted 0 1 1 1 2
  //   a: TP 1, n 2, p 1 -> precision 1, recall 1/2, F1 2/3
  //   b: TP 2, n 3, p 3 -> precision 2/3, recall 2/3, F1 2/3
  //   c: TP 0, n 0, p 1 -> precision 0, recall undefined, F1 0 (counted: predicted though absent)
  //   d: n 0, p 0       -> everything undefined, excluded from UF1
  //   UF1 = (2/3 + 2/3 + 0) / 3 = 4/9 over 3 classes; UAR = (1/2 + 2/3) / 2 = 7/12 over 2; accuracy 3/5
  const Confusion c = Confusion::from({"a", "b", "c", "d"}, {0, 0, 1, 1, 1}, {0, 1, 1, 1, 2});
  const auto rows = metric_rows(c, MetricScope::Fold);
  REQUIRE(rows.size() == 3 + 4 * 3);
  CHECK(rows[0].name == "uf1");
  CHECK(rows[1].name == "uar");
  CHECK(rows[2].name == "accuracy");
  CHECK(rows[3].name == "precision");
  CHECK(rows[3].class_name == std::optional<std::string>("a"));
  CHECK(rows[5].name == "f1");

  const auto& f = find(rows, MetricScope::Fold, "uf1");
  CHECK(*f.value == doctest::Approx(4.0 / 9).epsilon(1e-15));
  CHECK(f.n_classes_defined == 3);
  CHECK(f.support == 5);
  const auto& r = find(rows, MetricScope::Fold, "uar");
  CHECK(*r.value == doctest::Approx(7.0 / 12).epsilon(1e-15));
  CHECK(r.n_classes_defined == 2);
  CHECK(*find(rows, MetricScope::Fold, "accuracy").value == doctest::Approx(0.6));

  CHECK(*find(rows, MetricScope::Fold, "precision", "a").value == 1.0);
  CHECK(*find(rows, MetricScope::Fold, "recall", "a").value == 0.5);
  CHECK(find(rows, MetricScope::Fold, "recall", "a").support == 2);
  CHECK(*find(rows, MetricScope::Fold, "f1", "b").value == doctest::Approx(2.0 / 3));
  CHECK(*find(rows, MetricScope::Fold, "precision", "c").value == 0.0);
  CHECK(*find(rows, MetricScope::Fold, "f1", "c").value == 0.0);
  CHECK(!find(rows, MetricScope::Fold, "recall", "c").value);
  CHECK(find(rows, MetricScope::Fold, "recall", "c").reason == "no samples of this class");
  for (const char* name : {"precision", "recall", "f1"}) {
    const auto& u = find(rows, MetricScope::Fold, name, "d");
    CHECK(!u.value);
    CHECK(!u.reason.empty());
    CHECK(u.support == 0);
  }
  CHECK(find(rows, MetricScope::Fold, "f1", "d").reason == "no samples and no predictions of this class");
  CHECK(*uf1(c) == doctest::Approx(4.0 / 9));
  CHECK(*uar(c) == doctest::Approx(7.0 / 12));

  // Target scope carries the target into every row; confusion entries are the non-zero cells.
  for (const auto& t : metric_rows(c, MetricScope::Target, "samm")) CHECK(t.target == "samm");
  const auto e = confusion_entries(c, MetricScope::Fold);
  REQUIRE(e.size() == 4);  // a->a 1, a->b 1, b->b 2, b->c 1
  CHECK(e[0].true_class == "a");
  CHECK(e[0].predicted_class == "a");
  CHECK(e[0].count == 1);
  CHECK(e[2].count == 2);
  CHECK(e[3].predicted_class == "c");
}

TEST_CASE("no samples gives no values with a reason, never 0 or NaN") {
  const Confusion c = Confusion::empty({"a", "b"});
  for (const auto& r : metric_rows(c, MetricScope::Fold)) {
    CHECK(!r.value);
    CHECK(!r.reason.empty());
  }
  CHECK(!uf1(c));
  CHECK(!accuracy(c));
  CHECK(confusion_entries(c, MetricScope::Fold).empty());
}

TEST_CASE("group pooling differs from the fold mean and the target mean on a hand example") {
  // classes negative, positive, surprise (surprise never occurs: excluded everywhere)
  // f1 (target A): true n n p,  predicted n n p  -> UF1 1, UAR 1
  // f2 (target A): true n,      predicted p      -> F1 neg 0, F1 pos 0 (predicted) -> UF1 0; UAR 0
  // f3 (target B): true p p p,  predicted p p n  -> F1 pos 2*2/(3+2) = 4/5, F1 neg 0 -> UF1 2/5; UAR 2/3
  // fold means: UF1 (1 + 0 + 2/5) / 3 = 7/15; UAR (1 + 0 + 2/3) / 3 = 5/9
  // target A = f1 + f2: true n n p n, predicted n n p p: neg TP 2 n 3 p 2 -> 4/5; pos TP 1 n 1 p 2 -> 2/3
  //   UF1_A = 11/15; UAR_A = (2/3 + 1) / 2 = 5/6
  // target B = f3: UF1_B = 2/5, UAR_B = 2/3
  // target means: UF1 (11/15 + 6/15) / 2 = 17/30; UAR (5/6 + 4/6) / 2 = 3/4
  // pooled: true n n p n p p p, predicted n n p p p p n: neg TP 2 n 3 p 3 -> 2/3; pos TP 3 n 4 p 4 -> 3/4
  //   UF1 = UAR = 17/24
  const std::vector<std::string> k = {"negative", "positive", "surprise"};
  std::vector<FoldEvaluation> folds = {
      {"A/s1", "A", Confusion::from(k, {0, 0, 1}, {0, 0, 1}), {}},
      {"A/s2", "A", Confusion::from(k, {0}, {1}), {}},
      {"B/s3", "B", Confusion::from(k, {1, 1, 1}, {1, 1, 0}), {}},
  };
  const GroupMetrics g = group_metrics(folds);
  const auto P = MetricScope::Pooled, T = MetricScope::Target;
  CHECK(*find(g.metrics, P, "uf1").value == doctest::Approx(17.0 / 24).epsilon(1e-15));
  CHECK(*find(g.metrics, P, "uar").value == doctest::Approx(17.0 / 24).epsilon(1e-15));
  CHECK(find(g.metrics, P, "uf1").n_classes_defined == 2);
  CHECK(find(g.metrics, P, "uf1").support == 7);
  CHECK(*find(g.metrics, P, "accuracy").value == doctest::Approx(5.0 / 7));
  CHECK(*find(g.metrics, P, "uf1_fold_mean").value == doctest::Approx(7.0 / 15).epsilon(1e-15));
  CHECK(find(g.metrics, P, "uf1_fold_mean").n_classes_defined == 3);  // folds counted
  CHECK(*find(g.metrics, P, "uar_fold_mean").value == doctest::Approx(5.0 / 9).epsilon(1e-15));
  CHECK(*find(g.metrics, P, "uf1_target_mean").value == doctest::Approx(17.0 / 30).epsilon(1e-15));
  CHECK(find(g.metrics, P, "uf1_target_mean").n_classes_defined == 2);  // targets counted
  CHECK(*find(g.metrics, P, "uar_target_mean").value == doctest::Approx(0.75).epsilon(1e-15));
  CHECK(*find(g.metrics, T, "uf1", "", "A").value == doctest::Approx(11.0 / 15).epsilon(1e-15));
  CHECK(*find(g.metrics, T, "uar", "", "A").value == doctest::Approx(5.0 / 6).epsilon(1e-15));
  CHECK(*find(g.metrics, T, "uf1", "", "B").value == doctest::Approx(0.4).epsilon(1e-15));
  CHECK(find(g.metrics, T, "recall", "negative", "B").reason == "no samples of this class");
  CHECK(!find(g.metrics, P, "f1", "surprise").value);

  // Confusion: pooled n->n 2, n->p 1, p->n 1, p->p 3; target B p->n 1, p->p 2.
  std::map<std::string, int64_t> pooled, target_b;
  for (const auto& e : g.confusion) {
    if (e.scope == P) pooled[e.true_class + ">" + e.predicted_class] = e.count;
    if (e.scope == T && e.target == "B") target_b[e.true_class + ">" + e.predicted_class] = e.count;
  }
  CHECK(pooled == std::map<std::string, int64_t>{
                      {"negative>negative", 2}, {"negative>positive", 1}, {"positive>negative", 1},
                      {"positive>positive", 3}});
  CHECK(target_b == std::map<std::string, int64_t>{{"positive>negative", 1}, {"positive>positive", 2}});
}

TEST_CASE("a fold on several datasets is split by per_target and bad groups are refused") {
  const std::vector<std::string> k = {"x", "y"};
  // kfold fold on A+B: A true x x predicted x y; B true y predicted y.
  // target A: x TP 1 n 2 p 1 -> F1 2/3; y n 0 p 1 -> F1 0: UF1_A 1/3. target B: UF1 1 (only y, defined).
  FoldEvaluation f{"k0", "A+B", Confusion::from(k, {0, 0, 1}, {0, 1, 1}),
                   {{"A", Confusion::from(k, {0, 0}, {0, 1})}, {"B", Confusion::from(k, {1}, {1})}}};
  const GroupMetrics g = group_metrics({f});
  CHECK(*find(g.metrics, MetricScope::Target, "uf1", "", "A").value == doctest::Approx(1.0 / 3));
  CHECK(*find(g.metrics, MetricScope::Target, "uf1", "", "B").value == 1.0);
  CHECK(*find(g.metrics, MetricScope::Pooled, "uf1_target_mean").value == doctest::Approx(2.0 / 3));
  for (const auto& m : g.metrics) CHECK(m.target != "A+B");

  FoldEvaluation bad = f;
  bad.per_target.pop_back();  // no longer sums to the fold's confusion
  CHECK_THROWS_AS(group_metrics({bad}), std::invalid_argument);
  CHECK_THROWS_AS(group_metrics({}), std::invalid_argument);
  FoldEvaluation other{"k1", "A", Confusion::from({"x", "z"}, {0}, {0}), {}};
  CHECK_THROWS_AS(group_metrics({f, other}), std::invalid_argument);
  FoldEvaluation untargeted{"k1", "", Confusion::from(k, {0}, {0}), {}};
  CHECK_THROWS_AS(group_metrics({untargeted}), std::invalid_argument);
}

TEST_CASE("the headline is pooled for loso and kfold_subject and the target mean for lodo and hde") {
  CHECK(headline("loso").uf1 == "uf1");
  CHECK(headline("kfold_subject").uar == "uar");
  CHECK(!headline("loso").per_target);
  CHECK(headline("lodo").uf1 == "uf1_target_mean");
  CHECK(headline("hde").uar == "uar_target_mean");
  CHECK(headline("hde").per_target);
}
