// MEGC2019 metrics (methods.md §2) and the pooling of a group's folds.
#include "merx/metrics/metrics.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <stdexcept>

namespace merx::metrics {

// ---- Confusion ----

Confusion Confusion::empty(const std::vector<std::string>& classes) {
  if (classes.empty()) throw std::invalid_argument("confusion: no classes");
  std::set<std::string> seen;
  for (const auto& c : classes) {
    if (c.empty()) throw std::invalid_argument("confusion: empty class name");
    if (!seen.insert(c).second) throw std::invalid_argument("confusion: class '" + c + "' listed twice");
  }
  Confusion m;
  m.classes = classes;
  m.counts.assign(classes.size(), std::vector<int64_t>(classes.size(), 0));
  return m;
}

Confusion Confusion::from(const std::vector<std::string>& classes, const std::vector<int>& y_true,
                          const std::vector<int>& y_pred) {
  if (y_true.size() != y_pred.size())
    throw std::invalid_argument("confusion: " + std::to_string(y_true.size()) + " labels but " +
                                std::to_string(y_pred.size()) + " predictions");
  Confusion m = empty(classes);
  for (size_t i = 0; i < y_true.size(); ++i) m.add(y_true[i], y_pred[i]);
  return m;
}

void Confusion::add(int true_class, int predicted_class, int64_t n) {
  const int k = static_cast<int>(classes.size());
  if (true_class < 0 || true_class >= k || predicted_class < 0 || predicted_class >= k)
    throw std::invalid_argument("confusion: class index " +
                                std::to_string(true_class < 0 || true_class >= k ? true_class : predicted_class) +
                                " outside [0, " + std::to_string(k) + ")");
  if (n < 0) throw std::invalid_argument("confusion: negative count");
  counts[static_cast<size_t>(true_class)][static_cast<size_t>(predicted_class)] += n;
}

int64_t Confusion::total() const {
  int64_t n = 0;
  for (const auto& row : counts)
    for (auto v : row) n += v;
  return n;
}

int64_t Confusion::support(size_t c) const {
  int64_t n = 0;
  for (auto v : counts.at(c)) n += v;
  return n;
}

int64_t Confusion::predicted(size_t c) const {
  int64_t n = 0;
  for (const auto& row : counts) n += row.at(c);
  return n;
}

Confusion& Confusion::operator+=(const Confusion& other) {
  if (other.classes != classes) throw std::invalid_argument("confusion: adding a matrix of other classes");
  for (size_t t = 0; t < counts.size(); ++t)
    for (size_t p = 0; p < counts.size(); ++p) counts[t][p] += other.counts[t][p];
  return *this;
}

// ---- one evaluation ----

namespace {

struct ClassStats {
  int64_t tp = 0, support = 0, predicted = 0;
};

std::vector<ClassStats> stats(const Confusion& c) {
  std::vector<ClassStats> s(c.classes.size());
  for (size_t k = 0; k < s.size(); ++k) {
    s[k].tp = c.counts[k][k];
    s[k].support = c.support(k);
    s[k].predicted = c.predicted(k);
  }
  return s;
}

struct Averaged {
  std::optional<double> value;
  int64_t counted = 0;
};

// UF1: F1_c = 2TP / (2TP + FP + FN) = 2TP / (n_c + p_c) over classes with n_c + p_c > 0.
Averaged uf1_of(const std::vector<ClassStats>& s) {
  double sum = 0;
  Averaged a;
  for (const auto& k : s) {
    if (k.support + k.predicted == 0) continue;
    sum += 2.0 * static_cast<double>(k.tp) / static_cast<double>(k.support + k.predicted);
    ++a.counted;
  }
  if (a.counted > 0) a.value = sum / static_cast<double>(a.counted);
  return a;
}

// UAR: mean of TP / n_c over classes with n_c > 0.
Averaged uar_of(const std::vector<ClassStats>& s) {
  double sum = 0;
  Averaged a;
  for (const auto& k : s) {
    if (k.support == 0) continue;
    sum += static_cast<double>(k.tp) / static_cast<double>(k.support);
    ++a.counted;
  }
  if (a.counted > 0) a.value = sum / static_cast<double>(a.counted);
  return a;
}

constexpr const char* kNoSamples = "no samples evaluated";

MetricRow row(MetricScope scope, const std::string& target, const std::string& name,
              std::optional<std::string> cls, std::optional<double> value, const std::string& reason,
              int64_t support, int64_t defined) {
  MetricRow r;
  r.scope = scope;
  r.target = target;
  r.name = name;
  r.class_name = std::move(cls);
  r.value = value;
  r.reason = value ? "" : reason;
  r.support = support;
  r.n_classes_defined = defined;
  return r;
}

}  // namespace

std::optional<double> uf1(const Confusion& c) { return uf1_of(stats(c)).value; }
std::optional<double> uar(const Confusion& c) { return uar_of(stats(c)).value; }
std::optional<double> accuracy(const Confusion& c) {
  const int64_t n = c.total();
  if (n == 0) return std::nullopt;
  int64_t tp = 0;
  for (size_t k = 0; k < c.classes.size(); ++k) tp += c.counts[k][k];
  return static_cast<double>(tp) / static_cast<double>(n);
}

std::vector<MetricRow> metric_rows(const Confusion& c, MetricScope scope, const std::string& target) {
  const auto s = stats(c);
  const int64_t n = c.total();
  const Averaged f = uf1_of(s), r = uar_of(s);
  std::vector<MetricRow> rows;
  rows.push_back(row(scope, target, "uf1", std::nullopt, f.value, kNoSamples, n, f.counted));
  rows.push_back(row(scope, target, "uar", std::nullopt, r.value, kNoSamples, n, r.counted));
  rows.push_back(row(scope, target, "accuracy", std::nullopt, accuracy(c), kNoSamples, n, r.counted));
  for (size_t k = 0; k < s.size(); ++k) {
    const ClassStats& x = s[k];
    const std::string& name = c.classes[k];
    std::optional<double> precision, recall, f1;
    if (x.predicted > 0) precision = static_cast<double>(x.tp) / static_cast<double>(x.predicted);
    if (x.support > 0) recall = static_cast<double>(x.tp) / static_cast<double>(x.support);
    if (x.support + x.predicted > 0)
      f1 = 2.0 * static_cast<double>(x.tp) / static_cast<double>(x.support + x.predicted);
    rows.push_back(row(scope, target, "precision", name, precision, "no predictions of this class", x.support, 0));
    rows.push_back(row(scope, target, "recall", name, recall, "no samples of this class", x.support, 0));
    rows.push_back(
        row(scope, target, "f1", name, f1, "no samples and no predictions of this class", x.support, 0));
  }
  return rows;
}

std::vector<ConfusionEntry> confusion_entries(const Confusion& c, MetricScope scope, const std::string& target) {
  std::vector<ConfusionEntry> out;
  for (size_t t = 0; t < c.classes.size(); ++t)
    for (size_t p = 0; p < c.classes.size(); ++p)
      if (c.counts[t][p] > 0) out.push_back({scope, target, c.classes[t], c.classes[p], c.counts[t][p]});
  return out;
}

// ---- groups ----

GroupMetrics group_metrics(const std::vector<FoldEvaluation>& folds) {
  if (folds.empty()) throw std::invalid_argument("group metrics: no folds");
  const std::vector<std::string>& classes = folds.front().confusion.classes;
  Confusion pooled = Confusion::empty(classes);
  std::vector<std::pair<std::string, Confusion>> targets;  // order of first appearance
  auto target_sum = [&](const std::string& t) -> Confusion& {
    for (auto& [name, m] : targets)
      if (name == t) return m;
    targets.emplace_back(t, Confusion::empty(classes));
    return targets.back().second;
  };
  Averaged fold_f1, fold_ar;
  double f1_sum = 0, ar_sum = 0;
  for (const auto& f : folds) {
    if (f.confusion.classes != classes)
      throw std::invalid_argument("group metrics: fold '" + f.fold_id + "' has other classes than fold '" +
                                  folds.front().fold_id + "'");
    if (f.target.empty()) throw std::invalid_argument("group metrics: fold '" + f.fold_id + "' has no target");
    pooled += f.confusion;
    if (f.per_target.empty()) {
      target_sum(f.target) += f.confusion;
    } else {
      Confusion check = Confusion::empty(classes);
      for (const auto& [t, m] : f.per_target) {
        if (t.empty()) throw std::invalid_argument("group metrics: fold '" + f.fold_id + "': unnamed target");
        check += m;
        target_sum(t) += m;
      }
      if (!(check == f.confusion))
        throw std::invalid_argument("group metrics: fold '" + f.fold_id +
                                    "': the per-target confusions do not sum to the fold's");
    }
    const auto s = stats(f.confusion);
    if (auto v = uf1_of(s).value) {
      f1_sum += *v;
      ++fold_f1.counted;
    }
    if (auto v = uar_of(s).value) {
      ar_sum += *v;
      ++fold_ar.counted;
    }
  }
  if (fold_f1.counted) fold_f1.value = f1_sum / static_cast<double>(fold_f1.counted);
  if (fold_ar.counted) fold_ar.value = ar_sum / static_cast<double>(fold_ar.counted);

  Averaged target_f1, target_ar;
  double tf_sum = 0, ta_sum = 0;
  for (const auto& [t, m] : targets) {
    const auto s = stats(m);
    if (auto v = uf1_of(s).value) {
      tf_sum += *v;
      ++target_f1.counted;
    }
    if (auto v = uar_of(s).value) {
      ta_sum += *v;
      ++target_ar.counted;
    }
  }
  if (target_f1.counted) target_f1.value = tf_sum / static_cast<double>(target_f1.counted);
  if (target_ar.counted) target_ar.value = ta_sum / static_cast<double>(target_ar.counted);

  GroupMetrics g;
  const int64_t n = pooled.total();
  g.metrics = metric_rows(pooled, MetricScope::Pooled);
  const auto P = MetricScope::Pooled;
  g.metrics.push_back(row(P, "", "uf1_fold_mean", std::nullopt, fold_f1.value, "no fold has a defined UF1", n,
                          fold_f1.counted));
  g.metrics.push_back(row(P, "", "uar_fold_mean", std::nullopt, fold_ar.value, "no fold has a defined UAR", n,
                          fold_ar.counted));
  g.metrics.push_back(row(P, "", "uf1_target_mean", std::nullopt, target_f1.value,
                          "no target has a defined UF1", n, target_f1.counted));
  g.metrics.push_back(row(P, "", "uar_target_mean", std::nullopt, target_ar.value,
                          "no target has a defined UAR", n, target_ar.counted));
  for (const auto& [t, m] : targets) {
    auto rows = metric_rows(m, MetricScope::Target, t);
    g.metrics.insert(g.metrics.end(), rows.begin(), rows.end());
  }
  g.confusion = confusion_entries(pooled, MetricScope::Pooled);
  for (const auto& [t, m] : targets) {
    auto e = confusion_entries(m, MetricScope::Target, t);
    g.confusion.insert(g.confusion.end(), e.begin(), e.end());
  }
  return g;
}

Headline headline(const std::string& protocol) {
  if (protocol == "lodo" || protocol == "hde") return {"uf1_target_mean", "uar_target_mean", true};
  return {"uf1", "uar", false};
}

// ---- from the store ----

namespace {

// A done cell's fold evaluation, per the convention documented in metrics.h.
FoldEvaluation fold_of(const Store& store, const CellRecord& cell) {
  const std::string who = "cell " + cell.key.identity.substr(0, 16) + " (fold '" + cell.key.fold_id + "')";
  std::optional<CellResult> r = store.read_cell(cell.key.identity);
  if (!r) throw std::invalid_argument(who + " vanished from the database");
  std::vector<std::string> classes;
  for (const auto& m : r->metrics)
    if (m.scope == MetricScope::Fold && m.name == "f1" && m.class_name) classes.push_back(*m.class_name);
  if (classes.empty())
    throw std::invalid_argument(who + " is done but has no per-class fold metrics (rows 'f1' with a class), "
                                      "so its class list is unknown");
  FoldEvaluation f;
  f.fold_id = cell.key.fold_id;
  f.target = cell.key.target;
  try {
    f.confusion = Confusion::empty(classes);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(who + ": " + e.what());
  }
  auto index = [&](const std::string& name) {
    auto it = std::find(classes.begin(), classes.end(), name);
    if (it == classes.end())
      throw std::invalid_argument(who + ": class '" + name + "' is not among its per-class metrics");
    return static_cast<int>(it - classes.begin());
  };
  for (const auto& e : r->confusion)
    if (e.scope == MetricScope::Fold) f.confusion.add(index(e.true_class), index(e.predicted_class), e.count);
  if (f.target.find('+') != std::string::npos) {
    for (const auto& p : r->predictions) {
      const std::string dataset = p.sample_key.substr(0, p.sample_key.find('/'));
      auto it = std::find_if(f.per_target.begin(), f.per_target.end(),
                             [&](const auto& x) { return x.first == dataset; });
      if (it == f.per_target.end()) {
        f.per_target.emplace_back(dataset, Confusion::empty(classes));
        it = std::prev(f.per_target.end());
      }
      it->second.add(index(p.true_class), index(p.predicted_class));
    }
    std::sort(f.per_target.begin(), f.per_target.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    Confusion sum = Confusion::empty(classes);
    for (const auto& [t, m] : f.per_target) sum += m;
    if (!(sum == f.confusion))
      throw std::invalid_argument(who + " tests on several datasets (" + f.target +
                                  ") but its predictions do not add up to its confusion counts");
  }
  return f;
}

}  // namespace

bool update_group_metrics(Store& store, int64_t group_id) {
  const std::vector<CellRecord> cells = store.group_cells(group_id);
  if (cells.empty()) return false;
  for (const auto& c : cells)
    if (c.status != CellStatus::Done) return false;
  std::vector<FoldEvaluation> folds;
  folds.reserve(cells.size());
  for (const auto& c : cells) {
    folds.push_back(fold_of(store, c));
    if (folds.back().confusion.classes != folds.front().confusion.classes)
      throw std::invalid_argument("group " + std::to_string(group_id) + ": fold '" + c.key.fold_id +
                                  "' has other classes than fold '" + folds.front().fold_id + "'");
  }
  const GroupMetrics g = group_metrics(folds);
  store.write_group_metrics(group_id, g.metrics, g.confusion);
  return true;
}

}  // namespace merx::metrics
