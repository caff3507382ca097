// leaderboard::build: groups -> (protocol, dataset list) tables, source-validation selection of sweep
// points, mean ± SE over seeds, analytic reference rows and the optional stratified bootstrap.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "merx/errors.h"
#include "merx/hash.h"
#include "merx/leaderboard/leaderboard.h"
#include "merx/metrics/metrics.h"
#include "merx/stats/stats.h"

namespace merx::leaderboard {
namespace {

using json = nlohmann::json;

const std::string kMean = "mean";
const std::string kPooled = "pooled";

std::string text(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return {};
}

const char* metric_column(Metric m) {
  switch (m) {
    case Metric::UF1:
      return "uf1";
    case Metric::UAR:
      return "uar";
    case Metric::Accuracy:
      return "accuracy";
  }
  return "uf1";
}

// One group (sweep point x seed value) as the leaderboard sees it.
struct GroupInfo {
  int64_t id = 0;
  std::string experiment;
  PointRef point;
  int64_t seed = 0;
  std::string protocol, protocol_params, datasets_json, data_version;
  int64_t cells = 0, done = 0;
  MethodKey method;
  bool oracle = false;
  std::map<Metric, std::map<std::string, std::optional<double>>> target_value;  // Target scope, by dataset
  bool has_pooled = false;                                                      // a pooled row of any metric
  std::map<Metric, std::optional<double>> pooled_value;
  std::map<std::string, std::vector<double>> scores;  // cell selection scores by cell target
  std::vector<double> all_scores;                     // every cell's score
};

struct BlockKey {
  bool oracle;
  std::string protocol, protocol_params, datasets_json, data_version;
  bool operator<(const BlockKey& o) const {
    return std::tie(oracle, protocol, datasets_json, protocol_params, data_version) <
           std::tie(o.oracle, o.protocol, o.datasets_json, o.protocol_params, o.data_version);
  }
  BlockKey family() const { return {oracle, protocol, protocol_params, datasets_json, ""}; }
};

std::string short_version(const std::string& v) {
  return v.empty() ? "unrecorded" : v.substr(0, 12);
}

std::optional<double> mean_of(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Mean and standard error (sample SD with n-1, over sqrt(n)) of per-seed values.
Estimate estimate(const std::vector<double>& v) {
  Estimate e;
  e.n = static_cast<int>(v.size());
  e.mean = mean_of(v);
  if (v.size() >= 2) {
    double ss = 0;
    for (double x : v) ss += (x - *e.mean) * (x - *e.mean);
    e.se = std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::sqrt(static_cast<double>(v.size()));
  }
  return e;
}

// Source-validation score of a group for a column: mean of the cells' scores on that target (pooled: all).
std::optional<double> group_score(const GroupInfo& g, const std::string& column, bool per_target) {
  if (!per_target) return mean_of(g.all_scores);
  auto it = g.scores.find(column);
  return it == g.scores.end() ? std::nullopt : mean_of(it->second);
}

std::optional<double> group_value(const GroupInfo& g, Metric metric, const std::string& column,
                                  bool per_target) {
  if (!per_target) {
    auto it = g.pooled_value.find(metric);
    return it == g.pooled_value.end() ? std::nullopt : it->second;
  }
  auto m = g.target_value.find(metric);
  if (m == g.target_value.end()) return std::nullopt;
  auto it = m->second.find(column);
  return it == m->second.end() ? std::nullopt : it->second;
}

// ---- class counts for the reference rows and the bootstrap ----

struct FoldCounts {
  std::string fold_id, target;
  std::map<std::string, double> test;  // class -> clips
};

// Per-fold test class counts of a group (fold-scope per-class supports) and the class order.
void fold_counts(const Store& store, int64_t group_id, std::vector<FoldCounts>& folds,
                 std::vector<std::string>& classes) {
  std::map<int64_t, size_t> by_cell;
  store.query(
      "SELECT c.id, c.fold_id, c.target, m.class, m.support FROM cells c "
      "JOIN metrics m ON m.cell_id = c.id AND m.scope = 'fold' AND m.name = 'f1' "
      "WHERE c.group_id = ?1 AND m.class IS NOT NULL ORDER BY c.id, m.id",
      {group_id}, [&](const std::vector<SqlValue>& r) {
        const int64_t cell = sql_integer(r[0]);
        auto it = by_cell.find(cell);
        if (it == by_cell.end()) {
          it = by_cell.emplace(cell, folds.size()).first;
          folds.push_back({text(r[1]), text(r[2]), {}});
        }
        const std::string cls = text(r[3]);
        if (std::find(classes.begin(), classes.end(), cls) == classes.end()) classes.push_back(cls);
        folds[it->second].test[cls] += static_cast<double>(sql_integer(r[4]));
      });
}

std::vector<double> as_vector(const std::map<std::string, double>& m,
                              const std::vector<std::string>& classes) {
  std::vector<double> v;
  for (const auto& c : classes) {
    auto it = m.find(c);
    v.push_back(it == m.end() ? 0.0 : it->second);
  }
  return v;
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + sep.size();
  }
}

std::optional<double> pick(const ReferenceValues& v, Metric m) {
  return m == Metric::UF1 ? v.uf1 : m == Metric::UAR ? v.uar : v.accuracy;
}

// Reference rows of a table, from one finished group (class counts do not depend on the method).
// Training class counts of a fold: lodo/hde — the sum of the class counts of its source datasets (each
// dataset's counts taken from a fold that tests on it; fold ids of hde are "src1+src2->target"); pooled
// protocols — all clips of the group minus the fold's own (every clip is tested exactly once there).
void add_references(const Store& store, const GroupInfo& g, Table& t, bool per_target,
                    const std::vector<std::string>& all_datasets) {
  std::vector<FoldCounts> folds;
  std::vector<std::string> classes;
  fold_counts(store, g.id, folds, classes);
  ReferenceRow maj{"majority class", {}}, rnd{"random (training priors)", {}};
  if (folds.empty() || classes.empty()) {
    maj.values.assign(t.columns.size(), std::nullopt);
    rnd.values = maj.values;
    t.notes.push_back("reference rows: no per-class counts stored for group " + std::to_string(g.id));
    t.references = {maj, rnd};
    return;
  }
  using Pair = std::pair<std::vector<double>, std::vector<double>>;
  if (!per_target) {
    std::map<std::string, double> total;
    for (const auto& f : folds)
      for (const auto& [c, n] : f.test) total[c] += n;
    std::vector<Pair> pairs;
    for (const auto& f : folds) {
      std::map<std::string, double> train = total;
      for (const auto& [c, n] : f.test) train[c] -= n;
      pairs.emplace_back(as_vector(f.test, classes), as_vector(train, classes));
    }
    maj.values.push_back(pick(reference_values(pairs, false), t.metric));
    rnd.values.push_back(pick(reference_values(pairs, true), t.metric));
  } else {
    std::map<std::string, std::map<std::string, double>> per_dataset;  // dataset -> class counts
    for (const auto& f : folds)
      if (!per_dataset.count(f.target)) per_dataset[f.target] = f.test;
    auto sources_of = [&](const FoldCounts& f) {
      std::vector<std::string> src;
      const size_t arrow = f.fold_id.find("->");
      if (arrow != std::string::npos) return split(f.fold_id.substr(0, arrow), "+");
      for (const auto& d : all_datasets)
        if (d != f.target) src.push_back(d);
      return src;
    };
    std::vector<std::optional<double>> maj_v, rnd_v;
    for (size_t ci = 0; ci + 1 < t.columns.size(); ++ci) {
      const std::string& target = t.columns[ci];
      std::vector<Pair> pairs;
      bool known = true;
      for (const auto& f : folds) {
        if (f.target != target) continue;
        std::map<std::string, double> train;
        for (const auto& s : sources_of(f)) {
          auto it = per_dataset.find(s);
          if (it == per_dataset.end()) {
            known = false;
            t.notes.push_back("reference rows for target " + target + ": class counts of source " + s +
                              " are unknown (it is never a test target)");
            break;
          }
          for (const auto& [c, n] : it->second) train[c] += n;
        }
        pairs.emplace_back(as_vector(f.test, classes), as_vector(train, classes));
      }
      if (!known || pairs.empty()) {
        maj_v.push_back(std::nullopt);
        rnd_v.push_back(std::nullopt);
        continue;
      }
      maj_v.push_back(pick(reference_values(pairs, false), t.metric));
      rnd_v.push_back(pick(reference_values(pairs, true), t.metric));
    }
    auto mean_col = [](const std::vector<std::optional<double>>& v) -> std::optional<double> {
      std::vector<double> d;
      for (const auto& x : v) {
        if (!x) return std::nullopt;
        d.push_back(*x);
      }
      return mean_of(d);
    };
    maj_v.push_back(mean_col(maj_v));
    rnd_v.push_back(mean_col(rnd_v));
    maj.values = maj_v;
    rnd.values = rnd_v;
  }
  t.references = {maj, rnd};
}

// ---- bootstrap ----

// One evaluation set for the bootstrap: clips aligned across seeds (same order), per seed the predicted
// class of each clip.
struct BootSet {
  std::vector<int> truth;               // class index per clip
  std::vector<std::vector<int>> preds;  // [seed][clip]
};

std::optional<double> metric_of(const std::vector<std::string>& classes, const std::vector<int>& truth,
                                const std::vector<int>& pred, const std::vector<size_t>& idx, Metric m) {
  metrics::Confusion c = metrics::Confusion::empty(classes);
  for (size_t i : idx) c.add(truth[i], pred[i]);
  return m == Metric::UF1 ? metrics::uf1(c) : m == Metric::UAR ? metrics::uar(c) : metrics::accuracy(c);
}

// Loads, per seed group, the predictions on `target` ("" = all) and aligns them by sample key.
std::optional<BootSet> load_boot_set(const Store& store, const std::vector<int64_t>& group_ids,
                                     const std::string& target, std::vector<std::string>& classes) {
  std::vector<std::map<std::string, std::pair<std::string, std::string>>> per_seed;
  for (int64_t gid : group_ids) {
    auto& m = per_seed.emplace_back();
    store.query(
        "SELECT c.target, p.sample_key, p.true_class, p.predicted_class FROM cells c "
        "JOIN predictions p ON p.cell_id = c.id WHERE c.group_id = ?1",
        {gid}, [&](const std::vector<SqlValue>& r) {
          const std::string key = text(r[1]);
          const std::string dataset = key.substr(0, key.find('/'));
          if (!target.empty() && dataset != target && text(r[0]) != target) return;
          m[key] = {text(r[2]), text(r[3])};
        });
  }
  if (per_seed.empty() || per_seed[0].empty()) return std::nullopt;
  BootSet b;
  auto index = [&](const std::string& c) {
    auto it = std::find(classes.begin(), classes.end(), c);
    if (it != classes.end()) return static_cast<int>(it - classes.begin());
    classes.push_back(c);
    return static_cast<int>(classes.size() - 1);
  };
  b.preds.resize(per_seed.size());
  for (const auto& [key, tp] : per_seed[0]) {
    b.truth.push_back(index(tp.first));
    for (size_t s = 0; s < per_seed.size(); ++s) {
      auto it = per_seed[s].find(key);
      if (it == per_seed[s].end() || it->second.first != tp.first) return std::nullopt;  // clip sets differ
      b.preds[s].push_back(index(it->second.second));
    }
  }
  for (size_t s = 0; s < per_seed.size(); ++s)
    if (per_seed[s].size() != per_seed[0].size()) return std::nullopt;
  return b;
}

// Percentile 95 % interval of the seed-mean metric (mean over `sets`' targets when several, as the "mean"
// column) under class-stratified resampling of each set's clips.
std::optional<std::pair<double, double>> bootstrap(const std::vector<BootSet>& sets,
                                                   const std::vector<std::string>& classes, Metric metric,
                                                   int resamples, uint64_t seed) {
  if (sets.empty() || resamples <= 0) return std::nullopt;
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::vector<size_t>>> strata(sets.size());  // [set][class] -> clip positions
  for (size_t k = 0; k < sets.size(); ++k) {
    strata[k].resize(classes.size());
    for (size_t i = 0; i < sets[k].truth.size(); ++i)
      strata[k][static_cast<size_t>(sets[k].truth[i])].push_back(i);
  }
  std::vector<double> stats;
  std::vector<size_t> idx;
  for (int b = 0; b < resamples; ++b) {
    double over_sets = 0;
    bool ok = true;
    for (size_t k = 0; k < sets.size() && ok; ++k) {
      idx.clear();
      for (const auto& st : strata[k]) {
        if (st.empty()) continue;
        std::uniform_int_distribution<size_t> pick_one(0, st.size() - 1);
        for (size_t j = 0; j < st.size(); ++j) idx.push_back(st[pick_one(rng)]);
      }
      double over_seeds = 0;
      for (const auto& pred : sets[k].preds) {
        const auto v = metric_of(classes, sets[k].truth, pred, idx, metric);
        if (!v) {
          ok = false;
          break;
        }
        over_seeds += *v;
      }
      over_sets += over_seeds / static_cast<double>(sets[k].preds.size());
    }
    if (ok) stats.push_back(over_sets / static_cast<double>(sets.size()));
  }
  if (stats.empty()) return std::nullopt;
  std::sort(stats.begin(), stats.end());
  // Percentile interval with linear interpolation between order statistics (numpy's default).
  auto quantile = [&](double q) {
    const double h = q * static_cast<double>(stats.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(h));
    const size_t hi = std::min(lo + 1, stats.size() - 1);
    return stats[lo] + (h - static_cast<double>(lo)) * (stats[hi] - stats[lo]);
  };
  return std::make_pair(quantile(0.025), quantile(0.975));
}

// ---- one table ----

using PointKey = std::pair<MethodKey, std::string>;  // (method, point_hash)

struct PointSeries {
  PointRef point;
  std::map<int64_t, const GroupInfo*> by_seed;
};

// One metric's table (t.metric); selection does not depend on the metric (source-validation UF1).
void build_table(const Store& store, const Options& opt, const std::vector<const GroupInfo*>& groups,
                 Table& t) {
  const Metric metric = t.metric;
  const bool per_target = metrics::headline(t.protocol).per_target;
  // Columns.
  if (per_target) {
    std::set<std::string> seen;
    for (const GroupInfo* g : groups)  // every loaded metric: the columns are the same for each
      for (const auto& [m, by_target] : g->target_value)
        for (const auto& [target, v] : by_target) seen.insert(target);
    for (const auto& d : t.datasets)
      if (seen.erase(d)) t.columns.push_back(d);
    for (const auto& rest : seen) t.columns.push_back(rest);
    t.columns.push_back(kMean);
  } else {
    t.columns.push_back(kPooled);
  }
  const size_t n_targets = per_target ? t.columns.size() - 1 : 1;

  // Series per (method, point).
  std::map<PointKey, PointSeries> series;
  for (const GroupInfo* g : groups) {
    PointSeries& s = series[{g->method, g->point.point_hash}];
    if (s.by_seed.empty() || g->point.point_index < s.point.point_index) s.point = g->point;
    if (!s.by_seed.emplace(g->seed, g).second)
      t.notes.push_back("method " + g->method.label() + ", point " + g->point.label() + ", seed " +
                        std::to_string(g->seed) + ": several groups; group " + std::to_string(g->id) +
                        " ignored");
  }

  // Value of one series in one column, per seed (mean column: mean over targets of the given per-target
  // series, seeds present in all of them).
  auto target_values = [&](const PointSeries& s, size_t col) {
    std::map<int64_t, double> out;
    for (const auto& [seed, g] : s.by_seed)
      if (auto v = group_value(*g, metric, t.columns[col], per_target)) out[seed] = *v;
    return out;
  };
  auto mean_values = [&](const std::vector<const PointSeries*>& per_col) {
    std::map<int64_t, double> out;
    for (const auto& [seed, g0] : per_col[0]->by_seed) {
      (void)g0;
      std::vector<double> vals;
      bool present = true;
      for (size_t c = 0; c < n_targets; ++c) {
        auto it = per_col[c]->by_seed.find(seed);
        if (it == per_col[c]->by_seed.end()) {
          present = false;
          break;
        }
        if (auto v = group_value(*it->second, metric, t.columns[c], true)) vals.push_back(*v);
      }
      if (present && !vals.empty()) out[seed] = *mean_of(vals);
    }
    return out;
  };
  auto to_estimate = [](const std::map<int64_t, double>& by_seed) {
    std::vector<double> v;
    for (const auto& [s, x] : by_seed) v.push_back(x);
    Estimate e = estimate(v);
    e.by_seed = by_seed;
    return e;
  };
  auto mean_score = [&](const PointSeries& s, const std::string& column) {
    std::vector<double> v;
    for (const auto& [seed, g] : s.by_seed)
      if (auto sc = group_score(*g, column, per_target)) v.push_back(*sc);
    return mean_of(v);
  };

  // All sweep points.
  for (const auto& [key, s] : series) {
    Row r;
    r.method = key.first;
    r.point = s.point;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      Estimate e;
      if (per_target && c == n_targets) {
        std::vector<const PointSeries*> same(n_targets, &s);
        e = to_estimate(mean_values(same));
      } else {
        e = to_estimate(target_values(s, c));
        e.selection_score = mean_score(s, t.columns[c]);
      }
      e.point = s.point;
      r.few_seeds = r.few_seeds || e.n < 3;
      r.values.push_back(e);
    }
    t.all_points.push_back(r);
  }
  std::stable_sort(t.all_points.begin(), t.all_points.end(), [](const Row& a, const Row& b) {
    return std::tie(a.method, a.point->point_index) < std::tie(b.method, b.point->point_index);
  });

