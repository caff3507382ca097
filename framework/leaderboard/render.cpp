// leaderboard::render: plain text, Markdown, CSV (long format), LaTeX (booktabs) and JSON.
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "merx/csv.h"
#include "merx/errors.h"
#include "merx/leaderboard/leaderboard.h"

namespace merx::leaderboard {
namespace {

using json = nlohmann::json;

// A value with `d` decimals (RenderOptions::decimals).
std::string fixed(double v, int d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", d, v);
  return buf;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string metric_title(Metric m) {
  return m == Metric::UF1 ? "UF1" : m == Metric::UAR ? "UAR" : "accuracy";
}

std::string metrics_title(const Table& t) {
  std::vector<std::string> names;
  for (Metric m : t.shown_metrics()) names.push_back(metric_title(m));
  return join(names, " and ");
}

// Header cells of the value columns: the column name, followed by the metric when several are shown
// ("A UF1", "A UAR", ...), in Row::values order.
std::vector<std::string> value_headers(const Table& t, const std::vector<std::string>& columns) {
  const std::vector<Metric> ms = t.shown_metrics();
  std::vector<std::string> h;
  for (const auto& c : columns)
    for (Metric m : ms) h.push_back(ms.size() > 1 ? c + " " + metric_title(m) : c);
  return h;
}

std::string title(const Table& t) {
  std::string s = t.protocol;
  if (!t.protocol_params.is_null()) s += " " + t.protocol_params.dump();
  s += " over " + join(t.datasets, ", ") + " - " + metrics_title(t);
  if (t.oracle) s += " - ORACLE model selection (test data chose the epoch; not a fair comparison)";
  return s;
}

std::string value_text(const Estimate& e, int d) {
  if (!e.mean) return "-";
  std::string s = fixed(*e.mean, d) + " ± " + (e.se ? fixed(*e.se, d) : std::string("-"));
  s += " (n=" + std::to_string(e.n) + ")";
  if (e.ci_low && e.ci_high) s += " [" + fixed(*e.ci_low, d) + ", " + fixed(*e.ci_high, d) + "]";
  return s;
}

std::string opt_text(const std::optional<double>& v, int d) {
  return v ? fixed(*v, d) : "-";
}

std::string method_text(const Row& r) {
  return r.method.label() + (r.few_seeds ? " †" : "");
}

// The per-column source-validation scores of an all-points row ("0.7100 / 0.6500 / -").
std::string scores_text(const Table& t, const Row& r, int d) {
  std::vector<std::string> parts;
  for (size_t c = 0; c < t.columns.size(); ++c)
    if (t.columns[c] != "mean") parts.push_back(opt_text(r.values[t.value_index(c, 0)].selection_score, d));
  return join(parts, " / ");
}

std::string chosen_text(const Estimate& e, int d) {
  if (!e.point) return "-";
  return e.point->label() + " (" + opt_text(e.selection_score, d) + ")";
}

// Every method has one sweep point: the selection and all-points tables would only repeat the leaderboard.
bool one_point_per_method(const Table& t) {
  if (t.all_points.empty()) return false;
  std::map<std::string, int> points;
  for (const Row& r : t.all_points)
    if (++points[r.method.identity()] > 1) return false;
  return true;
}

std::string selection_sentence(const Table& t) {
  std::string s = "sweep points chosen per method and target by source-validation UF1";
  if (t.shown_metrics().size() > 1) s += " (the same point for every metric of a method and target)";
  return s;
}

bool any_few(const Table& t) {
  for (const auto& r : t.selected)
    if (r.few_seeds) return true;
  for (const auto& r : t.all_points)
    if (r.few_seeds) return true;
  return false;
}

// ---- plain text ----

std::string pad(const std::string& s, size_t w) {
  // Width in code points (the text holds "±" and "†").
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return s + std::string(w > n ? w - n : 0, ' ');
}

size_t width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void text_table(std::ostringstream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) w[i] = width(header[i]);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(r[i]));
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (size_t i = 0; i < w.size(); ++i) {
      const std::string cell = i < r.size() ? r[i] : "";
      s += i + 1 < w.size() ? pad(cell, w[i] + 2) : cell;
    }
    out << s << "\n";
  };
  line(header);
  std::vector<std::string> rule;
  for (size_t x : w) rule.emplace_back(x, '-');
  line(rule);
  for (const auto& r : rows) line(r);
}

