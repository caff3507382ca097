// Internal to merx_datasets: the per-format readers behind read_table() / sheet_names().
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "merx/datasets/table.h"

namespace merx::table_detail {

/// Collects the cells of one sheet in any order of rows and columns, then builds the Table (rows sorted,
/// blank rows dropped, trailing empty cells dropped).
class TableBuilder {
 public:
  /// Sets the text of the cell at 0-based (row, column); `text` is trimmed here.
  void set(size_t row, size_t column, std::string_view text);
  /// Throws UserError "sheet 'S' of FILE is empty" when no cell is non-empty.
  Table build(const std::filesystem::path& file, const std::string& sheet);

 private:
  struct Cell {
    size_t row, column;
    std::string text;
  };
  std::vector<Cell> cells_;
  bool sorted_ = true;
};

std::string_view trim(std::string_view s);

Table read_xlsx(const std::filesystem::path& file, const std::string& sheet);
std::vector<std::string> xlsx_sheet_names(const std::filesystem::path& file);
Table read_csv(const std::filesystem::path& file);

}  // namespace merx::table_detail
