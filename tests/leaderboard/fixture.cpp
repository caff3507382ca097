#include "fixture.h"

#include <stdexcept>

#include "merx/metrics/metrics.h"

namespace merx::test {

double uf1_k(int n_neg, int n_pos, int k) {
  const double f_neg = 2.0 * n_neg / (2.0 * n_neg + k);
  const double f_pos = 2.0 * (n_pos - k) / (2.0 * (n_pos - k) + k);
  return (f_neg + f_pos) / 2;
}

const std::array<std::array<int, 2>, 3> kCounts = {{{6, 4}, {5, 5}, {3, 7}}};

// clang-format off
const std::array<std::array<std::array<std::array<FixtureCell, 3>, 3>, 2>, 3> kFixture = {{
  // erm: point #0 has the better source-validation score everywhere, point #1 the better target figures.
  {{ {{ {{{2, .8}, {3, .8}, {2, .8}}}, {{{3, .8}, {3, .8}, {4, .8}}}, {{{1, .8}, {2, .8}, {2, .8}}} }},
     {{ {{{0, .6}, {1, .6}, {0, .6}}}, {{{1, .6}, {0, .6}, {1, .6}}}, {{{0, .6}, {0, .6}, {1, .6}}} }} }},
  // brl: target A picks point #1 (mean score 0.7 vs 0.5; seed 2 alone would pick #0), B and C point #0.
  {{ {{ {{{4, .5}, {4, .55}, {3, .45}}}, {{{0, .9}, {1, .9}, {1, .9}}}, {{{2, .9}, {1, .9}, {1, .9}}} }},
     {{ {{{1, .9}, {2, .5}, {1, .7}}}, {{{2, .8}, {2, .8}, {2, .8}}}, {{{0, .85}, {0, .85}, {0, .85}}} }} }},
  // oracle: one point (the second is unused), best target figures of all.
  {{ {{ {{{0, 1.}, {0, 1.}, {1, 1.}}}, {{{0, 1.}, {1, 1.}, {0, 1.}}}, {{{0, 1.}, {0, 1.}, {0, 1.}}} }},
     {{ {{{0, 0.}, {0, 0.}, {0, 0.}}}, {{{0, 0.}, {0, 0.}, {0, 0.}}}, {{{0, 0.}, {0, 0.}, {0, 0.}}} }} }},
}};
// clang-format on

void write_fixture(const std::string& path, int seeds, bool with_oracle) {
  const std::vector<std::string> targets = {"A", "B", "C"};
  const std::vector<std::string> classes = {"negative", "positive"};
  const char* variants[] = {"erm", "brl", "oracle"};
  const char* regularizers[] = {"none", "brl", "none"};
  const double lrs[] = {0.01, 0.001};
  Store store = Store::open(path);
  ExperimentKey ek{
      "fixture",
      {{"name", "fixture"}, {"protocol", {{"name", "lodo"}, {"params", nlohmann::json::object()}}}},
      "spec-fixture"};
  const int64_t exp = store.upsert_experiment(ek);
  const int methods = with_oracle ? 3 : 2;
  int64_t point_index = 0;
  for (int m = 0; m < methods; ++m) {
    const int points = m == 2 ? 1 : 2;
    for (int p = 0; p < points; ++p, ++point_index) {
      for (int s = 0; s < seeds; ++s) {
        GroupKey gk;
        gk.experiment_id = exp;
        gk.identity =
            std::string("group-") + variants[m] + "-" + std::to_string(p) + "-" + std::to_string(s + 1);
        gk.point_index = point_index;
        gk.variant = variants[m];
        gk.point_hash = std::string("point-") + variants[m] + "-" + std::to_string(p);
        gk.assignments = {{"training.lr", lrs[p]}};
        gk.seed = s + 1;
        gk.protocol = "lodo";
        gk.datasets = targets;
        const int64_t gid = store.upsert_group(gk);
        std::vector<CellKey> keys;
        for (size_t t = 0; t < targets.size(); ++t)
          keys.push_back(
              {gk.identity + "-" + targets[t], gid, targets[t], targets[t], static_cast<uint64_t>(s + 1)});
        store.enqueue_cells(keys);
        for (size_t t = 0; t < targets.size(); ++t) {
          const FixtureCell& fc =
              kFixture[static_cast<size_t>(m)][static_cast<size_t>(p)][t][static_cast<size_t>(s)];
          const auto [n_neg, n_pos] = kCounts[t];
          if (!store.claim_cell(keys[t].identity, {"fixture-host", "cpu", 1}))
            throw std::runtime_error("fixture: claim failed");
          CellResult r;
          r.identity = keys[t].identity;
          r.status = CellStatus::Done;
          r.selection = m == 2 ? "oracle" : "source_val";
          r.chosen_epoch = 2;
          r.backbone = {"netA", "1", "sha-netA"};
          r.regularizer = {regularizers[m], "1", "sha-reg"};
          r.augmenter = {"none", "1", "sha-none"};
          r.train_seconds = 1.5;
          std::vector<int> y, yhat;
          for (int i = 0; i < n_neg + n_pos; ++i) {
            const int truth = i < n_neg ? 0 : 1;
            const int pred = truth == 1 && i - n_neg < fc.k ? 0 : truth;
            y.push_back(truth);
            yhat.push_back(pred);
            r.predictions.push_back({targets[t] + "/s" + std::to_string(i % 3) + "/clip" + std::to_string(i),
                                     classes[static_cast<size_t>(truth)], classes[static_cast<size_t>(pred)],
                                     nullptr});
          }
          const metrics::Confusion c = metrics::Confusion::from(classes, y, yhat);
          r.metrics = metrics::metric_rows(c, MetricScope::Fold);
          r.confusion = metrics::confusion_entries(c, MetricScope::Fold);
          const std::string curve = m == 2 ? "oracle_test_uf1" : "source_val_uf1";
          for (int64_t e = 0; e < 4; ++e) r.curves.push_back({e, curve, e == 2 ? fc.score : fc.score - 0.1});
          for (int64_t e = 0; e < 4; ++e) r.curves.push_back({e, "loss", 1.0 / static_cast<double>(e + 1)});
          store.write_finished_cell(r);
        }
        if (!metrics::update_group_metrics(store, gid)) throw std::runtime_error("fixture: group incomplete");
      }
    }
  }
}

}  // namespace merx::test