std::string render_text(const Leaderboard& lb, int d) {
  std::ostringstream out;
  if (lb.tables.empty()) out << "no finished groups\n";
  for (size_t ti = 0; ti < lb.tables.size(); ++ti) {
    const Table& t = lb.tables[ti];
    if (ti) out << "\n";
    out << "== " << title(t) << " ==\n";
    out << "experiments: " << join(t.experiments, ", ") << "; data version "
        << (t.data_version.empty() ? "unrecorded" : t.data_version.substr(0, 12)) << "\n";
    out << "mean ± standard error over seeds (n); "
        << (one_point_per_method(t) ? "one sweep point per method" : selection_sentence(t))
        << "; *best* = highest mean, significantly above the runner-up (paired t over seeds, p < 0.05); "
           "‡ = highest mean, not significantly above the runner-up\n";
    if (t.oracle)
      out << "oracle: every cell chose its epoch on its own test data; kept apart from the leaderboard\n";
    out << "\n";
    std::vector<std::string> header = {"METHOD"};
    for (const auto& h : value_headers(t, t.columns)) header.push_back(h);
    std::vector<std::vector<std::string>> rows;
    for (const Row& r : t.selected) {
      std::vector<std::string> row = {method_text(r)};
      for (const Estimate& e : r.values)
        row.push_back(e.best ? "*" + value_text(e, d) + "*"
                             : value_text(e, d) + (e.best_unconfirmed ? " ‡" : ""));
      rows.push_back(row);
    }
    for (const ReferenceRow& ref : t.references) {
      std::vector<std::string> row = {"(reference) " + ref.name};
      for (const auto& v : ref.values) row.push_back(opt_text(v, d));
      rows.push_back(row);
    }
    text_table(out, header, rows);
    if (any_few(t)) out << "† fewer than 3 seeds\n";
    if (one_point_per_method(t)) {
      out << "(no sweep-point selection: the tables of selected and of all sweep points appear when a method has "
             "several)\n";
      for (const auto& n : t.notes) out << "note: " << n << "\n";
      continue;
    }
    if (!t.selected.empty()) {
      out << "\nselected sweep points (mean source-validation score over seeds)\n";
      std::vector<std::string> h = {"METHOD"};
      std::vector<std::vector<std::string>> sel;
      for (const auto& c : t.columns)
        if (c != "mean") h.push_back(c);
      for (const Row& r : t.selected) {
        std::vector<std::string> row = {r.method.label()};
        for (size_t c = 0; c < t.columns.size(); ++c)
          if (t.columns[c] != "mean") row.push_back(chosen_text(r.values[t.value_index(c, 0)], d));
        sel.push_back(row);
      }
      text_table(out, h, sel);
    }
    out << "\nall sweep points (every point shown; not a selection)\n";
    std::vector<std::string> h = {"METHOD", "POINT"};
    for (const auto& x : value_headers(t, t.columns)) h.push_back(x);
    h.push_back("SOURCE-VAL");
    std::vector<std::vector<std::string>> all;
    for (const Row& r : t.all_points) {
      std::vector<std::string> row = {method_text(r), r.point ? r.point->label() : "-"};
      for (const Estimate& e : r.values) row.push_back(value_text(e, d));
      row.push_back(scores_text(t, r, d));
      all.push_back(row);
    }
    text_table(out, h, all);
    for (const auto& n : t.notes) out << "note: " << n << "\n";
  }
  return out.str();
}