  // Selected rows: per method and target column, the point with the best mean source-val score.
  std::map<MethodKey, std::vector<const PointSeries*>> by_method;
  for (const auto& [key, s] : series) by_method[key.first].push_back(&s);
  for (auto& [method, points] : by_method) {
    std::sort(points.begin(), points.end(), [](const PointSeries* a, const PointSeries* b) {
      return a->point.point_index < b->point.point_index;
    });
    Row r;
    r.method = method;
    std::vector<const PointSeries*> chosen(n_targets, nullptr);
    std::vector<std::optional<double>> chosen_score(n_targets);
    bool selectable = true;
    for (size_t c = 0; c < n_targets; ++c) {
      if (points.size() == 1) {
        chosen[c] = points[0];
        chosen_score[c] = mean_score(*points[0], t.columns[c]);
        continue;
      }
      std::optional<double> best;
      for (const PointSeries* p : points) {
        const auto sc = mean_score(*p, t.columns[c]);
        if (sc && (!best || *sc > *best)) {  // strictly better: ties keep the lowest point index
          best = sc;
          chosen[c] = p;
        }
      }
      chosen_score[c] = best;
      if (!chosen[c]) selectable = false;
    }
    if (!selectable) {
      t.notes.push_back("method " + method.label() + ": " + std::to_string(points.size()) +
                        " sweep points but no source-validation score (training.selection 'last'?); no "
                        "selected row, see all sweep points");
      continue;
    }
    for (size_t c = 0; c < t.columns.size(); ++c) {
      Estimate e;
      if (per_target && c == n_targets) {
        e = to_estimate(mean_values(chosen));
      } else {
        e = to_estimate(target_values(*chosen[c], c));
        e.point = chosen[c]->point;
        e.selection_score = chosen_score[c];
      }
      r.few_seeds = r.few_seeds || e.n < 3;
      r.values.push_back(e);
    }
    // Bootstrap over the clips of each selected column.
    if (opt.bootstrap > 0) {
      std::vector<std::string> classes;
      std::vector<std::optional<BootSet>> sets(n_targets);
      auto groups_of = [](const PointSeries& s, const std::set<int64_t>& seeds) {
        std::vector<int64_t> ids;
        for (const auto& [seed, g] : s.by_seed)
          if (seeds.count(seed)) ids.push_back(g->id);
        return ids;
      };
      for (size_t c = 0; c < n_targets; ++c) {
        std::set<int64_t> seeds;
        for (const auto& [seed, g] : chosen[c]->by_seed)
          if (group_value(*g, metric, t.columns[c], per_target)) seeds.insert(seed);
        sets[c] = load_boot_set(store, groups_of(*chosen[c], seeds), per_target ? t.columns[c] : "", classes);
      }
      const uint64_t base =
          opt.bootstrap_seed ^ hash64(method.identity() + "\n" + t.protocol + t.datasets_json());
      bool all_sets = true;
      for (size_t c = 0; c < n_targets; ++c) {
        if (!sets[c]) {
          all_sets = false;
          continue;
        }
        if (auto ci = bootstrap({*sets[c]}, classes, metric, opt.bootstrap, base + c)) {
          r.values[c].ci_low = ci->first;
          r.values[c].ci_high = ci->second;
        }
      }
      if (per_target && all_sets) {
        // The mean column needs the same seeds in every target: keep the seeds of the mean estimate.
        std::vector<BootSet> all;
        std::set<int64_t> seeds;
        for (const auto& [seed, v] : mean_values(chosen)) seeds.insert(seed);
        bool ok = !seeds.empty();
        for (size_t c = 0; c < n_targets && ok; ++c) {
          auto b = load_boot_set(store, groups_of(*chosen[c], seeds), t.columns[c], classes);
          if (!b)
            ok = false;
          else
            all.push_back(std::move(*b));
        }
        if (ok)
          if (auto ci = bootstrap(all, classes, metric, opt.bootstrap, base + n_targets)) {
            r.values[n_targets].ci_low = ci->first;
            r.values[n_targets].ci_high = ci->second;
          }
      }
    }
    t.selected.push_back(r);
  }

