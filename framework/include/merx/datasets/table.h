// Reading a corpus's annotation file (.xlsx or .csv) into text cells, and finding its header row.
//
// Adapters read the official spreadsheets unchanged; every cell arrives as text normalised the same way
// whichever program wrote the file (Excel, libxlsxwriter, openpyxl/pandas, a CSV export), so an adapter
// sees one representation and the sheet quirks (preamble rows, blank columns, padded ids, numbers stored as
// text) are dealt with in one place, the adapter, with the helpers below.
//
// Cell text (the normal form):
//   - numbers: format_number(): shortest round-trip decimal, integral values without a fraction
//     (123.0 -> "123", 0.5 -> "0.5"); dates are numbers too (Excel serial days): no corpus needs them;
//   - booleans: "TRUE" / "FALSE";
//   - strings (shared, inline, rich text runs concatenated): trimmed of surrounding ASCII whitespace,
//     interior kept byte for byte (UTF-8, e.g. "，" stays);
//   - formula cells: their cached value; an .xlsx formula without a cached value (openpyxl writes none)
//     is evaluated with libixion, and one that cannot be evaluated is a UserError naming the cell;
//   - error values ("#N/A", "#DIV/0!"): their text;
//   - CSV cells are text as written (trimmed, quotes removed); "123.0" in a CSV stays "123.0" (use
//     to_integer() to read ids and frame numbers from either format).
// Rows: rows whose cells are all empty are dropped (blank rows between records), trailing empty cells of a
// row are dropped (so rows are ragged), empty cells before the last non-empty one are kept as "" (column
// positions are true: rows[i][2] is column C / the third CSV field). row_numbers keep the true 1-based row
// numbers of the file or sheet, for messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace merx {

struct Table {
  std::filesystem::path file;                  // as given to read_table
  std::string sheet;                           // sheet name (.xlsx); "" for .csv
  std::vector<std::vector<std::string>> rows;  // non-blank rows, in file order; ragged
  std::vector<size_t> row_numbers;             // 1-based row number in the file/sheet of rows[i]

  /// Cell text, "" when the row is shorter (ragged rows) or `row_index`/`column` is out of range.
  const std::string& cell(size_t row_index, size_t column) const;

  /// Where rows[row_index] lives, for messages: "FILE, sheet 'Sheet1', row 17" (.xlsx) or
  /// "FILE, row 17" (.csv). FILE is file.string().
  std::string where(size_t row_index) const;

  /// "FILE, sheet 'Sheet1'" (.xlsx) or "FILE" (.csv).
  std::string where() const;
};

/// Reads `file`, dispatching on its extension (case-insensitive):
///   .xlsx / .xlsm  the sheet called `sheet` (exact name), or the first sheet when `sheet` is empty;
///   .csv / .tsv / .txt  RFC 4180 (quoted fields with "" escapes and embedded newlines), LF or CRLF,
///                  optional UTF-8 BOM; separator ',' unless the first non-blank line has no ',' outside
///                  quotes but has ';' or a tab (then that one); `sheet` must be empty.
/// Throws UserError (naming the file) when: the file is missing or unreadable; the extension is .xls /
/// .ods / other ("save it as .xlsx"); the .xlsx is not a valid zip/workbook; `sheet` does not exist (the
/// message lists the sheets); a formula has no cached value and cannot be evaluated; the sheet/file has no
/// non-empty cell ("sheet 'X' of FILE is empty").
Table read_table(const std::filesystem::path& file, const std::string& sheet = "");

/// The sheet names of an .xlsx workbook in workbook order; {""} for a CSV file. Throws UserError like
/// read_table.
std::vector<std::string> sheet_names(const std::filesystem::path& file);

/// Column name (canonical, i.e. the first accepted spelling) -> 0-based column index.
using ColumnMap = std::map<std::string, size_t>;

/// The header row found by find_header.
struct HeaderMatch {
  size_t row_index = 0;             // index into Table::rows of the header row
  size_t row_number = 0;            // its 1-based row number in the file/sheet
  ColumnMap columns;                // each required column's first spelling -> column index
  std::vector<std::string> header;  // the header row's cells, normalised (see header_key)

  /// Index of a required column by its canonical name; throws std::out_of_range for a name that was
  /// not among the required columns (a programming error, not a user error).
  size_t at(const std::string& canonical) const { return columns.at(canonical); }

  /// Column index of an optional column (any of `spellings`, matched like required ones), or nullopt.
  std::optional<size_t> find(const std::vector<std::string>& spellings) const;
};

/// Finds the first row among the first `max_scan_rows` non-blank rows that contains every required column.
/// Each entry of `required_alternatives` lists the accepted spellings of one column, the first being its
/// canonical name (key of HeaderMatch::columns), e.g. {{"OnsetFrame", "Onset Frame", "OnsetF"}, {"Subject"}}.
/// Matching is case-insensitive after trimming and collapsing runs of spaces (header_key); header cells
/// that are blank are ignored; when a spelling occurs twice in the row the leftmost column wins.
/// Throws UserError naming the file and sheet when the table is empty ("sheet 'X' of FILE is empty"), when
/// no row has every column (the message lists the missing columns of the best-matching row and, for each,
/// the closest header text seen: "column 'OnsetFrame' not found; the sheet has 'Onset Frame'?"), or when
/// no row follows the header ("no data rows below the header in row 3").
HeaderMatch find_header(const Table& table,
                        const std::vector<std::vector<std::string>>& required_alternatives,
                        size_t max_scan_rows = 50);

/// Header matching key: ASCII-lowercased, trimmed, runs of whitespace collapsed to one space.
std::string header_key(std::string_view text);

/// Integer value of a cell written as an integer in any of the forms that occur: "123", " 123 ", "+123",
/// "0123" (-> 123), "123.0", "123.000", "-4". nullopt for anything else ("", "/", "12.5", "1e3", "abc").
std::optional<int64_t> to_integer(std::string_view text);

/// Number value of a cell ("0.5", "123", "1e-3", " 7 "); nullopt when the text is not entirely a number.
std::optional<double> to_number(std::string_view text);

/// Shortest round-trip text of `v` in the cell normal form: integral values of magnitude below 1e15 without
/// a fraction (123.0 -> "123", -0.0 -> "0"), others shortest round-trip via std::to_chars (0.5 -> "0.5",
/// 1e20 -> "1e+20"); NaN -> "nan", infinities -> "inf" / "-inf".
std::string format_number(double v);

}  // namespace merx