// ---- Markdown ----

std::string md_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|' || c == '*' || c == '_') o += '\\';
    o += c;
  }
  return o;
}

void md_row(std::ostringstream& out, const std::vector<std::string>& cells) {
  out << "|";
  for (const auto& c : cells) out << " " << c << " |";
  out << "\n";
}

std::string render_md(const Leaderboard& lb, int d) {
  std::ostringstream out;
  if (lb.tables.empty()) out << "No finished groups.\n";
  for (size_t ti = 0; ti < lb.tables.size(); ++ti) {
    const Table& t = lb.tables[ti];
    if (ti) out << "\n";
    out << "### " << md_escape(title(t)) << "\n\n";
    out << "Experiments: " << md_escape(join(t.experiments, ", ")) << "; data version "
        << (t.data_version.empty() ? "unrecorded" : t.data_version.substr(0, 12))
        << ". Mean ± standard error over seeds (n); "
        << (one_point_per_method(t) ? "one sweep point per method" : selection_sentence(t))
        << "; bold: highest mean and significantly above the runner-up (paired t over seeds, p < 0.05); "
           "‡: highest mean, not significantly above the runner-up.\n\n";
    std::vector<std::string> header = {"Method"};
    for (const auto& c : value_headers(t, t.columns)) header.push_back(md_escape(c));
    md_row(out, header);
    std::vector<std::string> rule = {"---"};
    for (size_t c = 1; c < header.size(); ++c) rule.push_back("---:");
    md_row(out, rule);
    for (const Row& r : t.selected) {
      std::vector<std::string> row = {md_escape(method_text(r))};
      for (const Estimate& e : r.values)
        row.push_back(e.best ? "**" + value_text(e, d) + "**"
                             : value_text(e, d) + (e.best_unconfirmed ? " ‡" : ""));
      md_row(out, row);
    }
    for (const ReferenceRow& ref : t.references) {
      std::vector<std::string> row = {"*" + ref.name + "*"};
      for (const auto& v : ref.values) row.push_back(opt_text(v, d));
      md_row(out, row);
    }
    if (any_few(t)) out << "\n† fewer than 3 seeds.\n";
    if (one_point_per_method(t)) {
      for (const auto& n : t.notes) out << "\nNote: " << md_escape(n) << "\n";
      continue;
    }
    if (!t.selected.empty()) {
      out << "\nSelected sweep points (mean source-validation score over seeds):\n\n";
      std::vector<std::string> h = {"Method"};
      for (const auto& c : t.columns)
        if (c != "mean") h.push_back(md_escape(c));
      md_row(out, h);
      md_row(out, std::vector<std::string>(h.size(), "---"));
      for (const Row& r : t.selected) {
        std::vector<std::string> row = {md_escape(r.method.label())};
        for (size_t c = 0; c < t.columns.size(); ++c)
          if (t.columns[c] != "mean") row.push_back(md_escape(chosen_text(r.values[t.value_index(c, 0)], d)));
        md_row(out, row);
      }
    }
    out << "\nAll sweep points (not a selection):\n\n";
    std::vector<std::string> h = {"Method", "Point"};
    for (const auto& c : value_headers(t, t.columns)) h.push_back(md_escape(c));
    h.push_back("Source-val");
    md_row(out, h);
    std::vector<std::string> r2 = {"---", "---"};
    for (size_t c = 2; c < h.size(); ++c) r2.push_back("---:");
    md_row(out, r2);
    for (const Row& r : t.all_points) {
      std::vector<std::string> row = {md_escape(method_text(r)), md_escape(r.point ? r.point->label() : "-")};
      for (const Estimate& e : r.values) row.push_back(value_text(e, d));
      row.push_back(scores_text(t, r, d));
      md_row(out, row);
    }
    for (const auto& n : t.notes) out << "\nNote: " << md_escape(n) << "\n";
  }
  return out.str();
}

