// Paired comparison of methods (merx/compare/compare.h).
#include "merx/compare/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include <random>

#include "merx/errors.h"
#include "merx/metrics/metrics.h"

namespace merx::compare {
namespace {

std::string str(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "";
}
int64_t num(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}

/// A finished group as the comparison sees it.
struct GroupInfo {
  int64_t id = 0;
  std::string experiment, variant, point_hash, protocol, datasets_json;
  int64_t point_index = 0, seed = 0;
  nlohmann::json assignments;
  leaderboard::MethodKey method;
  std::map<std::string, double> values;  // target -> metric value (defined ones)
};

const char* metric_row_name(leaderboard::Metric m) {
  switch (m) {
    case leaderboard::Metric::UF1:
      return "uf1";
    case leaderboard::Metric::UAR:
      return "uar";
    default:
      return "accuracy";
  }
}

std::vector<GroupInfo> load_groups(const Store& store, const Options& opt) {
  std::vector<GroupInfo> groups;
  store.query(
      "SELECT g.id, e.name, g.variant, g.point_index, g.point_hash, g.assignments_json, g.seed, g.protocol, "
      "g.datasets_json, "
      "(SELECT count(*) FROM cells c WHERE c.group_id = g.id), "
      "(SELECT count(*) FROM cells c WHERE c.group_id = g.id AND c.status = 'done'), "
      "(SELECT count(*) FROM cells c WHERE c.group_id = g.id AND c.selection = 'oracle'), "
      "(SELECT IFNULL(c.backbone_name, '') || char(31) || IFNULL(c.regularizer_name, '') || char(31) || "
      "        IFNULL(c.augmenter_name, '') FROM cells c WHERE c.group_id = g.id AND c.status = 'done' "
      "        ORDER BY c.id LIMIT 1) "
      "FROM groups g JOIN experiments e ON e.id = g.experiment_id "
      "WHERE ?1 IS NULL OR e.name = ?1 ORDER BY g.id",
      {opt.experiment ? SqlValue(*opt.experiment) : SqlValue()}, [&](const std::vector<SqlValue>& r) {
        if (num(r[9]) == 0 || num(r[10]) != num(r[9]) || num(r[11]) > 0) return;  // unfinished or oracle
        GroupInfo g;
        g.id = num(r[0]);
        g.experiment = str(r[1]);
        g.variant = str(r[2]);
        g.point_index = num(r[3]);
        g.point_hash = str(r[4]);
        g.assignments = nlohmann::json::parse(str(r[5]), nullptr, false);
        g.seed = num(r[6]);
        g.protocol = str(r[7]);
        g.datasets_json = nlohmann::json::parse(str(r[8]), nullptr, false).dump();
        std::istringstream plugins(str(r[12]));
        std::getline(plugins, g.method.backbone, '\x1f');
        std::getline(plugins, g.method.regularizer, '\x1f');
        std::getline(plugins, g.method.augmenter, '\x1f');
        g.method.variant = g.variant;
        groups.push_back(std::move(g));
      });
  for (auto& g : groups)
    store.query(
        "SELECT target, value FROM metrics WHERE group_id = ?1 AND scope = 'target' AND name = ?2 AND class "
        "IS NULL "
        "AND value IS NOT NULL",
        {g.id, std::string(metric_row_name(opt.metric))},
        [&](const std::vector<SqlValue>& r) { g.values[str(r[0])] = std::get<double>(r[1]); });
  return groups;
}

bool value_matches(const nlohmann::json& have, const std::string& want) {
  if (have.is_string()) return have.get<std::string>() == want;
  const nlohmann::json w = nlohmann::json::parse(want, nullptr, false);
  if (w.is_discarded()) return false;
  if (have.is_number() && w.is_number()) return have.get<double>() == w.get<double>();
  return have == w;
}

bool matches(const GroupInfo& g, const Selector& s) {
  for (const auto& [k, v] : s.terms) {
    bool ok;
    if (k.empty())
      ok = g.variant == v || g.experiment == v;
    else if (k == "experiment")
      ok = g.experiment == v;
    else if (k == "variant")
      ok = g.variant == v;
    else if (k == "backbone")
      ok = g.method.backbone == v;
    else if (k == "regularizer")
      ok = g.method.regularizer == v;
    else if (k == "augmenter")
      ok = g.method.augmenter == v;
    else if (k == "point")
      ok = std::to_string(g.point_index) == v;
    else
      ok = g.assignments.is_object() && g.assignments.contains(k) && value_matches(g.assignments[k], v);
    if (!ok) return false;
  }
  return true;
}

std::string datasets_text(const std::string& json) {
  std::string s;
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_array())
    for (const auto& d : j) s += (s.empty() ? "" : ", ") + (d.is_string() ? d.get<std::string>() : d.dump());
  return "[" + s + "]";
}

/// One side resolved: unit (target, seed) -> value, and its protocol / dataset list.
struct Side {
  std::string text, protocol, datasets_json;
  std::set<std::string> methods, experiments;
  std::map<std::pair<std::string, int64_t>, double> values;
  std::map<std::pair<std::string, int64_t>, int64_t> group_of;  // unit -> the group that measured it
  std::vector<std::string> notes;
};

Side resolve(const Selector& sel, const std::vector<GroupInfo>& all, const Store& store, const Options& opt,
             std::optional<leaderboard::Leaderboard>& lb) {
  Side side;
  side.text = sel.text;
  std::vector<const GroupInfo*> gs;
  for (const auto& g : all)
    if (matches(g, sel)) gs.push_back(&g);
  if (gs.empty())
    throw UserError("compare: `" + sel.text + "` matches no group whose cells are all done" +
                    (opt.experiment ? " in experiment " + *opt.experiment : std::string()) +
                    " (see `merx db ls` for experiments, variants and sweep points)");
  std::set<std::pair<std::string, std::string>> runs;
  for (const auto* g : gs) {
    runs.insert({g->protocol, g->datasets_json});
    side.methods.insert(g->method.label());
    side.experiments.insert(g->experiment);
  }
  if (runs.size() > 1) {
    std::string list;
    for (const auto& [p, d] : runs) list += (list.empty() ? "" : "; ") + p + " on " + datasets_text(d);
    throw UserError("compare: `" + sel.text + "` matches runs of different protocols or dataset lists (" +
                    list + "); narrow it, e.g. with experiment=NAME");
  }
  side.protocol = runs.begin()->first;
  side.datasets_json = runs.begin()->second;
  // Several sweep points of one method: keep, per target, the point the leaderboard selects by source
  // validation.
  std::map<leaderboard::MethodKey, std::set<std::string>> points;
  for (const auto* g : gs) points[g->method].insert(g->point_hash);
  std::map<std::pair<leaderboard::MethodKey, std::string>, std::string> chosen;  // (method, target) -> point
  for (const auto& [m, ps] : points) {
    if (ps.size() < 2) continue;
    if (!lb) {
      leaderboard::Options lo;
      lo.experiment = opt.experiment;
      lo.metric = opt.metric;
      lb = leaderboard::build(store, lo);
    }
    for (const auto& t : lb->tables) {
      if (t.oracle || t.protocol != side.protocol || nlohmann::json(t.datasets).dump() != side.datasets_json)
        continue;
      for (const auto& row : t.selected) {
        if (!(row.method == m)) continue;
        for (std::size_t c = 0; c < t.columns.size() && c < row.values.size(); ++c)
          if (row.values[c].point) {
            chosen[{m, t.columns[c]}] = row.values[c].point->point_hash;
            side.notes.push_back("`" + sel.text + "`, " + m.label() + ", target " + t.columns[c] +
                                 ": sweep point " + row.values[c].point->label() +
                                 " (selected by source validation)");
          }
      }
    }
  }
  std::map<std::pair<std::string, int64_t>, const GroupInfo*> owner;
  for (const auto* g : gs) {
    const bool swept = points[g->method].size() > 1;
    for (const auto& [target, value] : g->values) {
      // A group's "pooled" column in the leaderboard covers all its targets (pooled protocols).
      if (swept) {
        auto it = chosen.find({g->method, target});
        if (it == chosen.end()) it = chosen.find({g->method, "pooled"});
        if (it == chosen.end()) {
          throw UserError("compare: `" + sel.text + "` matches several sweep points of " + g->method.label() +
                          " and none is selected by source validation for target " + target +
                          " (training.selection = last?); pick one with point=N");
        }
        if (it->second != g->point_hash) continue;
      }
      const auto key = std::make_pair(target, g->seed);
      const auto [it, fresh] = owner.emplace(key, g);
      if (!fresh)
        throw UserError("compare: `" + sel.text + "` matches two runs for target " + target + ", seed " +
                        std::to_string(g->seed) + ": " + it->second->method.label() + " (experiment " +
                        it->second->experiment + ", point " + std::to_string(it->second->point_index) +
                        ") and " + g->method.label() + " (experiment " + g->experiment + ", point " +
                        std::to_string(g->point_index) + "); narrow the selector");
      side.values[key] = value;
      side.group_of[key] = g->id;
    }
  }
  return side;
}

Comparison pair_up(const Side& a, const Side& b, const Options& opt) {
  if (a.protocol != b.protocol || a.datasets_json != b.datasets_json)
    throw UserError("compare: refusing to pair `" + a.text + "` (" + a.protocol + " on " +
                    datasets_text(a.datasets_json) + ") with `" + b.text + "` (" + b.protocol + " on " +
                    datasets_text(b.datasets_json) +
                    "): runs of different protocols or dataset lists are not paired samples");
  Comparison c;
  c.a = a.text;
  c.b = b.text;
  c.a_methods.assign(a.methods.begin(), a.methods.end());
  c.b_methods.assign(b.methods.begin(), b.methods.end());
  c.protocol = a.protocol;
  for (const auto& d : nlohmann::json::parse(a.datasets_json)) c.datasets.push_back(d.get<std::string>());
  for (const auto& [k, v] : a.values) {
    const auto it = b.values.find(k);
    if (it == b.values.end()) {
      ++c.only_a;
      continue;
    }
    c.pairs.push_back({k.first, k.second, v, it->second});
  }
  for (const auto& [k, v] : b.values) c.only_b += a.values.count(k) == 0;
  if (c.pairs.empty())
    throw UserError("compare: `" + a.text + "` and `" + b.text + "` share no (target, seed) unit to pair");
  c.unit = opt.unit;
  std::vector<double> xa, xb;
  if (opt.unit == Unit::TargetSeed) {
    for (const auto& p : c.pairs) {
      xa.push_back(p.a);
      xb.push_back(p.b);
    }
  } else {
    // Per seed: the mean over the targets, for the seeds measured on every target by both sides.
    std::set<std::string> targets;
    std::map<int64_t, std::vector<const Pair*>> by_seed;
    for (const auto& p : c.pairs) {
      targets.insert(p.target);
      by_seed[p.seed].push_back(&p);
    }
    std::vector<int64_t> incomplete;
    for (const auto& [seed, ps] : by_seed) {
      if (ps.size() != targets.size()) {
        incomplete.push_back(seed);
        continue;
      }
      SeedPair sp{seed, 0, 0, ps.size()};
      for (const Pair* p : ps) {
        sp.a += p->a / static_cast<double>(ps.size());
        sp.b += p->b / static_cast<double>(ps.size());
      }
      c.seed_pairs.push_back(sp);
      xa.push_back(sp.a);
      xb.push_back(sp.b);
    }
    if (!incomplete.empty()) {
      std::string list;
      for (int64_t s : incomplete) list += (list.empty() ? "" : ", ") + std::to_string(s);
      c.notes.push_back("seed" + std::string(incomplete.size() == 1 ? " " : "s ") + list +
                        " not measured on every target by both sides: left out of the seed-unit tests");
    }
    if (c.seed_pairs.empty())
      throw UserError("compare: `" + a.text + "` and `" + b.text +
                      "` share no seed measured on every target; use --unit target_seed");
  }
  c.t = stats::paired_t(xa, xb, opt.confidence);
  c.wilcoxon = stats::wilcoxon_signed_rank(xa, xb);
  c.notes.insert(c.notes.end(), a.notes.begin(), a.notes.end());
  c.notes.insert(c.notes.end(), b.notes.begin(), b.notes.end());
  if (c.only_a || c.only_b)
    c.notes.push_back(std::to_string(c.only_a + c.only_b) + " (target, seed) unit" +
                      (c.only_a + c.only_b == 1 ? "" : "s") + " measured on one side only, left out (" +
                      std::to_string(c.only_a) + " only in `" + a.text + "`, " + std::to_string(c.only_b) +
                      " only in `" + b.text + "`)");
  return c;
}

// ---- the paired subject-clustered bootstrap (merx/compare/compare.h, Bootstrap) ----

std::optional<double> metric_of(const metrics::Confusion& c, leaderboard::Metric m) {
  switch (m) {
    case leaderboard::Metric::UF1:
      return metrics::uf1(c);
    case leaderboard::Metric::UAR:
      return metrics::uar(c);
    default:
      return metrics::accuracy(c);
  }
}

// Linear interpolation between order statistics (numpy's default percentile method), q in [0, 1].
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Bootstrap clustered_bootstrap(const Store& store, const Side& a, const Side& b, const Comparison& c,
                              const Options& opt) {
  Bootstrap out;
  out.resamples = opt.bootstrap;
  // The seeds measured on every target by both sides (as the seed unit uses).
  std::set<std::string> target_set;
  std::map<int64_t, std::size_t> per_seed;
  for (const auto& p : c.pairs) {
    target_set.insert(p.target);
    ++per_seed[p.seed];
  }
  std::vector<int64_t> seeds;
  for (const auto& [seed, n] : per_seed)
    if (n == target_set.size()) seeds.push_back(seed);
  const std::vector<std::string> targets(target_set.begin(), target_set.end());
  if (seeds.empty()) {
    out.reason = "no seed measured on every target by both sides";
    return out;
  }
  // Predictions per (side, seed, target): sample key -> (true, predicted) class names.
  using Preds = std::map<std::string, std::pair<std::string, std::string>>;
  auto load = [&](int64_t group, const std::string& target) {
    Preds p;
    store.query(
        "SELECT p.sample_key, p.true_class, p.predicted_class FROM predictions p JOIN cells c ON c.id = "
        "p.cell_id WHERE c.group_id = ?1 AND c.status = 'done' AND substr(p.sample_key, 1, length(?2) + 1) "
        "= ?2 || '/'",
        {group, target}, [&](const std::vector<SqlValue>& r) { p[str(r[0])] = {str(r[1]), str(r[2])}; });
    return p;
  };
  struct TargetData {
    std::vector<std::vector<std::size_t>> subject_clips;  // per subject: indices into the clip list
    // [side][seed] -> per clip (true, predicted) class index
    std::vector<std::vector<std::vector<std::pair<int, int>>>> pred;
    std::vector<std::string> classes;
  };
  std::vector<TargetData> data;
  for (const auto& t : targets) {
    std::vector<std::vector<Preds>> raw(2);
    for (int side = 0; side < 2; ++side)
      for (int64_t seed : seeds) raw[side].push_back(load((side == 0 ? a : b).group_of.at({t, seed}), t));
    // The clips every (side, seed) predicted; a mismatch is left out and said.
    std::set<std::string> keys;
    for (const auto& [k, v] : raw[0][0]) keys.insert(k);
    std::size_t dropped = 0;
    for (const auto& side : raw)
      for (const auto& p : side)
        for (auto it = keys.begin(); it != keys.end();)
          if (p.count(*it) == 0) {
            it = keys.erase(it);
            ++dropped;
          } else {
            ++it;
          }
    if (keys.empty()) {
      out.reason = "no stored per-sample predictions for target " + t + " on both sides";
      return out;
    }
    out.clips_left_out += dropped;  // not predicted by every run: the others are used
    TargetData td;
    std::set<std::string> cls;
    for (const auto& side : raw)
      for (const auto& p : side)
        for (const auto& k : keys) {
          cls.insert(p.at(k).first);
          cls.insert(p.at(k).second);
        }
    td.classes.assign(cls.begin(), cls.end());
    auto index = [&](const std::string& name) {
      return static_cast<int>(std::lower_bound(td.classes.begin(), td.classes.end(), name) - td.classes.begin());
    };
    std::map<std::string, std::vector<std::size_t>> by_subject;
    std::vector<std::string> clip_list(keys.begin(), keys.end());
    for (std::size_t i = 0; i < clip_list.size(); ++i) {
      const std::string& k = clip_list[i];
      const auto second = k.find('/', k.find('/') + 1);
      by_subject[k.substr(0, second)].push_back(i);
    }
    for (auto& [subject, clips] : by_subject) td.subject_clips.push_back(clips);
    td.pred.resize(2);
    for (int side = 0; side < 2; ++side)
      for (const auto& p : raw[side]) {
        std::vector<std::pair<int, int>> v;
        for (const auto& k : clip_list) v.emplace_back(index(p.at(k).first), index(p.at(k).second));
        td.pred[side].push_back(std::move(v));
      }
    out.subjects += td.subject_clips.size();
    out.clips += clip_list.size();
    data.push_back(std::move(td));
  }
  // A - B for clip multiplicities `weight[t][clip]`: mean over seeds of (target mean of A - of B).
  auto difference = [&](const std::vector<std::vector<int64_t>>& weight) {
    double total = 0;
    for (std::size_t s = 0; s < seeds.size(); ++s) {
      double side_mean[2] = {0, 0};
      for (int side = 0; side < 2; ++side)
        for (std::size_t t = 0; t < data.size(); ++t) {
          metrics::Confusion conf = metrics::Confusion::empty(data[t].classes);
          const auto& pv = data[t].pred[side][s];
          for (std::size_t i = 0; i < pv.size(); ++i)
            if (weight[t][i] > 0) conf.add(pv[i].first, pv[i].second, weight[t][i]);
          side_mean[side] += metric_of(conf, opt.metric).value_or(0.0) / static_cast<double>(data.size());
        }
      total += side_mean[0] - side_mean[1];
    }
    return total / static_cast<double>(seeds.size());
  };
  std::vector<std::vector<int64_t>> w(data.size());
  for (std::size_t t = 0; t < data.size(); ++t) w[t].assign(data[t].pred[0][0].size(), 1);
  out.observed = difference(w);
  // Our own 53-bit uniform over mt19937_64 (fully specified), so resamples are the same on every platform.
  std::mt19937_64 gen(opt.bootstrap_seed ^ 0x626f6f7473747261ULL);  // "bootstra"
  std::vector<double> diffs;
  diffs.reserve(static_cast<std::size_t>(opt.bootstrap));
  for (int64_t r = 0; r < opt.bootstrap; ++r) {
    for (std::size_t t = 0; t < data.size(); ++t) {
      std::fill(w[t].begin(), w[t].end(), 0);
      const std::size_t n = data[t].subject_clips.size();
      for (std::size_t k = 0; k < n; ++k) {
        const double u = static_cast<double>(gen() >> 11) * (1.0 / 9007199254740992.0);
        const std::size_t pick = std::min(n - 1, static_cast<std::size_t>(u * static_cast<double>(n)));
        for (std::size_t clip : data[t].subject_clips[pick]) ++w[t][clip];
      }
    }
    diffs.push_back(difference(w));
  }
  std::size_t not_positive = 0;
  double sum = 0;
  for (double d : diffs) {
    sum += d;
    not_positive += d <= 0;
  }
  std::sort(diffs.begin(), diffs.end());
  out.mean = sum / static_cast<double>(diffs.size());
  out.ci_low = quantile(diffs, (1 - opt.confidence) / 2);
  out.ci_high = quantile(diffs, 1 - (1 - opt.confidence) / 2);
  out.share_not_positive = static_cast<double>(not_positive) / static_cast<double>(diffs.size());
  return out;
}

std::string fmt(const std::optional<double>& v, const char* f = "%.4f") {
  if (!v) return "-";
  if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
  char buf[48];
  std::snprintf(buf, sizeof buf, f, *v);
  return buf;
}

std::string p_text(const std::optional<double>& p) {
  if (!p) return "-";
  return fmt(p, *p < 1e-4 ? "%.2e" : "%.4f");
}

nlohmann::json opt_json(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}

}  // namespace

