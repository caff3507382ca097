// A three-class nearest-centroid classifier and unweighted average recall, written out by hand: how the demo
// corpus's separability is measured (tests/synth/motion_test.cpp asserts it, bench/synth_corpus.cpp reports
// it). Independent of merx's metrics on purpose.
#pragma once

#include <string>
#include <vector>

namespace merx::test {

/// One clip's feature vector with its domain index, global subject and class index (0..2).
struct Item {
  size_t domain = 0;
  std::string subject;
  int label = 0;
  std::vector<double> x;
};

/// The class (0..2) whose mean of `train` is nearest to x.x in squared Euclidean distance; classes absent
/// from `train` are skipped; -1 when `train` is empty.
inline int nearest_centroid(const std::vector<const Item*>& train, const Item& x) {
  std::vector<std::vector<double>> mean(3, std::vector<double>(x.x.size(), 0));
  std::vector<int> count(3, 0);
  for (const Item* t : train) {
    ++count[size_t(t->label)];
    for (size_t j = 0; j < x.x.size(); ++j) mean[size_t(t->label)][j] += t->x[j];
  }
  int best = -1;
  double best_d = 1e300;
  for (int c = 0; c < 3; ++c) {
    if (!count[size_t(c)]) continue;
    double d = 0;
    for (size_t j = 0; j < x.x.size(); ++j) {
      const double e = x.x[j] - mean[size_t(c)][j] / count[size_t(c)];
      d += e * e;
    }
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

/// Unweighted average recall: the mean over the classes present in `truth` of the share predicted right.
inline double uar3(const std::vector<int>& truth, const std::vector<int>& pred) {
  double sum = 0;
  int classes = 0;
  for (int c = 0; c < 3; ++c) {
    int n = 0, hit = 0;
    for (size_t i = 0; i < truth.size(); ++i)
      if (truth[i] == c) ++n, hit += pred[i] == c;
    if (n) sum += double(hit) / n, ++classes;
  }
  return classes ? sum / classes : 0.0;
}

}  // namespace merx::test
