// CSV and MEGC2019 exports (merx/store/export.h), through Store::query only.
#include "merx/store/export.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "merx/csv.h"
#include "merx/errors.h"

namespace merx {
namespace {

namespace fs = std::filesystem;

std::string csv_field(const SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf;
  }
  return merx::csv_field(std::get<std::string>(v));
}

std::string csv_line(const std::vector<SqlValue>& row) {
  std::string line;
  for (std::size_t i = 0; i < row.size(); ++i) line += (i ? "," : "") + csv_field(row[i]);
  return line + "\n";
}

std::ofstream open_out(const fs::path& file) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw UserError("export: cannot write " + file.string());
  return out;
}

void make_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw UserError("export: cannot create folder " + dir.string() + ": " + ec.message());
}

std::string safe(const std::string& s) {
  std::string o;
  for (char c : s)
    o += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  return o.empty() ? "_" : o;
}

}  // namespace

ExportSummary export_csv(const Store& store, const std::string& dir) {
  make_dir(dir);
  std::vector<std::string> tables;
  store.query(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid", {},
      [&](const std::vector<SqlValue>& r) { tables.push_back(std::get<std::string>(r[0])); });
  ExportSummary sum;
  for (const auto& t : tables) {
    const fs::path file = fs::path(dir) / (t + ".csv");
    std::ofstream out = open_out(file);
    std::vector<std::string> cols;
    bool header = false;
    auto write_header = [&] {
      std::vector<SqlValue> h(cols.begin(), cols.end());
      out << csv_line(h);
      header = true;
    };
    store.query(
        "SELECT * FROM \"" + t + "\" ORDER BY rowid", {},
        [&](const std::vector<SqlValue>& r) {
          if (!header) write_header();
          out << csv_line(r);
          ++sum.rows;
        },
        &cols);
    if (!header) write_header();
    if (!out.flush()) throw UserError("export: cannot write " + file.string());
    sum.files.push_back(file.string());
  }
  return sum;
}

ExportSummary export_megc(const Store& store, const std::string& path,
                          const std::optional<std::string>& experiment) {
  struct Group {
    std::string name;
    std::vector<std::vector<SqlValue>> rows;
  };
  std::map<int64_t, Group> groups;
  store.query(
      "SELECT g.id, e.name, g.variant, g.point_index, g.seed, p.sample_key, p.true_class, p.predicted_class "
      "FROM predictions p JOIN cells c ON c.id = p.cell_id JOIN groups g ON g.id = c.group_id "
      "JOIN experiments e ON e.id = g.experiment_id "
      "WHERE c.status = 'done' AND IFNULL(c.selection, '') <> 'oracle' AND (?1 IS NULL OR e.name = ?1) "
      "ORDER BY g.id, c.id, p.id",
      {experiment ? SqlValue(*experiment) : SqlValue()}, [&](const std::vector<SqlValue>& r) {
        Group& g = groups[std::get<int64_t>(r[0])];
        if (g.name.empty()) {
          const std::string variant = std::get<std::string>(r[2]);
          g.name = safe(std::get<std::string>(r[1])) + "__" +
                   (variant.empty() ? "p" + std::to_string(std::get<int64_t>(r[3])) : safe(variant)) +
                   "__seed" + std::to_string(std::get<int64_t>(r[4])) + ".csv";
        }
        const std::string key = std::get<std::string>(r[5]);
        const auto s1 = key.find('/');
        const auto s2 = s1 == std::string::npos ? s1 : key.find('/', s1 + 1);
        std::string dataset = key, subject, file;
        if (s2 != std::string::npos) {
          dataset = key.substr(0, s1);
          subject = key.substr(s1 + 1, s2 - s1 - 1);
          file = key.substr(s2 + 1);
        } else if (s1 != std::string::npos) {
          dataset = key.substr(0, s1);
          file = key.substr(s1 + 1);
        }
        g.rows.push_back({dataset, subject, file, r[6], r[7]});
      });
  const std::vector<SqlValue> header = {std::string("dataset"), std::string("subject"),
                                        std::string("filename"), std::string("label"),
                                        std::string("prediction")};
  ExportSummary sum;
  auto write = [&](const fs::path& file, const Group& g) {
    std::ofstream out = open_out(file);
    out << csv_line(header);
    for (const auto& r : g.rows) out << csv_line(r);
    if (!out.flush()) throw UserError("export: cannot write " + file.string());
    sum.files.push_back(file.string());
    sum.rows += g.rows.size();
  };
  const bool to_dir = fs::is_directory(path) || (!path.empty() && path.back() == '/');
  if (to_dir) {
    make_dir(path);
    for (const auto& [id, g] : groups) write(fs::path(path) / g.name, g);
    return sum;
  }
  if (groups.size() != 1)
    throw UserError(
        "export: " + std::to_string(groups.size()) + " groups have predictions" +
        (experiment ? " in experiment " + *experiment : std::string()) +
        "; the MEGC layout holds one run per file: give a folder (ending in '/') to get one file per group" +
        (experiment ? std::string() : ", or --experiment NAME"));
  write(path, groups.begin()->second);
  return sum;
}

}  // namespace merx