Selector Selector::parse(const std::string& text) {
  Selector s;
  s.text = text;
  std::set<std::string> keys;
  std::istringstream in(text);
  std::string term;
  while (std::getline(in, term, ',')) {
    const auto eq = term.find('=');
    std::string k = eq == std::string::npos ? "" : term.substr(0, eq);
    std::string v = eq == std::string::npos ? term : term.substr(eq + 1);
    if (v.empty() || (eq != std::string::npos && k.empty()))
      throw UserError("compare: selector `" + text + "`: term `" + term +
                      "` is not KEY=VALUE or a variant/experiment name");
    if (!keys.insert(k).second)
      throw UserError("compare: selector `" + text + "` gives " +
                      (k.empty() ? "a bare name" : "`" + k + "`") + " twice");
    s.terms.emplace_back(std::move(k), std::move(v));
  }
  if (s.terms.empty()) throw UserError("compare: empty selector");
  return s;
}

namespace {

// Holm over the comparisons of one call (each test separately; m = the comparisons with a defined p).
void adjust_holm(std::vector<Comparison>& out) {
  if (out.size() < 2) return;
  std::vector<double> pt, pw;
  std::vector<std::size_t> it, iw;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].t.p) pt.push_back(*out[i].t.p), it.push_back(i);
    if (out[i].wilcoxon.p) pw.push_back(*out[i].wilcoxon.p), iw.push_back(i);
  }
  const auto ht = stats::holm(pt), hw = stats::holm(pw);
  for (std::size_t k = 0; k < it.size(); ++k) out[it[k]].t_p_holm = ht[k];
  for (std::size_t k = 0; k < iw.size(); ++k) out[iw[k]].wilcoxon_p_holm = hw[k];
}

