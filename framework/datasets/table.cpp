// Format dispatch, the cell normal form, and header location (see merx/datasets/table.h).
#include "merx/datasets/table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "datasets/table_readers.h"
#include "merx/errors.h"
#include "merx/suggest.h"

namespace merx {

namespace td = table_detail;

namespace {

std::string lower_ext(const std::filesystem::path& file) {
  std::string e = file.extension().string();
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

enum class Format { xlsx, csv };

Format format_of(const std::filesystem::path& file) {
  const std::string e = lower_ext(file);
  if (e == ".xlsx" || e == ".xlsm") return Format::xlsx;
  if (e == ".csv" || e == ".tsv" || e == ".txt") return Format::csv;
  if (e == ".xls")
    throw UserError(file.string() +
                    ": Excel 97-2003 (.xls) workbooks are not read; open it in Excel or LibreOffice and save "
                    "it as .xlsx (Excel Workbook), then point merx at the .xlsx");
  throw UserError(file.string() + ": unsupported annotation file type '" + file.extension().string() +
                  "'; merx reads .xlsx and .csv (save other spreadsheets as .xlsx)");
}

void check_readable(const std::filesystem::path& file) {
  std::error_code ec;
  const auto st = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(st)) throw UserError("annotation file " + file.string() + " does not exist");
  if (std::filesystem::is_directory(st))
    throw UserError("annotation file " + file.string() + " is a directory, not a file");
}

}  // namespace

// ---- Table ----

const std::string& Table::cell(size_t row_index, size_t column) const {
  static const std::string empty;
  if (row_index >= rows.size() || column >= rows[row_index].size()) return empty;
  return rows[row_index][column];
}

std::string Table::where() const {
  return sheet.empty() ? file.string() : file.string() + ", sheet '" + sheet + "'";
}

std::string Table::where(size_t row_index) const {
  const size_t n = row_index < row_numbers.size() ? row_numbers[row_index] : 0;
  return where() + ", row " + std::to_string(n);
}

Table read_table(const std::filesystem::path& file, const std::string& sheet) {
  const Format f = format_of(file);
  check_readable(file);
  if (f == Format::xlsx) return td::read_xlsx(file, sheet);
  if (!sheet.empty())
    throw UserError(file.string() + " is a CSV file and has no sheets; remove the sheet name '" + sheet +
                    "'");
  return td::read_csv(file);
}

std::vector<std::string> sheet_names(const std::filesystem::path& file) {
  const Format f = format_of(file);
  check_readable(file);
  if (f == Format::xlsx) return td::xlsx_sheet_names(file);
  return {""};
}

// ---- TableBuilder ----

namespace table_detail {

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  size_t b = 0, e = s.size();
  while (b < e && ws(s[b])) ++b;
  while (e > b && ws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

void TableBuilder::set(size_t row, size_t column, std::string_view text) {
  text = trim(text);
  if (text.empty()) return;
  if (!cells_.empty()) {
    const Cell& last = cells_.back();
    if (row < last.row || (row == last.row && column <= last.column)) sorted_ = false;
  }
  cells_.push_back({row, column, std::string(text)});
}

Table TableBuilder::build(const std::filesystem::path& file, const std::string& sheet) {
  if (cells_.empty()) {
    if (sheet.empty()) throw UserError(file.string() + " is empty (no non-empty cell)");
    throw UserError("sheet '" + sheet + "' of " + file.string() + " is empty (no non-empty cell)");
  }
  if (!sorted_) {
    // Files list rows and cells in order; a writer that does not still reads right. The last write of a
    // cell wins, as in a spreadsheet program.
    std::stable_sort(cells_.begin(), cells_.end(), [](const Cell& a, const Cell& b) {
      return a.row != b.row ? a.row < b.row : a.column < b.column;
    });
  }
  Table t;
  t.file = file;
  t.sheet = sheet;
  for (size_t i = 0; i < cells_.size(); ++i) {
    Cell& c = cells_[i];
    if (t.row_numbers.empty() || t.row_numbers.back() != c.row + 1) {
      t.rows.emplace_back();
      t.row_numbers.push_back(c.row + 1);
    }
    auto& r = t.rows.back();
    if (r.size() <= c.column) r.resize(c.column + 1);
    r[c.column] = std::move(c.text);
  }
  cells_.clear();
  return t;
}

}  // namespace table_detail

// ---- numbers ----

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    const auto i = static_cast<int64_t>(v);
    return std::to_string(i);  // also turns -0.0 into "0"
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::optional<int64_t> to_integer(std::string_view text) {
  std::string_view s = td::trim(text);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  const size_t dot = s.find('.');
  std::string_view digits = s.substr(0, dot);
  if (digits.empty()) return std::nullopt;
  if (dot != std::string_view::npos) {
    const std::string_view frac = s.substr(dot + 1);
    if (!std::all_of(frac.begin(), frac.end(), [](char c) { return c == '0'; })) return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v >
        (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - static_cast<uint64_t>(c - '0')) / 10)
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  const auto i = static_cast<int64_t>(v);
  return neg ? -i : i;
}

std::optional<double> to_number(std::string_view text) {
  std::string_view s = td::trim(text);
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// ---- header location ----

std::string header_key(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : td::trim(text)) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

namespace {

std::optional<size_t> find_column(const std::vector<std::string>& keys,
                                  const std::vector<std::string>& spellings) {
  for (size_t c = 0; c < keys.size(); ++c) {
    if (keys[c].empty()) continue;
    for (const auto& s : spellings)
      if (keys[c] == header_key(s)) return c;
  }
  return std::nullopt;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return s;
}

}  // namespace

std::optional<size_t> HeaderMatch::find(const std::vector<std::string>& spellings) const {
  return find_column(header, spellings);
}

HeaderMatch find_header(const Table& table,
                        const std::vector<std::vector<std::string>>& required_alternatives,
                        size_t max_scan_rows) {
  if (table.rows.empty()) {
    if (table.sheet.empty()) throw UserError(table.file.string() + " is empty (no non-empty cell)");
    throw UserError("sheet '" + table.sheet + "' of " + table.file.string() +
                    " is empty (no non-empty cell)");
  }
  const size_t scan = std::min(max_scan_rows, table.rows.size());
  size_t best_row = 0, best_found = 0;
  for (size_t r = 0; r < scan; ++r) {
    std::vector<std::string> keys;
    keys.reserve(table.rows[r].size());
    for (const auto& cell : table.rows[r]) keys.push_back(header_key(cell));
    HeaderMatch m;
    size_t found = 0;
    for (const auto& alts : required_alternatives) {
      if (alts.empty()) continue;
      if (auto c = find_column(keys, alts)) {
        m.columns[alts.front()] = *c;
        ++found;
      }
    }
    if (found == required_alternatives.size()) {
      if (r + 1 >= table.rows.size())
        throw UserError(table.where() + ": no data rows below the header in row " +
                        std::to_string(table.row_numbers[r]));
      m.row_index = r;
      m.row_number = table.row_numbers[r];
      m.header = std::move(keys);
      return m;
    }
    if (found > best_found) {
      best_found = found;
      best_row = r;
    }
  }

  // Report against the row that looked most like the header (or the first row when none matched at all).
  const auto& row = table.rows[best_row];
  std::vector<std::string> keys;
  for (const auto& cell : row) keys.push_back(header_key(cell));
  // Columns that other required columns already match are never offered as the missing one ("OffsetFrame"
  // is no hint for a missing "OnsetFrame" when it is the offset column).
  std::vector<bool> claimed(row.size(), false);
  for (const auto& alts : required_alternatives)
    if (!alts.empty())
      if (auto c = find_column(keys, alts); c && *c < claimed.size()) claimed[*c] = true;
  std::vector<std::string> missing_msgs;
  for (const auto& alts : required_alternatives) {
    if (alts.empty()) continue;
    if (find_column(keys, alts)) continue;
    // The closest header cell to any accepted spelling, compared without spaces so that "OnsetFrame" finds
    // "Onset Frame".
    std::string best;
    size_t best_d = std::numeric_limits<size_t>::max();
    for (size_t ci = 0; ci < row.size(); ++ci) {
      const auto& cell = row[ci];
      if (claimed[ci] || header_key(cell).empty()) continue;
      std::string squeezed;
      for (char ch : header_key(cell))
        if (ch != ' ') squeezed += ch;
      for (const auto& a : alts) {
        std::string sa;
        for (char ch : header_key(a))
          if (ch != ' ') sa += ch;
        const size_t d = edit_distance(sa, squeezed);
        const size_t limit = std::max<size_t>(1, std::max(sa.size(), squeezed.size()) / 3);
        if (d <= limit && d < best_d) {
          best_d = d;
          best = std::string(td::trim(cell));
        }
      }
    }
    std::string msg = "column '" + alts.front() + "' not found";
    if (alts.size() > 1) {
      std::vector<std::string> others(alts.begin() + 1, alts.end());
      msg += " (also accepted: " + quoted_list(others) + ")";
    }
    if (!best.empty()) msg += "; the sheet has '" + best + "'?";
    missing_msgs.push_back(msg);
  }
  std::string header_text;
  for (const auto& cell : row)
    if (!cell.empty()) header_text += (header_text.empty() ? "'" : ", '") + cell + "'";
  std::string msg = table.where() + ": no header row with the expected columns in the first " +
                    std::to_string(scan) + " non-blank rows; ";
  for (size_t i = 0; i < missing_msgs.size(); ++i) msg += (i ? "; " : "") + missing_msgs[i];
  msg +=
      ". Closest header candidate: row " + std::to_string(table.row_numbers[best_row]) + ": " + header_text;
  throw UserError(msg);
}

}  // namespace merx