// ---- CSV (RFC 4180), one line per value ----

std::string csv_num(const std::optional<double>& v) {
  if (!v) return "";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return buf;
}

std::string render_csv(const Leaderboard& lb) {
  std::ostringstream out;
  out << "table,protocol,datasets,oracle,metric,kind,method,backbone,regularizer,augmenter,variant,point_"
         "index,"
         "assignments,column,mean,se,n,ci_low,ci_high,best,few_seeds,selection_score\n";
  for (size_t ti = 0; ti < lb.tables.size(); ++ti) {
    const Table& t = lb.tables[ti];
    const std::vector<Metric> ms = t.shown_metrics();
    const std::string table_head = std::to_string(ti) + "," + csv_field(t.protocol) + "," +
                                   csv_field(join(t.datasets, "+")) + "," + (t.oracle ? "1" : "0") + ",";
    auto rows = [&](const std::vector<Row>& rs, const char* kind) {
      for (const Row& r : rs)
        for (size_t c = 0; c < t.columns.size(); ++c)
          for (size_t m = 0; m < ms.size(); ++m) {
            const std::string head = table_head + to_string(ms[m]) + ",";
            const Estimate& e = r.values[t.value_index(c, m)];
            const std::optional<PointRef>& p = r.point ? r.point : e.point;
            out << head << kind << "," << csv_field(r.method.label()) << "," << csv_field(r.method.backbone)
                << "," << csv_field(r.method.regularizer) << "," << csv_field(r.method.augmenter) << ","
                << csv_field(r.method.variant) << "," << (p ? std::to_string(p->point_index) : "") << ","
                << (p ? csv_field(p->assignments.dump()) : "") << "," << csv_field(t.columns[c]) << ","
                << csv_num(e.mean) << "," << csv_num(e.se) << "," << e.n << "," << csv_num(e.ci_low) << ","
                << csv_num(e.ci_high) << "," << (e.best ? 1 : 0) << "," << (r.few_seeds ? 1 : 0) << ","
                << csv_num(e.selection_score) << "\n";
          }
    };
    rows(t.selected, "selected");
    for (const ReferenceRow& ref : t.references)
      for (size_t c = 0; c < t.columns.size(); ++c)
        for (size_t m = 0; m < ms.size(); ++m)
          out << table_head << to_string(ms[m]) << ",reference," << csv_field(ref.name) << ",,,,,,,"
              << csv_field(t.columns[c]) << "," << csv_num(ref.values[t.value_index(c, m)]) << ",,0,,,0,0,\n";
    rows(t.all_points, "all_points");
  }
  return out.str();
}

// ---- LaTeX (booktabs) ----