// The finished groups a selector matches (empty for a selector that does not parse).
std::set<int64_t> matched_groups(const std::string& text, const std::vector<GroupInfo>& groups) {
  std::set<int64_t> ids;
  try {
    const Selector sel = Selector::parse(text);
    for (const auto& g : groups)
      if (matches(g, sel)) ids.insert(g.id);
  } catch (const UserError&) {
  }
  return ids;
}

// Says, per comparison, whether the experiments its groups come from declared it (an ad-hoc comparison
// beside a declared family is post hoc, and its unadjusted p-value overstates). A declared comparison
// matches when its selectors pick the same groups as the comparison's (so `variant=brl` is `brl`).
void note_declared(std::vector<Comparison>& out, const std::vector<std::pair<std::string, std::string>>& pairs,
                   const std::vector<std::set<std::string>>& experiments, const std::vector<GroupInfo>& groups,
                   const std::vector<Family>& families) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    Comparison& c = out[i];
    const auto a = matched_groups(pairs[i].first, groups), b = matched_groups(pairs[i].second, groups);
    for (const Family& f : families) {
      if (!experiments[i].count(f.experiment)) continue;
      const bool declared = std::any_of(f.comparisons.begin(), f.comparisons.end(), [&](const auto& d) {
        return matched_groups(d.first, groups) == a && matched_groups(d.second, groups) == b;
      });
      if (declared)
        c.notes.push_back("declared by experiment " + f.experiment + " as one of its " +
                          std::to_string(f.comparisons.size()) +
                          " comparisons; `--family` tests them all with Holm over the family");
      else
        c.notes.push_back("post hoc: not among the " + std::to_string(f.comparisons.size()) +
                          " comparisons experiment " + f.experiment +
                          " declares (`--family`); its p-value is not adjusted for them");
    }
  }
}

}  // namespace