  // Bold: the best selected mean per column, only when a paired t-test over the seeds says it is above the
  // runner-up (p < 0.05); otherwise "‡" (ties: every tied row, unconfirmed).
  for (size_t c = 0; c < t.columns.size(); ++c) {
    std::optional<double> best;
    for (const Row& r : t.selected)
      if (r.values[c].mean && (!best || *r.values[c].mean > *best)) best = r.values[c].mean;
    if (!best) continue;
    std::vector<Row*> top;
    const Row* runner_up = nullptr;
    for (Row& r : t.selected) {
      const auto& m = r.values[c].mean;
      if (!m) continue;
      if (*m == *best)
        top.push_back(&r);
      else if (!runner_up || *m > *runner_up->values[c].mean)
        runner_up = &r;
    }
    if (top.size() == 1 && !runner_up) {  // one method: nothing to be confused with
      top[0]->values[c].best = true;
      continue;
    }
    if (top.size() > 1) {
      for (Row* r : top) r->values[c].best_unconfirmed = true;
      continue;
    }
    Estimate& e = top[0]->values[c];
    std::vector<double> xa, xb;
    for (const auto& [seed, v] : e.by_seed) {
      const auto it = runner_up->values[c].by_seed.find(seed);
      if (it == runner_up->values[c].by_seed.end()) continue;
      xa.push_back(v);
      xb.push_back(it->second);
    }
    const stats::PairedT pt = stats::paired_t(xa, xb, 0.95);
    e.best_p = pt.p;
    if (pt.p && *pt.p < 0.05 && pt.mean_difference > 0)
      e.best = true;
    else
      e.best_unconfirmed = true;
  }