std::string tex(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '_':
      case '&':
      case '%':
      case '#':
      case '$':
      case '{':
      case '}':
        o += '\\';
        o += c;
        break;
      case '~':
        o += "\\textasciitilde{}";
        break;
      case '^':
        o += "\\textasciicircum{}";
        break;
      case '\\':
        o += "\\textbackslash{}";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string tex_value(const Estimate& e, int d) {
  if (!e.mean) return "--";
  std::string m = fixed(*e.mean, d);
  if (e.best) m = "\\textbf{" + m + "}";
  if (e.best_unconfirmed) m += "$^\\ddagger$";
  std::string s = m + " $\\pm$ " + (e.se ? fixed(*e.se, d) : std::string("--"));
  if (e.ci_low && e.ci_high) s += " [" + fixed(*e.ci_low, d) + ", " + fixed(*e.ci_high, d) + "]";
  return s;
}

std::string n_range(const Row& r) {
  int lo = 1 << 30, hi = 0;
  for (const auto& e : r.values) {
    lo = std::min(lo, e.n);
    hi = std::max(hi, e.n);
  }
  if (hi == 0) return "0";
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + "--" + std::to_string(hi);
}

std::string render_latex(const Leaderboard& lb, int d) {
  std::ostringstream out;
  out << "% merx db leaderboard; needs \\usepackage{booktabs}\n";
  for (const Table& t : lb.tables) {
    const size_t n_metrics = t.shown_metrics().size();
    out << "\\begin{table}[t]\n  \\centering\n  \\caption{" << tex(metrics_title(t))
        << " (mean $\\pm$ standard error over seeds; $n$ seeds), " << tex(t.protocol) << " over "
        << tex(join(t.datasets, ", ")) << ". "
        << (t.oracle        ? "Oracle model selection on the test data (not a fair comparison). "
            : n_metrics > 1 ? "Sweep points chosen per method and target by source-validation UF1; "
                              "every metric of a method and target comes from the same point. "
                            : "Sweep points chosen per method and target by source-validation UF1. ")
        << "Bold: highest mean, significantly above the runner-up (paired $t$ over seeds, $p < 0.05$); "
           "$^\\ddagger$ highest mean, not significantly above the runner-up."
        << (any_few(t) ? " $^\\dagger$ fewer than 3 seeds." : "") << "}\n";
    out << "  \\begin{tabular}{l" << std::string(t.columns.size() * n_metrics, 'c')
        << "c}\n    \\toprule\n    Method";
    auto column_title = [](const std::string& c) {
      return c == "mean" ? std::string("Mean") : c == "pooled" ? std::string("Pooled") : tex(c);
    };
    if (n_metrics == 1) {
      for (const auto& c : t.columns) out << " & " << column_title(c);
      out << " & $n$ \\\\\n";
    } else {
      // Two-level header: each column over its metrics, a \cmidrule under each group.
      for (const auto& c : t.columns)
        out << " & \\multicolumn{" << n_metrics << "}{c}{" << column_title(c) << "}";
      out << " & $n$ \\\\\n    ";
      for (size_t c = 0; c < t.columns.size(); ++c)
        out << (c ? " " : "") << "\\cmidrule(lr){" << 2 + c * n_metrics << "-" << 1 + (c + 1) * n_metrics
            << "}";
      out << "\n    ";
      for (size_t c = 0; c < t.columns.size(); ++c)
        for (Metric m : t.shown_metrics()) out << " & " << metric_title(m);
      out << " & \\\\\n";
    }
    out << "    \\midrule\n";
    for (const Row& r : t.selected) {
      out << "    " << tex(r.method.label()) << (r.few_seeds ? "$^\\dagger$" : "");
      for (const Estimate& e : r.values) out << " & " << tex_value(e, d);
      out << " & " << n_range(r) << " \\\\\n";
    }
    if (!t.references.empty()) {
      out << "    \\midrule\n";
      for (const ReferenceRow& ref : t.references) {
        std::string name = ref.name;
        name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
        out << "    " << tex(name);
        for (const auto& v : ref.values) out << " & " << (v ? fixed(*v, d) : std::string("--"));
        out << " & -- \\\\\n";
      }
    }
    out << "    \\bottomrule\n  \\end{tabular}\n\\end{table}\n";
  }
  return out.str();
}

// ---- JSON ----

json opt_json(const std::optional<double>& v) {
  return v ? json(*v) : json();
}

json point_json(const std::optional<PointRef>& p) {
  if (!p) return json();
  return {{"index", p->point_index}, {"hash", p->point_hash}, {"assignments", p->assignments}};
}

json estimate_json(const Estimate& e, Metric m) {
  return {{"metric", to_string(m)},
          {"mean", opt_json(e.mean)},
          {"se", opt_json(e.se)},
          {"n", e.n},
          {"ci_low", opt_json(e.ci_low)},
          {"ci_high", opt_json(e.ci_high)},
          {"best", e.best},
          {"best_unconfirmed", e.best_unconfirmed},
          {"best_p", e.best_p ? json(*e.best_p) : json(nullptr)},
          {"point", point_json(e.point)},
          {"selection_score", opt_json(e.selection_score)}};
}

// "values": column -> entry of the first metric (what a one-metric table has always had); "by_metric":
// metric -> column -> entry, for every metric shown.
json row_json(const Table& t, const Row& r) {
  const std::vector<Metric> ms = t.shown_metrics();
  json values = json::object(), by_metric = json::object();
  for (size_t c = 0; c < t.columns.size(); ++c)
    for (size_t m = 0; m < ms.size(); ++m) {
      json e = estimate_json(r.values[t.value_index(c, m)], ms[m]);
      if (m == 0) values[t.columns[c]] = e;
      by_metric[to_string(ms[m])][t.columns[c]] = std::move(e);
    }
  return {{"method",
           {{"backbone", r.method.backbone},
            {"regularizer", r.method.regularizer},
            {"augmenter", r.method.augmenter},
            {"variant", r.method.variant},
            {"label", r.method.label()}}},
          {"point", point_json(r.point)},
          {"few_seeds", r.few_seeds},
          {"values", values},
          {"by_metric", by_metric}};
}

std::string render_json(const Leaderboard& lb) {
  json tables = json::array();
  for (const Table& t : lb.tables) {
    json sel = json::array(), all = json::array(), refs = json::array();
    for (const Row& r : t.selected) sel.push_back(row_json(t, r));
    for (const Row& r : t.all_points) all.push_back(row_json(t, r));
    const std::vector<Metric> ms = t.shown_metrics();
    for (const ReferenceRow& ref : t.references) {
      json v = json::object(), by_metric = json::object();
      for (size_t c = 0; c < t.columns.size(); ++c)
        for (size_t m = 0; m < ms.size(); ++m) {
          const json x = opt_json(ref.values[t.value_index(c, m)]);
          if (m == 0) v[t.columns[c]] = x;
          by_metric[to_string(ms[m])][t.columns[c]] = x;
        }
      refs.push_back({{"name", ref.name}, {"values", v}, {"by_metric", by_metric}});
    }
    tables.push_back({{"protocol", t.protocol},
                      {"protocol_params", t.protocol_params},
                      {"datasets", t.datasets},
                      {"experiments", t.experiments},
                      {"data_version", t.data_version.empty() ? json() : json(t.data_version)},
                      {"oracle", t.oracle},
                      {"metric", to_string(t.metric)},
                      {"metrics",
                       [&] {
                         json a = json::array();
                         for (Metric m : ms) a.push_back(to_string(m));
                         return a;
                       }()},
                      {"columns", t.columns},
                      {"selected", sel},
                      {"references", refs},
                      {"all_points", all},
                      {"notes", t.notes}});
  }
  return json({{"tables", tables}}).dump(2) + "\n";
}

}  // namespace

Format parse_format(const std::string& name) {
  if (name == "table") return Format::Table;
  if (name == "md" || name == "markdown") return Format::Markdown;
  if (name == "csv") return Format::Csv;
  if (name == "latex" || name == "tex") return Format::Latex;
  if (name == "json") return Format::Json;
  throw UserError("unknown format '" + name + "'; use table, md, csv, latex or json");
}

std::string render(const Leaderboard& lb, Format format, const RenderOptions& options) {
  if (options.decimals < 0 || options.decimals > kMaxDecimals)
    throw UserError("--decimals " + std::to_string(options.decimals) + ": must be between 0 and " +
                    std::to_string(kMaxDecimals));
  const int d = options.decimals;
  switch (format) {
    case Format::Table:
      return render_text(lb, d);
    case Format::Markdown:
      return render_md(lb, d);
    case Format::Csv:
      return render_csv(lb);
    case Format::Latex:
      return render_latex(lb, d);
    case Format::Json:
      return render_json(lb);
  }
  return {};
}

}  // namespace merx::leaderboard