std::vector<Comparison> compare_pairs(const Store& store,
                                      const std::vector<std::pair<std::string, std::string>>& pairs,
                                      const Options& options) {
  if (pairs.empty()) throw UserError("compare: no comparison to make");
  const std::vector<GroupInfo> groups = load_groups(store, options);
  std::optional<leaderboard::Leaderboard> lb;
  std::vector<Comparison> out;
  std::vector<std::set<std::string>> experiments;
  for (const auto& [as, bs] : pairs) {
    const Side a = resolve(Selector::parse(as), groups, store, options, lb);
    const Side b = resolve(Selector::parse(bs), groups, store, options, lb);
    out.push_back(pair_up(a, b, options));
    if (options.bootstrap > 0) out.back().bootstrap = clustered_bootstrap(store, a, b, out.back(), options);
    experiments.push_back(a.experiments);
    experiments.back().insert(b.experiments.begin(), b.experiments.end());
  }
  adjust_holm(out);
  if (!options.family) note_declared(out, pairs, experiments, groups, declared_families(store));
  return out;
}

std::vector<Comparison> compare(const Store& store, const std::vector<std::string>& sides,
                                const std::optional<std::string>& baseline, const Options& options) {
  if (!baseline && sides.size() != 2)
    throw UserError("compare: give two selectors (A B), or several with --vs BASELINE (got " +
                    std::to_string(sides.size()) + ")");
  if (baseline && sides.empty())
    throw UserError("compare: --vs needs at least one selector to compare with it");
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!baseline)
    pairs.emplace_back(sides[0], sides[1]);
  else
    for (const auto& s : sides) pairs.emplace_back(s, *baseline);
  return compare_pairs(store, pairs, options);
}

