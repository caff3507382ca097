// leaderboard::per_class: per-class F1 of the selected sweep points, from the stored group metrics.
#include "merx/leaderboard/per_class.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "merx/csv.h"
#include "merx/errors.h"

namespace merx::leaderboard {
namespace {

using json = nlohmann::json;

std::string sql_string(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return {};
}

Estimate estimate_of(const std::vector<double>& v) {
  Estimate e;
  e.n = static_cast<int>(v.size());
  if (v.empty()) return e;
  double sum = 0;
  for (double x : v) sum += x;
  e.mean = sum / static_cast<double>(v.size());
  if (v.size() >= 2) {
    double ss = 0;
    for (double x : v) ss += (x - *e.mean) * (x - *e.mean);
    e.se = std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::sqrt(static_cast<double>(v.size()));
  }
  return e;
}

std::string fixed(const std::optional<double>& v, int d) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", d, *v);
  return buf;
}

std::string cell_text(const Estimate& e, int d) {
  if (!e.mean) return "-";
  return fixed(e.mean, d) + " ± " + fixed(e.se, d) + " (n=" + std::to_string(e.n) + ")";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string title(const PerClassTable& t) {
  return "per-class F1 - " + t.protocol + " over " + join(t.datasets, ", ") +
         (t.oracle ? " - ORACLE model selection" : "");
}

std::string tex(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '_' || c == '&' || c == '%' || c == '#' || c == '$' || c == '{' || c == '}') o += '\\';
    if (c == '~' || c == '^' || c == '\\') {
      o += c == '~' ? "\\textasciitilde{}" : c == '^' ? "\\textasciicircum{}" : "\\textbackslash{}";
      continue;
    }
    o += c;
  }
  return o;
}

}  // namespace

std::vector<PerClassTable> per_class(const Store& store, const Leaderboard& lb) {
  std::vector<PerClassTable> out;
  for (const Table& t : lb.tables) {
    PerClassTable pc;
    pc.protocol = t.protocol;
    pc.datasets = t.datasets;
    pc.oracle = t.oracle;
    pc.data_version = t.data_version;
    std::vector<size_t> cols;
    for (size_t c = 0; c < t.columns.size(); ++c)
      if (t.columns[c] != "mean") {
        pc.targets.push_back(t.columns[c]);
        cols.push_back(c);
      }
    // [row][target][class] -> per-seed F1
    std::vector<std::vector<std::map<std::string, std::vector<double>>>> f1(
        t.selected.size(), std::vector<std::map<std::string, std::vector<double>>>(cols.size()));
    for (size_t ri = 0; ri < t.selected.size(); ++ri) {
      const Row& r = t.selected[ri];
      for (size_t k = 0; k < cols.size(); ++k) {
        const Estimate& e = r.values[t.value_index(cols[k], 0)];
        if (!e.point) continue;
        const bool pooled = t.columns[cols[k]] == "pooled";
        for (const auto& [seed, v] : e.by_seed) {
          (void)v;
          // The group of this (method, point, seed) in this table's block; the lowest id as the leaderboard
          // keeps when several exist.
          store.query(
              "SELECT m.class, m.value FROM metrics m WHERE m.group_id = (SELECT min(g.id) FROM groups g "
              "WHERE g.point_hash = ?1 AND g.variant = ?2 AND g.seed = ?3 AND g.protocol = ?4 AND "
              "g.datasets_json = ?5 AND IFNULL(g.data_version, '') = ?6) AND m.name = 'f1' AND m.class IS "
              "NOT NULL AND m.scope = ?7 AND (?7 = 'pooled' OR m.target = ?8) ORDER BY m.id",
              {e.point->point_hash, r.method.variant, seed, t.protocol, t.datasets_json(), t.data_version,
               std::string(pooled ? "pooled" : "target"), t.columns[cols[k]]},
              [&](const std::vector<SqlValue>& row) {
                const std::string cls = sql_string(row[0]);
                if (std::find(pc.classes.begin(), pc.classes.end(), cls) == pc.classes.end())
                  pc.classes.push_back(cls);
                if (const auto value = sql_real(row[1])) f1[ri][k][cls].push_back(*value);
              });
        }
      }
    }
    for (size_t ri = 0; ri < t.selected.size(); ++ri) {
      PerClassRow row{t.selected[ri].method, {}};
      for (size_t k = 0; k < cols.size(); ++k)
        for (const auto& cls : pc.classes) {
          auto it = f1[ri][k].find(cls);
          row.values.push_back(estimate_of(it == f1[ri][k].end() ? std::vector<double>{} : it->second));
        }
      pc.rows.push_back(std::move(row));
    }
    out.push_back(std::move(pc));
  }
  return out;
}