  // Reference rows from the first group with per-class counts.
  if (!groups.empty()) add_references(store, *groups.front(), t, per_target, t.datasets);
}

std::vector<Metric> metrics_of(const Options& opt) {
  return opt.metrics.empty() ? std::vector<Metric>{opt.metric} : opt.metrics;
}

// Interleaves the values of `other` (the same groups, built for metric number m) into t, whose rows hold m
// metrics so far: values become column-major (Table::value_index). Selection is by source-validation UF1 for
// every metric, so the rows and the chosen points must agree; a mismatch is a bug, not bad input.
void add_metric(Table& t, const Table& other, size_t m) {
  auto merge = [&](std::vector<Row>& rows, const std::vector<Row>& more, const char* what) {
    if (rows.size() != more.size())
      throw std::logic_error(std::string("leaderboard: ") + what + " rows differ by metric");
    for (size_t i = 0; i < rows.size(); ++i) {
      Row& r = rows[i];
      const Row& o = more[i];
      if (!(r.method == o.method) || r.point.has_value() != o.point.has_value() ||
          (r.point && r.point->point_hash != o.point->point_hash))
        throw std::logic_error(std::string("leaderboard: ") + what + " rows differ by metric");
      std::vector<Estimate> values;
      for (size_t c = 0; c < t.columns.size(); ++c) {
        for (size_t k = 0; k < m; ++k) values.push_back(r.values[c * m + k]);
        const Estimate& e = o.values[c];
        const Estimate& first = r.values[c * m];
        if (first.point.has_value() != e.point.has_value() ||
            (first.point && first.point->point_hash != e.point->point_hash))
          throw std::logic_error("leaderboard: the sweep point chosen for " + r.method.label() + ", " +
                                 t.columns[c] + " differs by metric");
        values.push_back(e);
      }
      r.values = std::move(values);
      r.few_seeds = r.few_seeds || o.few_seeds;
    }
  };
  merge(t.selected, other.selected, "selected");
  merge(t.all_points, other.all_points, "all-points");
  for (size_t i = 0; i < t.references.size() && i < other.references.size(); ++i) {
    std::vector<std::optional<double>> values;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      for (size_t k = 0; k < m; ++k) values.push_back(t.references[i].values[c * m + k]);
      values.push_back(other.references[i].values[c]);
    }
    t.references[i].values = std::move(values);
  }
}

}  // namespace