std::vector<Family> declared_families(const Store& store) {
  // The newest stored spec of each experiment name (a spec edited later is a new experiment row).
  std::map<std::string, Family> by_name;
  store.query(
      "SELECT name, json_extract(spec_json, '$.comparisons') FROM experiments ORDER BY id", {},
      [&](const std::vector<SqlValue>& r) {
        const std::string name = str(r[0]);
        const auto j = nlohmann::json::parse(str(r[1]), nullptr, false);
        Family f{name, {}};
        if (j.is_array())
          for (const auto& c : j)
            if (c.is_object() && c.contains("a") && c.contains("b") && c["a"].is_string() && c["b"].is_string())
              f.comparisons.emplace_back(c["a"].get<std::string>(), c["b"].get<std::string>());
        by_name[name] = std::move(f);
      });
  std::vector<Family> out;
  for (auto& [name, f] : by_name)
    if (!f.comparisons.empty()) out.push_back(std::move(f));
  return out;
}

std::vector<Comparison> compare_family(const Store& store, const Options& options) {
  const std::vector<Family> all = declared_families(store);
  const Family* f = nullptr;
  std::string names;
  for (const Family& x : all) {
    names += (names.empty() ? "" : ", ") + x.experiment;
    if (options.experiment && x.experiment == *options.experiment) f = &x;
  }
  if (options.experiment && !f)
    throw UserError("compare --family: experiment " + *options.experiment +
                    " declares no comparisons (its spec has no `comparisons`; experiments that do: " +
                    (names.empty() ? std::string("none") : names) + ")");
  if (!options.experiment) {
    if (all.empty())
      throw UserError("compare --family: no experiment in this database declares `comparisons` in its spec");
    if (all.size() > 1)
      throw UserError("compare --family: several experiments declare comparisons (" + names +
                      "); name one with --experiment");
    f = &all[0];
  }
  Options o = options;
  o.experiment = f->experiment;
  o.family = true;
  auto out = compare_pairs(store, f->comparisons, o);
  for (auto& c : out)
    c.notes.push_back("one of the " + std::to_string(out.size()) + " comparisons declared by experiment " +
                      f->experiment + " (its spec's `comparisons`): the Holm family");
  return out;
}

