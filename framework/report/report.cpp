// The offline HTML report (merx/report/report.h): HTML and SVG written as text, data read with
// Store::query and leaderboard::build.
#include "merx/report/report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "merx/errors.h"
#include "merx/leaderboard/per_class.h"

namespace merx::report {
namespace {

namespace fs = std::filesystem;
using leaderboard::Estimate;

// A colour-blind-safe qualitative palette (Tableau 10) for series.
const char* const kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
const char* colour(std::size_t i) {
  return kPalette[i % 10];
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string f4(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}
std::string num(double v) {  // SVG coordinates
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string str(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return f4(*d);
  return "";
}

std::string metric_title(leaderboard::Metric m) {
  return m == leaderboard::Metric::UF1 ? "UF1" : m == leaderboard::Metric::UAR ? "UAR" : "accuracy";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// ---- charts ----

struct Series {
  std::string name;
  std::vector<std::optional<double>> values;  // one per category / x
  std::vector<std::optional<double>> errors;  // bars: +/- error (empty = none)
};

/// Grouped bar chart: categories on x, one bar per series, values in [0, max(1, data)], error bars.
std::string bar_chart(const std::string& title, const std::vector<std::string>& categories,
                      const std::vector<Series>& series, const std::string& y_label) {
  const double W = std::max<double>(420, 90.0 * static_cast<double>(categories.size()) *
                                             std::max<double>(1, static_cast<double>(series.size()) * 0.6)),
               H = 260, L = 52, R = 12, T = 28, B = 48;
  double top = 1.0;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.values.size(); ++i)
      if (s.values[i])
        top = std::max(top, *s.values[i] + (i < s.errors.size() && s.errors[i] ? *s.errors[i] : 0));
  const double ph = H - T - B, pw = W - L - R;
  auto y = [&](double v) { return T + ph * (1 - v / top); };
  std::ostringstream o;
  o << "<svg class=\"chart\" width=\"" << num(W) << "\" height=\""
    << num(H + 8 + 18 * static_cast<double>(series.size())) << "\" role=\"img\"><title>" << esc(title)
    << "</title>\n";
  o << "<text x=\"" << num(L) << "\" y=\"16\" class=\"ct\">" << esc(title) << "</text>\n";
  for (int k = 0; k <= 4; ++k) {
    const double v = top * k / 4;
    o << "<line x1=\"" << num(L) << "\" x2=\"" << num(W - R) << "\" y1=\"" << num(y(v)) << "\" y2=\""
      << num(y(v)) << "\" stroke=\"#ddd\"/><text x=\"" << num(L - 4) << "\" y=\"" << num(y(v) + 4)
      << "\" text-anchor=\"end\" class=\"ax\">" << f4(v).substr(0, 4) << "</text>\n";
  }
  o << "<text transform=\"translate(12," << num(T + ph / 2)
    << ") rotate(-90)\" text-anchor=\"middle\" class=\"ax\">" << esc(y_label) << "</text>\n";
  const double gw = pw / std::max<double>(1, static_cast<double>(categories.size()));
  const double bw = gw * 0.8 / std::max<double>(1, static_cast<double>(series.size()));
  for (std::size_t c = 0; c < categories.size(); ++c) {
    const double gx = L + gw * static_cast<double>(c) + gw * 0.1;
    for (std::size_t s = 0; s < series.size(); ++s) {
      if (c >= series[s].values.size() || !series[s].values[c]) continue;
      const double v = *series[s].values[c], x = gx + bw * static_cast<double>(s);
      o << "<rect x=\"" << num(x) << "\" y=\"" << num(y(v)) << "\" width=\"" << num(bw * 0.92)
        << "\" height=\"" << num(T + ph - y(v)) << "\" fill=\"" << colour(s) << "\"><title>"
        << esc(series[s].name) << ", " << esc(categories[c]) << ": " << f4(v) << "</title></rect>\n";
      if (c < series[s].errors.size() && series[s].errors[c]) {
        const double e = *series[s].errors[c], cx = x + bw * 0.46;
        o << "<path d=\"M" << num(cx) << " " << num(y(v + e)) << "V" << num(y(std::max(0.0, v - e))) << "M"
          << num(cx - 4) << " " << num(y(v + e)) << "h8M" << num(cx - 4) << " "
          << num(y(std::max(0.0, v - e))) << "h8\" stroke=\"#222\" fill=\"none\"/>\n";
      }
    }
    o << "<text x=\"" << num(gx + gw * 0.4) << "\" y=\"" << num(T + ph + 16)
      << "\" text-anchor=\"middle\" class=\"ax\">" << esc(categories[c]) << "</text>\n";
  }
  for (std::size_t s = 0; s < series.size(); ++s) {
    const double lx = L, ly = H + 4 + 18 * static_cast<double>(s);
    o << "<rect x=\"" << num(lx) << "\" y=\"" << num(ly - 10) << "\" width=\"10\" height=\"10\" fill=\""
      << colour(s) << "\"/><text x=\"" << num(lx + 14) << "\" y=\"" << num(ly) << "\" class=\"ax\">"
      << esc(series[s].name) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

/// Line chart over epochs 0..n-1; one line per series (missing points skipped).
std::string line_chart(const std::string& title, std::size_t epochs, const std::vector<Series>& series) {
  const double W = 420, H = 230, L = 52, R = 12, T = 28, B = 40;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (const auto& v : s.values)
      if (v && std::isfinite(*v)) lo = std::min(lo, *v), hi = std::max(hi, *v);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
  const double ph = H - T - B, pw = W - L - R;
  auto x = [&](std::size_t e) {
    return L + (epochs > 1 ? pw * static_cast<double>(e) / static_cast<double>(epochs - 1) : pw / 2);
  };
  auto y = [&](double v) { return T + ph * (1 - (v - lo) / (hi - lo)); };
  std::ostringstream o;
  o << "<svg class=\"chart\" width=\"" << num(W) << "\" height=\""
    << num(H + 12 + 18 * static_cast<double>((series.size() + 2) / 3)) << "\" role=\"img\"><title>"
    << esc(title) << "</title>\n<text x=\"" << num(L) << "\" y=\"16\" class=\"ct\">" << esc(title)
    << "</text>\n";
  for (int k = 0; k <= 4; ++k) {
    const double v = lo + (hi - lo) * k / 4;
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", v);
    o << "<line x1=\"" << num(L) << "\" x2=\"" << num(W - R) << "\" y1=\"" << num(y(v)) << "\" y2=\""
      << num(y(v)) << "\" stroke=\"#ddd\"/><text x=\"" << num(L - 4) << "\" y=\"" << num(y(v) + 4)
      << "\" text-anchor=\"end\" class=\"ax\">" << b << "</text>\n";
  }
  o << "<text x=\"" << num(L + pw / 2) << "\" y=\"" << num(T + ph + 30)
    << "\" text-anchor=\"middle\" class=\"ax\">epoch (0-based, " << epochs << ")</text>\n";
  for (std::size_t s = 0; s < series.size(); ++s) {
    std::string d;
    for (std::size_t e = 0; e < series[s].values.size(); ++e)
      if (series[s].values[e] && std::isfinite(*series[s].values[e]))
        d += (d.empty() ? "M" : "L") + num(x(e)) + " " + num(y(*series[s].values[e]));
    o << "<path d=\"" << d << "\" stroke=\"" << colour(s) << "\" stroke-width=\"2\" fill=\"none\"><title>"
      << esc(series[s].name) << "</title></path>\n";
    const double lx = L + static_cast<double>(s % 3) * (pw / 3), ly = H + 8 + 18 * static_cast<double>(s / 3);
    o << "<rect x=\"" << num(lx) << "\" y=\"" << num(ly - 10) << "\" width=\"10\" height=\"10\" fill=\""
      << colour(s) << "\"/><text x=\"" << num(lx + 14) << "\" y=\"" << num(ly) << "\" class=\"ax\">"
      << esc(series[s].name) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

/// Confusion heatmap: rows = true class, columns = predicted; colour = count / row total.
std::string heatmap(const std::string& title, const std::vector<std::string>& classes,
                    const std::map<std::pair<std::string, std::string>, int64_t>& counts) {
  const double cell = 60, L = 90, T = 58;
  const double W = L + cell * static_cast<double>(classes.size()) + 10,
               H = T + cell * static_cast<double>(classes.size()) + 10;
  std::ostringstream o;
  o << "<svg class=\"chart heatmap\" width=\"" << num(W) << "\" height=\"" << num(H)
    << "\" role=\"img\"><title>" << esc(title) << "</title>\n<text x=\"4\" y=\"14\" class=\"ct\">"
    << esc(title) << "</text>\n<text x=\"" << num(L) << "\" y=\"30\" class=\"ax\">predicted &#8594;</text>\n";
  for (std::size_t c = 0; c < classes.size(); ++c)
    o << "<text x=\"" << num(L + cell * (static_cast<double>(c) + 0.5)) << "\" y=\"" << num(T - 6)
      << "\" text-anchor=\"middle\" class=\"ax\">" << esc(classes[c].substr(0, 9)) << "</text>\n";
  for (std::size_t t = 0; t < classes.size(); ++t) {
    int64_t row = 0;
    for (const auto& p : classes) {
      const auto it = counts.find({classes[t], p});
      row += it == counts.end() ? 0 : it->second;
    }
    const double yy = T + cell * static_cast<double>(t);
    o << "<text x=\"" << num(L - 6) << "\" y=\"" << num(yy + cell / 2 + 4)
      << "\" text-anchor=\"end\" class=\"ax\">" << esc(classes[t]) << "</text>\n";
    for (std::size_t p = 0; p < classes.size(); ++p) {
      const auto it = counts.find({classes[t], classes[p]});
      const int64_t n = it == counts.end() ? 0 : it->second;
      const double share = row > 0 ? static_cast<double>(n) / static_cast<double>(row) : 0;
      // White -> dark blue (#08306b) by the row share.
      const int r = static_cast<int>(std::lround(255 - share * (255 - 8))),
                g = static_cast<int>(std::lround(255 - share * (255 - 48))),
                b = static_cast<int>(std::lround(255 - share * (255 - 107)));
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", r, g, b);
      const double xx = L + cell * static_cast<double>(p);
      o << "<rect x=\"" << num(xx) << "\" y=\"" << num(yy) << "\" width=\"" << num(cell - 1) << "\" height=\""
        << num(cell - 1) << "\" fill=\"" << fill << "\" stroke=\"#ccc\"><title>true " << esc(classes[t])
        << ", predicted " << esc(classes[p]) << ": " << n << " (" << f4(share)
        << " of the row)</title></rect>"
        << "<text x=\"" << num(xx + cell / 2) << "\" y=\"" << num(yy + cell / 2 + 4)
        << "\" text-anchor=\"middle\" fill=\"" << (share > 0.5 ? "#fff" : "#222") << "\" class=\"ax\">" << n
        << "</text>\n";
    }
  }
  o << "</svg>\n";
  return o.str();
}

// ---- data ----

/// A run = experiment x sweep point (seeds summed / averaged).
struct Run {
  std::string experiment, variant, assignments;
  std::string variant_label;  // the spec's display label of the variant ("" = none: the name is shown)
  int64_t point = 0;
  std::vector<int64_t> groups;  // finished ones (every cell done)
  std::string label() const {
    const std::string& v = variant_label.empty() ? variant : variant_label;
    std::string s = experiment + " · " + (v.empty() ? "" : v + " · ") + "#" + std::to_string(point);
    if (!assignments.empty() && assignments != "{}") s += " " + assignments;
    return s;
  }
};

// Per-class F1 of the selected rows (leaderboard::per_class), target over its classes.
std::string per_class_html(const leaderboard::PerClassTable& t) {
  if (t.rows.empty() || t.classes.empty()) return "";
  std::ostringstream o;
  o << "<details><summary>Per-class F1 of the selected rows (mean ± SE over seeds, the selected sweep "
       "points)</summary><table class=\"perclass\"><thead><tr><th>method</th>";
  for (const auto& target : t.targets)
    for (const auto& cls : t.classes)
      o << "<th>" << esc(t.targets.size() > 1 ? target + " " + cls : cls) << "</th>";
  o << "</tr></thead><tbody>\n";
  for (const auto& r : t.rows) {
    o << "<tr><td>" << esc(r.method.label()) << "</td>";
    for (const auto& e : r.values)
      o << "<td>" << (e.mean ? f4(*e.mean) + " ± " + (e.se ? f4(*e.se) : "-") : std::string("-")) << "</td>";
    o << "</tr>\n";
  }
  o << "</tbody></table></details>\n";
  return o.str();
}

std::string leaderboard_html(const leaderboard::Leaderboard& lb,
                             const std::vector<leaderboard::PerClassTable>& per_class,
                             std::size_t& table_no) {
  std::ostringstream o;
  for (std::size_t ti = 0; ti < lb.tables.size(); ++ti) {
    const auto& t = lb.tables[ti];
    ++table_no;
    o << "<h3>" << esc(t.protocol) << (t.protocol_params.is_null() ? "" : " " + esc(t.protocol_params.dump()))
      << " over " << esc(join(t.datasets, ", ")) << " — " << metric_title(t.metric)
      << (t.oracle ? " — ORACLE model selection (test data chose the epoch; not a fair comparison)" : "")
      << "</h3>\n";
    o << "<p class=\"meta\">experiments: " << esc(join(t.experiments, ", "))
      << ". Bold: highest mean, significantly above the runner-up (paired t over seeds, p &lt; 0.05); ‡: highest "
         "mean, not significantly above the runner-up.</p>\n";
    o << "<table class=\"leaderboard\" id=\"leaderboard-" << table_no << "\"><thead><tr><th>method</th>";
    for (const auto& c : t.columns) o << "<th>" << esc(c) << "</th>";
    o << "</tr></thead><tbody>\n";
    auto cell = [](const Estimate& e) {
      if (!e.mean) return std::string("<td>-</td>");
      std::string s = f4(*e.mean) + " ± " + (e.se ? f4(*e.se) : "-") +
                      " <span class=\"n\">(n=" + std::to_string(e.n) + ")</span>";
      if (e.ci_low && e.ci_high) s += " [" + f4(*e.ci_low) + ", " + f4(*e.ci_high) + "]";
      if (e.point) s += "<br><span class=\"pt\">" + esc(e.point->label()) + "</span>";
      if (e.best_unconfirmed) s += " ‡";
      return "<td>" + (e.best ? "<b>" + s + "</b>" : s) + "</td>";
    };
    for (const auto& r : t.selected) {
      o << "<tr><td>" << esc(r.method.label()) << (r.few_seeds ? " †" : "") << "</td>";
      for (const auto& e : r.values) o << cell(e);
      o << "</tr>\n";
    }
    for (const auto& r : t.references) {
      o << "<tr class=\"ref\"><td>" << esc(r.name) << "</td>";
      for (const auto& v : r.values) o << "<td>" << (v ? f4(*v) : "-") << "</td>";
      o << "</tr>\n";
    }
    o << "</tbody></table>\n";
    if (!t.all_points.empty()) {
      o << "<details><summary>All sweep points (not a selection: every hyperparameter setting, for "
           "inspection)</summary><table class=\"allpoints\"><thead><tr><th>method</th><th>point</th>";
      for (const auto& c : t.columns) o << "<th>" << esc(c) << "</th>";
      o << "</tr></thead><tbody>\n";
      for (const auto& r : t.all_points) {
        o << "<tr><td>" << esc(r.method.label()) << "</td><td>" << (r.point ? esc(r.point->label()) : "")
          << "</td>";
        for (const auto& e : r.values) {
          Estimate plain = e;
          plain.best = false;
          plain.best_unconfirmed = false;
          plain.point.reset();
          o << cell(plain);
        }
        o << "</tr>\n";
      }
      o << "</tbody></table></details>\n";
    }
    if (ti < per_class.size()) o << per_class_html(per_class[ti]);
    for (const auto& n : t.notes) o << "<p class=\"note\">" << esc(n) << "</p>\n";
    if (std::any_of(t.selected.begin(), t.selected.end(), [](const auto& r) { return r.few_seeds; }))
      o << "<p class=\"note\">† fewer than 3 seeds in some column.</p>\n";
    // Bar chart of the selected rows.
    std::vector<Series> series;
    for (const auto& r : t.selected) {
      Series s;
      s.name = r.method.label();
      for (const auto& e : r.values) {
        s.values.push_back(e.mean);
        s.errors.push_back(e.se);
      }
      series.push_back(std::move(s));
    }
    if (!series.empty())
      o << "<div class=\"charts\">"
        << bar_chart(metric_title(t.metric) + " per target (mean ± SE over seeds): " + t.protocol, t.columns,
                     series, metric_title(t.metric))
        << "</div>\n";
  }
  return o.str();
}

}  // namespace

std::string render_html(const Store& store, const Options& opt) {
  // Experiments.
  struct Exp {
    int64_t id;
    std::string name, spec, hash, created;
  };
  std::vector<Exp> exps;
  store.query(
      "SELECT id, name, spec_json, spec_hash, created_at FROM experiments WHERE ?1 IS NULL OR name = ?1 "
      "ORDER BY id",
      {opt.experiment ? SqlValue(*opt.experiment) : SqlValue()}, [&](const std::vector<SqlValue>& r) {
        exps.push_back({sql_integer(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])});
      });
  if (opt.experiment && exps.empty())
    throw UserError("report: no experiment named " + *opt.experiment + " in " + store.path());

  std::ostringstream o;
  const std::string title =
      opt.title.empty() ? "merx report: " + fs::path(store.path()).filename().string() : opt.title;
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << esc(title)
    << "</title>\n<style>\n"
    << "body{font-family:system-ui,-apple-system,'Segoe "
       "UI',sans-serif;margin:24px;color:#222;max-width:1400px}"
       "h1{font-size:22px}h2{font-size:19px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}"
       "h3{font-size:16px}table{border-collapse:collapse;margin:8px 0;font-size:13px}"
       "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}"
       "tr.ref "
       "td{color:#666;font-style:italic}.n,.pt,.meta{color:#777;font-size:12px}.note{color:#555;font-size:"
       "13px}"
       ".charts{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}svg.chart{background:#fff}"
       "svg .ct{font-size:13px;font-weight:600}svg .ax{font-size:11px}pre{background:#f7f7f7;padding:8px;"
       "overflow:auto;max-height:360px;font-size:12px}\n"
    << "</style></head><body>\n<h1>" << esc(title) << "</h1>\n<p class=\"meta\">database "
    << esc(store.path()) << " · generated " << when << " · metric " << metric_title(opt.metric) << " · "
    << exps.size() << " experiment" << (exps.size() == 1 ? "" : "s") << "</p>\n";

  // 1-2. Leaderboards and bar charts.
  o << "<h2 id=\"leaderboards\">Leaderboards</h2>\n<p class=\"note\">Selected rows: per method and target "
       "the sweep "
       "point chosen by source-validation (never by test data); values are mean ± standard error over seeds "
       "(n). "
       "Bold: best selected value of its column. Reference rows: analytic, from class counts.</p>\n";
  leaderboard::Options lo;
  lo.experiment = opt.experiment;
  lo.metric = opt.metric;
  lo.oracle = true;
  const leaderboard::Leaderboard lb = leaderboard::build(store, lo);
  std::size_t table_no = 0;
  o << leaderboard_html(lb, leaderboard::per_class(store, lb), table_no);
  if (lb.tables.empty()) o << "<p class=\"note\">No finished group yet.</p>\n";

  // 3-4. Runs: confusion, per-class F1, curves.
  std::map<std::pair<int64_t, int64_t>, Run> runs;  // (experiment id, point index)
  const leaderboard::VariantLabels labels = leaderboard::variant_labels(store);
  store.query(
      "SELECT g.experiment_id, g.point_index, e.name, g.variant, g.assignments_json, g.id, "
      "(SELECT count(*) FROM cells c WHERE c.group_id = g.id AND c.status <> 'done'), "
      "(SELECT count(*) FROM cells c WHERE c.group_id = g.id) "
      "FROM groups g JOIN experiments e ON e.id = g.experiment_id WHERE ?1 IS NULL OR e.name = ?1 "
      "ORDER BY g.experiment_id, g.point_index, g.seed",
      {opt.experiment ? SqlValue(*opt.experiment) : SqlValue()}, [&](const std::vector<SqlValue>& r) {
        Run& run = runs[{sql_integer(r[0]), sql_integer(r[1])}];
        run.experiment = str(r[2]);
        run.variant = str(r[3]);
        if (auto e = labels.find(run.experiment); e != labels.end())
          if (auto v = e->second.find(run.variant); v != e->second.end()) run.variant_label = v->second;
        run.point = sql_integer(r[1]);
        run.assignments = str(r[4]);
        if (sql_integer(r[6]) == 0 && sql_integer(r[7]) > 0) run.groups.push_back(sql_integer(r[5]));
      });
  o << "<h2 id=\"runs\">Runs: confusion, per-class F1, training curves</h2>\n<p class=\"note\">One run = "
       "experiment × "
       "sweep point; confusion counts summed over its seeds (finished groups only), per-class F1 averaged "
       "over "
       "seeds, curves averaged over its cells.</p>\n";
  std::size_t run_no = 0;
  for (const auto& [key, run] : runs) {
    ++run_no;
    o << "<h3 id=\"run-" << run_no << "\">" << esc(run.label()) << "</h3>\n";
    if (run.groups.empty()) {
      o << "<p class=\"note\">No finished group (some cells are not done).</p>\n";
    } else {
      std::string ids;
      for (int64_t g : run.groups) ids += (ids.empty() ? "" : ",") + std::to_string(g);
      // Confusion per scope/target, and the class order (first appearance in the groups' per-class rows).
      std::map<std::string, std::map<std::pair<std::string, std::string>, int64_t>> conf;  // "" = pooled
      store.query(
          "SELECT IFNULL(target, ''), true_class, predicted_class, sum(count) FROM confusion WHERE group_id "
          "IN (" +
              ids + ") AND scope IN ('pooled', 'target') GROUP BY scope, target, true_class, predicted_class",
          {}, [&](const std::vector<SqlValue>& r) {
            conf[str(r[0])][{str(r[1]), str(r[2])}] = sql_integer(r[3]);
          });
      std::vector<std::string> classes;
      std::map<std::string, std::vector<double>> f1;
      store.query("SELECT class, value FROM metrics WHERE group_id IN (" + ids +
                      ") AND scope = 'pooled' AND name = 'f1' AND class IS NOT NULL ORDER BY group_id, id",
                  {}, [&](const std::vector<SqlValue>& r) {
                    const std::string c = str(r[0]);
                    if (std::find(classes.begin(), classes.end(), c) == classes.end()) classes.push_back(c);
                    if (const auto v = sql_real(r[1])) f1[c].push_back(*v);
                  });
      for (const auto& [t, m] : conf)
        for (const auto& [tp, n] : m)
          for (const auto& c : {tp.first, tp.second})
            if (std::find(classes.begin(), classes.end(), c) == classes.end()) classes.push_back(c);
      o << "<div class=\"charts\">\n";
      if (conf.count(""))
        o << heatmap("confusion, pooled (" + std::to_string(run.groups.size()) + " seeds)", classes,
                     conf[""]);
      for (const auto& [t, m] : conf)
        if (!t.empty()) o << heatmap("confusion, target " + t, classes, m);
      o << "</div>\n";
      if (!classes.empty()) {
        o << "<table class=\"perclass\"><thead><tr><th>per-class F1 (pooled, mean over seeds)</th>";
        for (const auto& c : classes) o << "<th>" << esc(c) << "</th>";
        o << "</tr></thead><tbody><tr><td>" << esc(run.label()) << "</td>";
        Series s;
        s.name = "F1";
        for (const auto& c : classes) {
          const auto& v = f1[c];
          if (v.empty()) {
            o << "<td>-</td>";
            s.values.push_back(std::nullopt);
          } else {
            double m = 0;
            for (double x : v) m += x;
            m /= static_cast<double>(v.size());
            o << "<td>" << f4(m) << " <span class=\"n\">(n=" << v.size() << ")</span></td>";
            s.values.push_back(m);
          }
        }
        o << "</tr></tbody></table>\n<div class=\"charts\">"
          << bar_chart("per-class F1 (pooled, mean over seeds)", classes, {s}, "F1") << "</div>\n";
      }
    }
    // Curves of every cell of the run (done or not), averaged per (name, target, epoch).
    std::map<std::string, std::map<std::string, std::map<int64_t, std::pair<double, int>>>> curves;
    int64_t max_epoch = -1;
    store.query(
        "SELECT cu.name, c.target, cu.epoch, avg(cu.value), count(cu.value) FROM curves cu "
        "JOIN cells c ON c.id = cu.cell_id JOIN groups g ON g.id = c.group_id "
        "WHERE g.experiment_id = ?1 AND g.point_index = ?2 AND cu.value IS NOT NULL "
        "GROUP BY cu.name, c.target, cu.epoch ORDER BY cu.name, c.target, cu.epoch",
        {key.first, key.second}, [&](const std::vector<SqlValue>& r) {
          if (const auto v = sql_real(r[3]))
            curves[str(r[0])][str(r[1])][sql_integer(r[2])] = {*v, static_cast<int>(sql_integer(r[4]))};
          max_epoch = std::max(max_epoch, sql_integer(r[2]));
        });
    if (!curves.empty()) {
      o << "<div class=\"charts\">\n";
      std::size_t drawn = 0;
      std::vector<std::string> skipped;
      for (const auto& [name, by_target] : curves) {
        if (drawn == opt.max_curve_charts) {
          skipped.push_back(name);
          continue;
        }
        std::vector<Series> series;
        for (const auto& [target, pts] : by_target) {
          Series s;
          s.name = target;
          s.values.assign(static_cast<std::size_t>(max_epoch + 1), std::nullopt);
          for (const auto& [e, v] : pts) s.values[static_cast<std::size_t>(e)] = v.first;
          series.push_back(std::move(s));
        }
        o << line_chart("curve " + name + " (mean over cells, per target)",
                        static_cast<std::size_t>(max_epoch + 1), series);
        ++drawn;
      }
      o << "</div>\n";
      if (!skipped.empty())
        o << "<p class=\"note\">Curves not drawn: " << esc(join(skipped, ", ")) << "</p>\n";
    }
  }

  // 5. Provenance.
  o << "<h2 id=\"provenance\">Provenance</h2>\n";
  for (const auto& e : exps) {
    o << "<h3>experiment " << esc(e.name) << "</h3>\n<table class=\"provenance\"><tbody>"
      << "<tr><th>spec hash</th><td><code>" << esc(e.hash) << "</code></td></tr>"
      << "<tr><th>first stored</th><td>" << esc(e.created) << "</td></tr>";
    std::string counts;
    store.query(
        "SELECT c.status, count(*) FROM cells c JOIN groups g ON g.id = c.group_id WHERE g.experiment_id = "
        "?1 "
        "GROUP BY c.status ORDER BY c.status",
        {e.id}, [&](const std::vector<SqlValue>& r) {
          counts += (counts.empty() ? "" : ", ") + str(r[1]) + " " + str(r[0]);
        });
    o << "<tr><th>cells</th><td>" << esc(counts.empty() ? "none" : counts) << "</td></tr>";
    auto distinct = [&](const std::string& expr, const std::string& th) {
      std::vector<std::string> vals;
      store.query("SELECT DISTINCT " + expr +
                      " FROM cells c JOIN groups g ON g.id = c.group_id WHERE g.experiment_id = ?1 "
                      "ORDER BY 1",
                  {e.id}, [&](const std::vector<SqlValue>& r) {
                    const std::string v = str(r[0]);
                    if (!v.empty()) vals.push_back(v);
                  });
      o << "<tr><th>" << th << "</th><td>" << (vals.empty() ? "-" : esc(join(vals, "; "))) << "</td></tr>";
    };
    distinct("c.git_commit", "merx commit");
    distinct("c.merx_version", "merx version");
    distinct("c.libtorch_version", "LibTorch");
    for (const std::string kind : {"backbone", "regularizer", "augmenter"})
      distinct("c." + kind + "_name || ' ' || IFNULL(c." + kind +
                   "_version, '?') || ' sha256 ' || IFNULL(substr(c." + kind + "_sha256, 1, 16), '?')",
               kind + " plugin");
    distinct("c.selection", "model selection");
    distinct("c.host", "hosts");
    distinct("c.device", "devices");
    const nlohmann::json spec = nlohmann::json::parse(e.spec, nullptr, false);
    o << "</tbody></table>\n<details><summary>resolved spec (JSON)</summary><pre>"
      << esc(spec.is_discarded() ? e.spec : spec.dump(2)) << "</pre></details>\n";
  }
  o << "<p class=\"meta\">Generated by merx; self-contained (inline SVG, no scripts, nothing "
       "fetched).</p>\n</body></html>\n";
  return o.str();
}

void write_html(const Store& store, const Options& options, const std::string& path) {
  const std::string html = render_html(store, options);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError("report: cannot write " + tmp);
    out << html;
    if (!out.flush()) throw UserError("report: cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw UserError("report: cannot write " + path);
  }
}

}  // namespace merx::report
