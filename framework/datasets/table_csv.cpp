// CSV reading (RFC 4180 plus what spreadsheet exports add: UTF-8 BOM, CRLF or LF, ';' or tab separators).
// Hand-written because the format is a few lines of state machine and no Debian C++ CSV library is worth
// a dependency for it; it reads the whole file at once (annotation files are kilobytes).
#include <fstream>
#include <sstream>

#include "datasets/table_readers.h"
#include "merx/errors.h"

namespace merx::table_detail {

namespace {

// ',' unless the first non-blank line has none outside quotes but has ';' or a tab.
char sniff_separator(std::string_view s) {
  size_t commas = 0, semis = 0, tabs = 0;
  bool quoted = false, seen = false;
  for (char c : s) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '\n') {
      if (seen) break;
      continue;
    }
    if (c != '\r' && c != ' ') seen = true;
    commas += c == ',';
    semis += c == ';';
    tabs += c == '\t';
  }
  if (commas > 0) return ',';
  if (tabs > 0) return '\t';
  if (semis > 0) return ';';
  return ',';
}

}  // namespace

Table read_csv(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UserError("cannot open annotation file " + file.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  std::string_view s(data);
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  if (s.size() >= 2 && (s.substr(0, 2) == "\xFF\xFE" || s.substr(0, 2) == "\xFE\xFF"))
    throw UserError(file.string() + " is UTF-16 text; save it as CSV UTF-8 (or as .xlsx)");
  const char sep = sniff_separator(s);

  TableBuilder b;
  size_t line = 0;         // 0-based physical line of the current position
  size_t record_line = 0;  // line where the current record started
  size_t column = 0;
  std::string field;
  bool in_quotes = false, field_quoted = false;
  const auto end_field = [&] {
    b.set(record_line, column, field);
    field.clear();
    field_quoted = false;
    ++column;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_quoted && trim(field).empty()) {
      // A quote opens a quoted field only at its start (spaces before it are dropped, as by Excel).
      field.clear();
      in_quotes = field_quoted = true;
    } else if (c == sep) {
      end_field();
    } else if (c == '\n' || c == '\r') {
      end_field();
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      ++line;
      record_line = line;
      column = 0;
    } else {
      field += c;  // text after a closing quote is kept, as spreadsheet programs do
    }
  }
  if (in_quotes)
    throw UserError(file.string() + ", row " + std::to_string(record_line + 1) +
                    ": a quoted field is not closed before the end of the file");
  if (!field.empty() || column > 0) end_field();
  return b.build(file, "");
}

}  // namespace merx::table_detail