std::string render_text(const std::vector<Comparison>& cs, const Options& options) {
  std::ostringstream o;
  const std::string metric = leaderboard::to_string(options.metric);
  const int pct = static_cast<int>(std::lround(options.confidence * 100));
  for (std::size_t i = 0; i < cs.size(); ++i) {
    const Comparison& c = cs[i];
    if (i) o << "\n";
    auto methods = [](const std::vector<std::string>& m) {
      std::string s;
      for (const auto& x : m) s += (s.empty() ? "" : "; ") + x;
      return s;
    };
    o << "A = " << c.a << "  (" << methods(c.a_methods) << ")\n";
    o << "B = " << c.b << "  (" << methods(c.b_methods) << ")\n";
    std::string ds;
    for (const auto& d : c.datasets) ds += (ds.empty() ? "" : ", ") + d;
    o << "protocol " << c.protocol << " on " << ds << "; metric " << metric << "; " << c.pairs.size()
      << " (target, seed) values\n";
    if (c.unit == Unit::Seed)
      o << "paired unit: seed (the mean over " << (c.seed_pairs.empty() ? 0 : c.seed_pairs[0].targets)
        << " targets), n = " << c.seed_pairs.size() << " seeds\n\n";
    else
      o << "paired unit: (target, seed), n = " << c.pairs.size()
        << " -- NOT independent (targets share the training sources, seeds the data): descriptive only\n\n";
    char line[160];
    std::snprintf(line, sizeof line, "  %-16s %6s %9s %9s %9s\n", "TARGET", "SEED", "A", "B", "A - B");
    o << line;
    for (const auto& p : c.pairs) {
      std::snprintf(line, sizeof line, "  %-16s %6lld %9.4f %9.4f %+9.4f\n", p.target.c_str(),
                    static_cast<long long>(p.seed), p.a, p.b, p.a - p.b);
      o << line;
    }
    if (c.unit == Unit::Seed) {
      o << "\n";
      std::snprintf(line, sizeof line, "  %-16s %6s %9s %9s %9s\n", "TARGET MEAN", "SEED", "A", "B", "A - B");
      o << line;
      for (const auto& p : c.seed_pairs) {
        std::snprintf(line, sizeof line, "  %-16s %6lld %9.4f %9.4f %+9.4f\n", "", static_cast<long long>(p.seed),
                      p.a, p.b, p.a - p.b);
        o << line;
      }
    }
    o << "\n";
    const auto& t = c.t;
    o << "mean difference A - B: " << fmt(t.mean_difference, "%+.4f");
    if (t.ci_low)
      o << "  " << pct << " % CI [" << fmt(t.ci_low, "%+.4f") << ", " << fmt(t.ci_high, "%+.4f") << "]";
    o << "\n";
    o << "paired t-test:        ";
    if (t.p) {
      o << "t(" << fmt(t.df, "%.0f") << ") = " << fmt(t.t, "%.3f") << ", p = " << p_text(t.p);
      if (c.t_p_holm) o << ", Holm-adjusted p = " << p_text(c.t_p_holm);
    } else {
      o << "undefined (" << t.reason << ")";
    }
    o << "\n";
    const auto& w = c.wilcoxon;
    o << "Wilcoxon signed-rank: ";
    if (w.p) {
      o << "T = " << fmt(w.statistic, "%g") << ", n = " << w.n << " (" << w.n_zero << " zero difference"
        << (w.n_zero == 1 ? "" : "s") << " dropped), "
        << (w.exact ? "exact"
                    : "normal approximation" + std::string(w.ties ? ", tie-corrected" : "") +
                          ", z = " + fmt(w.z, "%.3f"))
        << ", p = " << p_text(w.p);
      if (c.wilcoxon_p_holm) o << ", Holm-adjusted p = " << p_text(c.wilcoxon_p_holm);
    } else {
      o << "undefined (" << w.reason << ")";
    }
    o << "\n";
    if (c.bootstrap) {
      const Bootstrap& bs = *c.bootstrap;
      o << "subject bootstrap:    ";
      if (!bs.reason.empty()) {
        o << "not computed (" << bs.reason << ")";
      } else {
        o << "A - B = " << fmt(bs.observed, "%+.4f") << ", " << pct << " % CI [" << fmt(bs.ci_low, "%+.4f")
          << ", " << fmt(bs.ci_high, "%+.4f") << "], share of resamples with A - B <= 0: "
          << fmt(bs.share_not_positive, "%.4f") << " (" << bs.resamples << " resamples of " << bs.subjects
          << " test subjects, " << bs.clips << " clips, paired: the same clips for A and B"
          << (bs.clips_left_out ? ", " + std::to_string(bs.clips_left_out) + " clips not predicted by every run left out" : "")
          << ")";
      }
      o << "\n";
    }
    for (const auto& n : c.notes) o << "note: " << n << "\n";
  }
  if (cs.size() > 1)
    o << "\nHolm correction over the " << cs.size() << " comparisons"
      << (options.family ? " the spec declared (its family)" : "") << " (each test separately).\n";
  if (!cs.empty() && cs[0].unit == Unit::TargetSeed)
    o << "\nnote: the pairs are seeds x targets of the same runs, not independent samples (seeds share the "
         "data, targets share the training sources); read the p-values as descriptive, not as a formal test.\n";
  else
    o << "\nnote: the unit is the seed; the seeds share the data, so the tests speak about training "
         "randomness on these corpora, not about other corpora. The subject bootstrap varies the test "
         "subjects instead.\n";
  return o.str();
}