std::string render_per_class(const std::vector<PerClassTable>& tables, Format format,
                             const RenderOptions& options) {
  if (options.decimals < 0 || options.decimals > kMaxDecimals)
    throw UserError("--decimals " + std::to_string(options.decimals) + ": must be between 0 and " +
                    std::to_string(kMaxDecimals));
  const int d = options.decimals;
  std::ostringstream out;
  if (format == Format::Json) {
    json a = json::array();
    for (const PerClassTable& t : tables) {
      json rows = json::array();
      for (const PerClassRow& r : t.rows) {
        json values = json::object();
        for (size_t k = 0; k < t.targets.size(); ++k)
          for (size_t c = 0; c < t.classes.size(); ++c) {
            const Estimate& e = r.values[k * t.classes.size() + c];
            values[t.targets[k]][t.classes[c]] = {
                {"mean", e.mean ? json(*e.mean) : json()}, {"se", e.se ? json(*e.se) : json()}, {"n", e.n}};
          }
        rows.push_back({{"method", r.method.label()}, {"variant", r.method.variant}, {"f1", values}});
      }
      a.push_back({{"protocol", t.protocol},
                   {"datasets", t.datasets},
                   {"oracle", t.oracle},
                   {"targets", t.targets},
                   {"classes", t.classes},
                   {"rows", rows}});
    }
    return json({{"per_class", a}}).dump(2) + "\n";
  }
  if (format == Format::Csv) {
    out << "table,protocol,datasets,oracle,method,variant,target,class,f1_mean,f1_se,n\n";
    for (size_t ti = 0; ti < tables.size(); ++ti) {
      const PerClassTable& t = tables[ti];
      for (const PerClassRow& r : t.rows)
        for (size_t k = 0; k < t.targets.size(); ++k)
          for (size_t c = 0; c < t.classes.size(); ++c) {
            const Estimate& e = r.values[k * t.classes.size() + c];
            char m[40] = "", s[40] = "";
            if (e.mean) std::snprintf(m, sizeof m, "%.17g", *e.mean);
            if (e.se) std::snprintf(s, sizeof s, "%.17g", *e.se);
            out << ti << "," << csv_field(t.protocol) << "," << csv_field(join(t.datasets, "+")) << ","
                << (t.oracle ? 1 : 0) << "," << csv_field(r.method.label()) << ","
                << csv_field(r.method.variant) << "," << csv_field(t.targets[k]) << ","
                << csv_field(t.classes[c]) << "," << m << "," << s << "," << e.n << "\n";
          }
    }
    return out.str();
  }
  for (size_t ti = 0; ti < tables.size(); ++ti) {
    const PerClassTable& t = tables[ti];
    const bool several = t.targets.size() > 1;
    std::vector<std::string> header = {"Method"};
    for (const auto& target : t.targets)
      for (const auto& cls : t.classes) header.push_back(several ? target + " " + cls : cls);
    std::vector<std::vector<std::string>> rows;
    for (const PerClassRow& r : t.rows) {
      std::vector<std::string> row = {r.method.label()};
      for (const Estimate& e : r.values)
        row.push_back(format == Format::Latex ? fixed(e.mean, d) : cell_text(e, d));
      rows.push_back(row);
    }
    if (ti) out << "\n";
    if (format == Format::Latex) {
      const size_t nc = t.classes.size();
      out << "\\begin{table}[t]\n  \\centering\n  \\caption{Per-class F1 (mean over seeds), "
          << tex(t.protocol) << " over " << tex(join(t.datasets, ", "))
          << "; the sweep points selected by source-validation UF1 per method and target.}\n";
      out << "  \\begin{tabular}{l" << std::string(t.targets.size() * nc, 'c')
          << "}\n    \\toprule\n    Method";
      if (several) {
        for (const auto& target : t.targets)
          out << " & \\multicolumn{" << nc << "}{c}{" << tex(target) << "}";
        out << " \\\\\n    ";
        for (size_t k = 0; k < t.targets.size(); ++k)
          out << (k ? " " : "") << "\\cmidrule(lr){" << 2 + k * nc << "-" << 1 + (k + 1) * nc << "}";
        out << "\n   ";
        for (size_t k = 0; k < t.targets.size(); ++k)
          for (const auto& cls : t.classes) out << " & " << tex(cls);
      } else {
        for (const auto& cls : t.classes) out << " & " << tex(cls);
      }
      out << " \\\\\n    \\midrule\n";
      for (const auto& row : rows) {
        out << "    " << tex(row[0]);
        for (size_t i = 1; i < row.size(); ++i) out << " & " << (row[i] == "-" ? "--" : row[i]);
        out << " \\\\\n";
      }
      out << "    \\bottomrule\n  \\end{tabular}\n\\end{table}\n";
      continue;
    }
    if (format == Format::Markdown) {
      out << "### " << title(t) << "\n\n";
      out << "|";
      for (const auto& h : header) out << " " << h << " |";
      out << "\n|";
      for (size_t i = 0; i < header.size(); ++i) out << (i ? " ---: |" : " --- |");
      out << "\n";
      for (const auto& row : rows) {
        out << "|";
        for (const auto& c : row) out << " " << c << " |";
        out << "\n";
      }
      continue;
    }
    out << "== " << title(t) << " ==\n";
    std::vector<size_t> w(header.size());
    auto width = [](const std::string& s) {
      size_t n = 0;
      for (unsigned char c : s) n += (c & 0xC0) != 0x80;
      return n;
    };
    for (size_t i = 0; i < header.size(); ++i) w[i] = width(header[i]);
    for (const auto& row : rows)
      for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], width(row[i]));
    auto line = [&](const std::vector<std::string>& row) {
      for (size_t i = 0; i < row.size(); ++i)
        out << row[i] << (i + 1 < row.size() ? std::string(w[i] + 2 - width(row[i]), ' ') : "");
      out << "\n";
    };
    line(header);
    for (const auto& row : rows) line(row);
  }
  return out.str();
}

}  // namespace merx::leaderboard