std::vector<Metric> parse_metrics(const std::string& list) {
  std::vector<Metric> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    const std::string name =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const Metric m = parse_metric(name);
    if (std::find(out.begin(), out.end(), m) != out.end())
      throw UserError("metric '" + name + "' listed twice in '" + list + "'");
    out.push_back(m);
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::vector<Metric> Table::shown_metrics() const {
  return metrics.empty() ? std::vector<Metric>{metric} : metrics;
}

size_t Table::value_index(size_t column, size_t metric_number) const {
  return column * shown_metrics().size() + metric_number;
}

std::string Table::datasets_json() const {
  return json(datasets).dump();
}

Metric parse_metric(const std::string& name) {
  if (name == "uf1") return Metric::UF1;
  if (name == "uar") return Metric::UAR;
  if (name == "acc" || name == "accuracy") return Metric::Accuracy;
  throw UserError("unknown metric '" + name + "'; use uf1, uar or acc");
}

const char* to_string(Metric m) {
  return m == Metric::UF1 ? "uf1" : m == Metric::UAR ? "uar" : "acc";
}

std::string MethodKey::identity() const {
  std::string s = backbone + " + " + regularizer + " + " + augmenter;
  if (!variant.empty()) s += " [" + variant + "]";
  return s;
}
std::string MethodKey::label() const {
  return variant_label.empty() ? identity() : variant_label;
}
bool MethodKey::operator<(const MethodKey& o) const {
  // Per backbone, the plain method first (regularizer and augmenter `none`: ERM), then by name.
  const bool reg = regularizer != "none", aug = augmenter != "none";
  const bool o_reg = o.regularizer != "none", o_aug = o.augmenter != "none";
  return std::tie(backbone, reg, regularizer, aug, augmenter, variant) <
         std::tie(o.backbone, o_reg, o.regularizer, o_aug, o.augmenter, o.variant);
}
bool MethodKey::operator==(const MethodKey& o) const {
  return std::tie(backbone, regularizer, augmenter, variant) ==
         std::tie(o.backbone, o.regularizer, o.augmenter, o.variant);
}

std::string PointRef::label() const {
  std::string s = "#" + std::to_string(point_index);
  if (assignments.is_object())
    for (const auto& [k, v] : assignments.items())
      s += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return s;
}

ReferenceValues reference_values(
    const std::vector<std::pair<std::vector<double>, std::vector<double>>>& folds, bool random) {
  ReferenceValues out;
  if (folds.empty()) return out;
  const size_t k = folds[0].first.size();
  // Expected confusion counts summed over folds: E[C_tp] = test_t * q_p (random), or test_t at the fold's
  // majority training class (majority).
  std::vector<std::vector<double>> conf(k, std::vector<double>(k, 0.0));
  for (const auto& [test, train] : folds) {
    if (test.size() != k || train.size() != k)
      throw std::invalid_argument("reference_values: every fold needs one count per class");
    const double n_train = std::accumulate(train.begin(), train.end(), 0.0);
    if (n_train <= 0) return out;  // training counts unknown / empty: undefined
    const size_t maj = static_cast<size_t>(std::max_element(train.begin(), train.end()) - train.begin());
    for (size_t t = 0; t < k; ++t)
      for (size_t p = 0; p < k; ++p)
        conf[t][p] += random ? test[t] * train[p] / n_train : (p == maj ? test[t] : 0.0);
  }
  double n = 0, diag = 0;
  for (size_t t = 0; t < k; ++t)
    for (size_t p = 0; p < k; ++p) {
      n += conf[t][p];
      if (t == p) diag += conf[t][p];
    }
  if (n <= 0) return out;
  // The same definitions as metrics.h, on (expected) counts: F1_c = 2 TP / (2 TP + FP + FN) over classes
  // with samples or predictions; recall over classes with samples.
  double f1_sum = 0, rec_sum = 0;
  int f1_n = 0, rec_n = 0;
  for (size_t c = 0; c < k; ++c) {
    double support = 0, predicted = 0;
    for (size_t j = 0; j < k; ++j) {
      support += conf[c][j];
      predicted += conf[j][c];
    }
    const double tp = conf[c][c];
    if (support > 0 || predicted > 0) {
      f1_sum += 2 * tp / (support + predicted);  // 2TP + FP + FN = n_c + p_c
      ++f1_n;
    }
    if (support > 0) {
      rec_sum += tp / support;
      ++rec_n;
    }
  }
  out.uf1 = f1_n ? std::optional<double>(f1_sum / f1_n) : std::nullopt;
  out.uar = rec_n ? std::optional<double>(rec_sum / rec_n) : std::nullopt;
  out.accuracy = diag / n;
  return out;
}

VariantLabels variant_labels(const Store& store) {
  VariantLabels labels;
  store.query("SELECT name, json_extract(spec_json, '$.sweep.variants') FROM experiments ORDER BY id", {},
              [&](const std::vector<SqlValue>& r) {
                std::map<std::string, std::string>& of = labels[text(r[0])];
                of.clear();  // a newer spec of this name replaces the older labels
                const json variants = json::parse(text(r[1]), nullptr, false);
                if (!variants.is_array()) return;
                for (const auto& v : variants)
                  if (v.is_object() && v.contains("name") && v["name"].is_string() && v.contains("label") &&
                      v["label"].is_string())
                    of[v["name"].get<std::string>()] = v["label"].get<std::string>();
              });
  return labels;
}

Leaderboard build(const Store& store, const Options& opt) {
  std::vector<GroupInfo> groups;
  std::map<int64_t, size_t> index;
  std::vector<SqlValue> exp_param = {opt.experiment ? SqlValue(*opt.experiment) : SqlValue()};
  store.query(
      "SELECT g.id, e.name, g.point_index, g.variant, g.point_hash, g.assignments_json, g.seed, g.protocol, "
      "IFNULL(json_extract(e.spec_json, '$.protocol.params'), '{}'), g.datasets_json, "
      "(SELECT count(*) FROM cells c WHERE c.group_id = g.id), "
      "(SELECT count(*) FROM cells c WHERE c.group_id = g.id AND c.status = 'done'), "
      "(SELECT max(c.backbone_name) FROM cells c WHERE c.group_id = g.id), "
      "(SELECT max(c.regularizer_name) FROM cells c WHERE c.group_id = g.id), "
      "(SELECT max(c.augmenter_name) FROM cells c WHERE c.group_id = g.id), "
      "EXISTS (SELECT 1 FROM cells c WHERE c.group_id = g.id AND c.selection = 'oracle'), "
      "IFNULL(g.data_version, '') "
      "FROM groups g JOIN experiments e ON e.id = g.experiment_id "
      "WHERE ?1 IS NULL OR e.name = ?1 ORDER BY g.id",
      exp_param, [&](const std::vector<SqlValue>& r) {
        GroupInfo g;
        g.id = sql_integer(r[0]);
        g.experiment = text(r[1]);
        g.point.point_index = sql_integer(r[2]);
        g.method.variant = text(r[3]);
        g.point.point_hash = text(r[4]);
        g.point.assignments = json::parse(text(r[5]), nullptr, false);
        g.seed = sql_integer(r[6]);
        g.protocol = text(r[7]);
        g.protocol_params = text(r[8]);
        g.datasets_json = text(r[9]);
        g.cells = sql_integer(r[10]);
        g.done = sql_integer(r[11]);
        g.method.backbone = text(r[12]);
        g.method.regularizer = text(r[13]);
        g.method.augmenter = text(r[14]);
        g.oracle = sql_integer(r[15]) != 0;
        g.data_version = text(r[16]);
        index[g.id] = groups.size();
        groups.push_back(std::move(g));
      });
  if (groups.empty()) return {};

  const VariantLabels labels = variant_labels(store);
  for (GroupInfo& g : groups) {
    auto e = labels.find(g.experiment);
    if (e == labels.end()) continue;
    if (auto v = e->second.find(g.method.variant); v != e->second.end()) g.method.variant_label = v->second;
  }

  // Group-level values of each metric shown (whole-set rows at pooled / target scope).
  const std::vector<Metric> shown = metrics_of(opt);
  for (const Metric metric : shown)
    store.query(
        "SELECT group_id, scope, target, value FROM metrics INDEXED BY metrics_group_headline "
        "WHERE group_id IS NOT NULL AND class IS NULL AND name = ?1 AND scope IN ('pooled', 'target')",
        {std::string(metric_column(metric))}, [&](const std::vector<SqlValue>& r) {
          auto it = index.find(sql_integer(r[0]));
          if (it == index.end()) return;
          GroupInfo& g = groups[it->second];
          if (text(r[1]) == "pooled") {
            g.has_pooled = true;
            g.pooled_value[metric] = sql_real(r[3]);
          } else {
            g.target_value[metric][text(r[2])] = sql_real(r[3]);
          }
        });
  // Each done cell's source-validation score: its selection curve at the chosen epoch.
  store.query(
      "SELECT c.group_id, c.target, v.name, v.value FROM cells c "
      "JOIN curves v ON v.cell_id = c.id AND v.epoch = c.chosen_epoch "
      "AND v.name IN ('source_val_uf1', 'loo_source_uf1') WHERE c.status = 'done'",
      {}, [&](const std::vector<SqlValue>& r) {
        auto it = index.find(sql_integer(r[0]));
        const auto v = sql_real(r[3]);
        if (it == index.end() || !v) return;
        GroupInfo& g = groups[it->second];
        g.scores[text(r[1])].push_back(*v);
        g.all_scores.push_back(*v);
      });

  // Blocks.
  std::map<BlockKey, std::vector<const GroupInfo*>> blocks;
  std::map<BlockKey, std::pair<int64_t, int64_t>> unfinished;  // groups not finished, groups without metrics
  for (const GroupInfo& g : groups) {
    if (g.oracle && !opt.oracle) continue;
    BlockKey key{g.oracle, g.protocol, g.protocol_params, g.datasets_json, g.data_version};
    if (g.cells == 0 || g.done < g.cells) {
      ++unfinished[key].first;
      continue;
    }
    if (!g.has_pooled) {
      ++unfinished[key].second;
      continue;
    }
    blocks[key].push_back(&g);
  }
  // Data versions: one per (protocol, datasets) family unless all are asked for; never pooled.
  if (!opt.data_version.empty() && opt.data_version != "all") {
    std::set<std::string> have, match;
    for (const GroupInfo& g : groups) have.insert(g.data_version);
    for (const auto& v : have)
      if (!v.empty() && v.rfind(opt.data_version, 0) == 0) match.insert(v);
    if (match.size() != 1) {
      std::string list;
      for (const auto& v : have) list += (list.empty() ? "" : ", ") + short_version(v);
      throw UserError("--data-version " + opt.data_version + ": " +
                      (match.empty() ? "no group has this data version"
                                     : "matches " + std::to_string(match.size()) + " data versions") +
                      " (data versions in the database: " + (list.empty() ? "none" : list) + ")");
    }
  }
  std::map<BlockKey, std::vector<std::string>> version_notes;  // by chosen block
  if (opt.data_version != "all") {
    std::map<BlockKey, std::vector<BlockKey>> families;
    for (const auto& [key, members] : blocks) families[key.family()].push_back(key);
    for (const auto& [family, keys] : families) {
      auto newest = [&](const BlockKey& k) {
        int64_t id = 0;
        for (const GroupInfo* g : blocks.at(k)) id = std::max(id, g->id);
        return id;
      };
      const BlockKey* chosen = nullptr;
      std::string why;
      for (const auto& k : keys) {
        if (!opt.data_version.empty() ? k.data_version.rfind(opt.data_version, 0) == 0 && !k.data_version.empty()
                                      : k.data_version == opt.current_data_version &&
                                            !opt.current_data_version.empty())
          chosen = &k;
      }
      if (!chosen && !opt.data_version.empty()) {  // the asked version is not in this family: drop it whole
        for (const auto& k : keys) blocks.erase(k);
        continue;
      }
      if (chosen) {
        why = opt.data_version.empty() ? "the data the spec loads now" : "asked for with --data-version";
      } else {
        for (const auto& k : keys)
          if (!chosen || newest(k) > newest(*chosen)) chosen = &k;
        why = "the newest";
        if (!opt.current_data_version.empty())
          why += "; the data the spec loads now (" + short_version(opt.current_data_version) +
                 ") has no finished groups in this table yet";
      }
      if (keys.size() > 1) {
        std::string others;
        for (const auto& k : keys)
          if (&k != chosen)
            others += (others.empty() ? "" : ", ") + short_version(k.data_version) + " (" +
                      std::to_string(blocks.at(k).size()) + " group(s))";
        version_notes[*chosen].push_back(
            "data version " + short_version(chosen->data_version) + " shown (" + why +
            "); results on other data versions of these datasets exist and are not pooled: " + others +
            "; --data-version VERSION or all shows them");
      }
      const BlockKey keep = *chosen;
      for (const auto& k : keys)
        if (k.data_version != keep.data_version) blocks.erase(k);
    }
  }
  Leaderboard lb;
  for (const auto& [key, members] : blocks) {
    Table t;
    t.data_version = key.data_version;
    t.protocol = key.protocol;
    t.oracle = key.oracle;
    t.metric = shown.front();
    t.metrics = shown;
    const json ds = json::parse(key.datasets_json, nullptr, false);
    if (ds.is_array())
      for (const auto& d : ds)
        if (d.is_string()) t.datasets.push_back(d.get<std::string>());
    const json params = json::parse(key.protocol_params, nullptr, false);
    if (params.is_object() && !params.empty()) t.protocol_params = params;
    std::set<std::string> names;
    for (const GroupInfo* g : members) names.insert(g->experiment);
    t.experiments.assign(names.begin(), names.end());
    if (auto it = unfinished.find(key); it != unfinished.end()) {
      if (it->second.first)
        t.notes.push_back(std::to_string(it->second.first) + " group(s) with cells not done are not shown");
      if (it->second.second)
        t.notes.push_back(std::to_string(it->second.second) +
                          " finished group(s) without group metrics are not shown (run merx db recompute)");
    }
    for (const auto& n : version_notes[key]) t.notes.push_back(n);
    const Table base = t;
    build_table(store, opt, members, t);
    for (size_t m = 1; m < shown.size(); ++m) {
      Table other = base;
      other.metric = shown[m];
      build_table(store, opt, members, other);
      add_metric(t, other, m);
    }
    lb.tables.push_back(std::move(t));
  }
  return lb;
}

}  // namespace merx::leaderboard