nlohmann::json to_json(const std::vector<Comparison>& cs, const Options& options) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& c : cs) {
    nlohmann::json pairs = nlohmann::json::array();
    for (const auto& p : c.pairs)
      pairs.push_back({{"target", p.target}, {"seed", p.seed}, {"a", p.a}, {"b", p.b}});
    arr.push_back({{"a", c.a},
                   {"b", c.b},
                   {"a_methods", c.a_methods},
                   {"b_methods", c.b_methods},
                   {"protocol", c.protocol},
                   {"datasets", c.datasets},
                   {"pairs", pairs},
                   {"only_a", c.only_a},
                   {"only_b", c.only_b},
                   {"mean_difference", c.t.mean_difference},
                   {"ci_low", opt_json(c.t.ci_low)},
                   {"ci_high", opt_json(c.t.ci_high)},
                   {"t", opt_json(c.t.t)},
                   {"df", opt_json(c.t.df)},
                   {"t_p", opt_json(c.t.p)},
                   {"t_p_holm", opt_json(c.t_p_holm)},
                   {"wilcoxon_statistic", c.wilcoxon.statistic},
                   {"wilcoxon_n", c.wilcoxon.n},
                   {"wilcoxon_zeros", c.wilcoxon.n_zero},
                   {"wilcoxon_exact", c.wilcoxon.exact},
                   {"wilcoxon_p", opt_json(c.wilcoxon.p)},
                   {"wilcoxon_p_holm", opt_json(c.wilcoxon_p_holm)},
                   {"notes", c.notes}});
    nlohmann::json& j = arr.back();
    j["unit"] = c.unit == Unit::Seed ? "seed" : "target_seed";
    nlohmann::json sp = nlohmann::json::array();
    for (const auto& p : c.seed_pairs) sp.push_back({{"seed", p.seed}, {"a", p.a}, {"b", p.b}, {"targets", p.targets}});
    j["seed_pairs"] = sp;
    if (c.bootstrap) {
      const Bootstrap& bs = *c.bootstrap;
      j["bootstrap"] = bs.reason.empty()
                           ? nlohmann::json{{"resamples", bs.resamples},   {"subjects", bs.subjects},
                                            {"clips", bs.clips},           {"clips_left_out", bs.clips_left_out},
                                            {"observed", bs.observed},     {"mean", bs.mean},
                                            {"ci_low", bs.ci_low},         {"ci_high", bs.ci_high},
                                            {"share_not_positive", bs.share_not_positive}}
                           : nlohmann::json{{"reason", bs.reason}};
    } else {
      j["bootstrap"] = nullptr;
    }
  }
  return {{"metric", leaderboard::to_string(options.metric)},
          {"confidence", options.confidence},
          {"family", options.family},
          {"independence_note", cs.empty() || cs[0].unit == Unit::Seed
                                    ? "unit: seed (mean over targets); seeds share the data"
                                    : "pairs are seeds x targets of the same runs, not independent samples"},
          {"comparisons", arr}};
}

}  // namespace merx::compare
