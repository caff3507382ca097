// Annotation workbooks: the same logical sheet written by libxlsxwriter (shared strings, rich text, stored
// formula values), by libxlsxwriter in constant-memory mode (inline strings) and by openpyxl (absolute
// relationship targets, inline strings, formulas without stored values) reads identically, cell for cell;
// broken and unsuitable files are UserErrors naming the file.
#include <doctest/doctest.h>
#include <xlsxwriter.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "merx/datasets/table.h"
#include "merx/errors.h"
#include "test_dir.h"

using merx::read_table;
using merx::Table;
using merx::UserError;
using merx::test::TempDir;
using merx::test::write_file;

namespace {

using Rows = std::vector<std::vector<std::string>>;

// The logical sheet 'Coding' as every reader must return it (written by hand).
const Rows kExpectedRows = {
    {"CASME II coding sheet (test)"},
    {"Subject", "Filename", "", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion",
     "Note"},
    {"1", "EP02_01f", "x", "46", "59", "86", "AU4+L10", "happiness", "red and plain"},
    {"04", "EP12_01f", "", "261", "/", "321", "R14A or 17A", "disgust", "a  b"},
    {"26", "EP18_46", "", "0.5", "1.5", "47", "4，7", "sadness", "TRUE"},
};
const std::vector<size_t> kExpectedRowNumbers = {1, 2, 3, 5, 6};

// Keep in step with logical() in write_sheet_openpyxl.py.
void write_logical_xlsxwriter(const std::filesystem::path& file, bool constant_memory) {
  lxw_workbook_options opt{};
  opt.constant_memory = constant_memory ? LXW_TRUE : LXW_FALSE;
  lxw_workbook* wb = workbook_new_opt(file.c_str(), &opt);
  REQUIRE(wb != nullptr);
  lxw_worksheet* ws = workbook_add_worksheet(wb, "Coding");
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  worksheet_write_string(ws, 0, 0, "CASME II coding sheet (test)", nullptr);  // preamble row
  const char* header[] = {"Subject",      "Filename",          nullptr,
                          "OnsetFrame",   "ApexFrame",         "OffsetFrame",
                          "Action Units", "Estimated Emotion", "Note"};
  for (lxw_col_t c = 0; c < 9; ++c)
    if (header[c]) worksheet_write_string(ws, 1, c, header[c], nullptr);  // C2 blank: unnamed column
  worksheet_write_number(ws, 2, 0, 1, nullptr);
  worksheet_write_string(ws, 2, 1, "EP02_01f", nullptr);
  worksheet_write_string(ws, 2, 2, "x", nullptr);
  worksheet_write_number(ws, 2, 3, 46, nullptr);
  worksheet_write_number(ws, 2, 4, 59, nullptr);
  worksheet_write_number(ws, 2, 5, 86, nullptr);
  worksheet_write_string(ws, 2, 6, "AU4+L10", nullptr);
  worksheet_write_string(ws, 2, 7, "happiness", nullptr);
  if (constant_memory) {
    worksheet_write_string(ws, 2, 8, "red and plain", nullptr);
  } else {
    lxw_rich_string_tuple red{}, plain{};
    red.format = bold;
    red.string = const_cast<char*>("red");
    plain.format = nullptr;
    plain.string = const_cast<char*>(" and plain");
    lxw_rich_string_tuple* runs[] = {&red, &plain, nullptr};
    REQUIRE(worksheet_write_rich_string(ws, 2, 8, runs, nullptr) == LXW_NO_ERROR);
  }
  // row 4 (index 3) blank between records
  worksheet_write_string(ws, 4, 0, "04", nullptr);  // padded id stored as text
  worksheet_write_string(ws, 4, 1, "EP12_01f", nullptr);
  worksheet_write_string(ws, 4, 3, "261", nullptr);  // number stored as text
  worksheet_write_string(ws, 4, 4, "/", nullptr);
  worksheet_write_number(ws, 4, 5, 321.0, nullptr);
  worksheet_write_string(ws, 4, 6, "R14A or 17A", nullptr);
  worksheet_write_string(ws, 4, 7, "  disgust ", nullptr);
  worksheet_write_string(ws, 4, 8, "a  b", nullptr);
  worksheet_write_number(ws, 5, 0, 26, nullptr);
  worksheet_write_string(ws, 5, 1, "EP18_46", nullptr);
  worksheet_write_number(ws, 5, 3, 0.5, nullptr);
  worksheet_write_formula_num(ws, 5, 4, "=D6+1", nullptr, 1.5);  // formula with its stored value
  worksheet_write_formula_num(ws, 5, 5, "=D3+1", nullptr, 47);
  worksheet_write_string(ws, 5, 6, "4，7", nullptr);
  worksheet_write_string(ws, 5, 7, "sadness", nullptr);
  worksheet_write_boolean(ws, 5, 8, 1, nullptr);
  workbook_add_worksheet(wb, "Empty");
  lxw_worksheet* nh = workbook_add_worksheet(wb, "NoHeader");
  const char* nh_header[] = {"Subject", "Filename", "Onset Frame", "ApexFrame", "OffsetFrame"};
  for (lxw_col_t c = 0; c < 5; ++c) worksheet_write_string(nh, 0, c, nh_header[c], nullptr);
  worksheet_write_number(nh, 1, 0, 1, nullptr);
  worksheet_write_string(nh, 1, 1, "EP02_01f", nullptr);
  worksheet_write_number(nh, 1, 2, 46, nullptr);
  worksheet_write_number(nh, 1, 3, 59, nullptr);
  worksheet_write_number(nh, 1, 4, 86, nullptr);
  REQUIRE(workbook_close(wb) == LXW_NO_ERROR);
}

void write_openpyxl(const std::filesystem::path& file, const std::string& kind) {
  const std::string cmd = std::string("'") + MERX_SYSTEM_PYTHON3 + "' '" + MERX_OPENPYXL_WRITER + "' '" +
                          file.string() + "' " + kind;
  INFO("needs Debian's python3-openpyxl (tools/bootstrap installs it): " << cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

const char* const kLogicalCsv =
    "\xEF\xBB\xBF"
    "CASME II coding sheet (test),,,,,,,,\r\n"
    "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion,Note\r\n"
    "1,EP02_01f,x,46,59,86,AU4+L10,happiness,red and plain\r\n"
    ",,,,,,,,\r\n"
    "04,EP12_01f,,261,/,321,R14A or 17A,  disgust ,a  b\r\n"
    "26,EP18_46,,0.5,1.5,47,\"4，7\",sadness,TRUE\r\n";

void check_logical(const Table& t, const std::filesystem::path& file, const std::string& sheet) {
  CHECK(t.file == file);
  CHECK(t.sheet == sheet);
  CHECK(t.row_numbers == kExpectedRowNumbers);
  REQUIRE(t.rows.size() == kExpectedRows.size());
  for (size_t r = 0; r < kExpectedRows.size(); ++r) {
    INFO("row " << kExpectedRowNumbers[r]);
    CHECK(t.rows[r] == kExpectedRows[r]);
  }
}

template <typename F>
std::string user_error_of(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError");
  return "";
}

}  // namespace

TEST_CASE(
    "xlsx from libxlsxwriter reads as the logical sheet: preamble, blank column and row, text numbers, "
    "formulas") {
  TempDir dir;
  const auto file = dir / "coding-xlsxwriter.xlsx";
  write_logical_xlsxwriter(file, false);
  check_logical(read_table(file), file, "Coding");
  check_logical(read_table(file, "Coding"), file, "Coding");
}

TEST_CASE("xlsx from libxlsxwriter in constant-memory mode (inline strings) reads identically") {
  TempDir dir;
  const auto file = dir / "coding-constmem.xlsx";
  write_logical_xlsxwriter(file, true);
  check_logical(read_table(file), file, "Coding");
}

TEST_CASE(
    "xlsx from openpyxl (absolute targets, inline strings, formulas without values) reads identically") {
  TempDir dir;
  const auto op = dir / "coding-openpyxl.xlsx";
  const auto lx = dir / "coding-xlsxwriter.xlsx";
  write_openpyxl(op, "logical");
  write_logical_xlsxwriter(lx, false);
  const Table a = read_table(op), b = read_table(lx);
  check_logical(a, op, "Coding");
  CHECK(a.rows == b.rows);
  CHECK(a.row_numbers == b.row_numbers);
  CHECK(merx::sheet_names(op) == std::vector<std::string>{"Coding", "Empty", "NoHeader"});
}

TEST_CASE("csv with BOM and CRLF reads identically to the xlsx") {
  TempDir dir;
  const auto csv = dir / "coding.csv";
  write_file(csv, kLogicalCsv);
  check_logical(read_table(csv), csv, "");
  CHECK(merx::sheet_names(csv) == std::vector<std::string>{""});
}

TEST_CASE("sheet_names lists the sheets in workbook order") {
  TempDir dir;
  const auto file = dir / "w.xlsx";
  write_logical_xlsxwriter(file, false);
  CHECK(merx::sheet_names(file) == std::vector<std::string>{"Coding", "Empty", "NoHeader"});
}

TEST_CASE("an empty sheet is a UserError naming the sheet and the file, from either writer") {
  TempDir dir;
  const auto lx = dir / "lx.xlsx";
  const auto op = dir / "op.xlsx";
  write_logical_xlsxwriter(lx, false);
  write_openpyxl(op, "logical");
  for (const auto& file : {lx, op}) {
    const std::string msg = user_error_of([&] { read_table(file, "Empty"); });
    CHECK(msg.find("sheet 'Empty' of " + file.string() + " is empty") != std::string::npos);
  }
}

TEST_CASE("a sheet without the expected header is a UserError naming file, sheet and the closest header") {
  TempDir dir;
  const auto lx = dir / "lx.xlsx";
  const auto op = dir / "op.xlsx";
  write_logical_xlsxwriter(lx, false);
  write_openpyxl(op, "logical");
  for (const auto& file : {lx, op}) {
    const Table t = read_table(file, "NoHeader");
    const std::string msg = user_error_of([&] {
      merx::find_header(
          t, {{"Subject"}, {"Filename"}, {"OnsetFrame", "OnsetF"}, {"ApexFrame"}, {"OffsetFrame"}});
    });
    CHECK(msg.find(file.string() + ", sheet 'NoHeader'") != std::string::npos);
    CHECK(msg.find("column 'OnsetFrame' not found") != std::string::npos);
    CHECK(msg.find("the sheet has 'Onset Frame'?") != std::string::npos);
  }
}

TEST_CASE("an unknown sheet name lists the workbook's sheets") {
  TempDir dir;
  const auto file = dir / "w.xlsx";
  write_logical_xlsxwriter(file, false);
  const std::string msg = user_error_of([&] { read_table(file, "coding"); });
  CHECK(msg.find(file.string() + " has no sheet 'coding'; its sheets are 'Coding', 'Empty', 'NoHeader'") !=
        std::string::npos);
}

TEST_CASE("a formula without stored value that cannot be evaluated names the cell") {
  TempDir dir;
  const auto file = dir / "bad.xlsx";
  write_openpyxl(file, "bad_formula");
  const std::string msg = user_error_of([&] { read_table(file); });
  CHECK(msg.find(file.string() + ", sheet 'Coding', cell B2: the formula '=NOSUCHFUNCTION(1)'") !=
        std::string::npos);
}

TEST_CASE("an .xls workbook is refused with a save-as-.xlsx hint naming the file") {
  TempDir dir;
  const auto xls = dir / "CAS(ME)3_part_A_v2.xls";
  write_file(xls, std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + std::string(504, '\0'));
  std::string msg = user_error_of([&] { read_table(xls); });
  CHECK(msg.find(xls.string()) != std::string::npos);
  CHECK(msg.find("save it as .xlsx") != std::string::npos);
  // the same bytes behind an .xlsx name
  const auto disguised = dir / "renamed.xlsx";
  std::filesystem::copy_file(xls, disguised);
  msg = user_error_of([&] { read_table(disguised); });
  CHECK(msg.find(disguised.string() + " is an Excel 97-2003 (.xls) workbook despite its name") !=
        std::string::npos);
}

TEST_CASE("a corrupt or truncated .xlsx is a UserError naming the file") {
  TempDir dir;
  const auto junk = dir / "junk.xlsx";
  write_file(junk, "this is not a zip file at all");
  std::string msg = user_error_of([&] { read_table(junk); });
  CHECK(msg.find(junk.string() + " is not a readable .xlsx workbook") != std::string::npos);

  const auto good = dir / "good.xlsx";
  write_logical_xlsxwriter(good, false);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto cut = dir / "truncated.xlsx";
  write_file(cut, bytes.substr(0, bytes.size() / 2));
  msg = user_error_of([&] { read_table(cut); });
  CHECK(msg.find(cut.string()) != std::string::npos);

  const auto empty = dir / "empty.xlsx";
  write_file(empty, "");
  msg = user_error_of([&] { read_table(empty); });
  CHECK(msg.find(empty.string()) != std::string::npos);
}

TEST_CASE("missing files, folders and other extensions are UserErrors naming the path") {
  TempDir dir;
  std::string msg = user_error_of([&] { read_table(dir / "nope.xlsx"); });
  CHECK(msg.find((dir / "nope.xlsx").string() + " does not exist") != std::string::npos);
  msg = user_error_of([&] { read_table(dir / "sheet.ods"); });
  CHECK(msg.find("unsupported annotation file type '.ods'") != std::string::npos);
  std::filesystem::create_directories(dir / "folder.csv");
  msg = user_error_of([&] { read_table(dir / "folder.csv"); });
  CHECK(msg.find("is a directory") != std::string::npos);
  write_file(dir / "a.csv", "x\n");
  msg = user_error_of([&] { read_table(dir / "a.csv", "Sheet1"); });
  CHECK(msg.find("is a CSV file and has no sheets") != std::string::npos);
}

TEST_CASE("Table::cell is empty past a ragged row's end and where() names file, sheet and row") {
  TempDir dir;
  const auto file = dir / "w.xlsx";
  write_logical_xlsxwriter(file, false);
  const Table t = read_table(file);
  CHECK(t.cell(0, 0) == "CASME II coding sheet (test)");
  CHECK(t.cell(0, 5).empty());
  CHECK(t.cell(99, 0).empty());
  CHECK(t.where(3) == file.string() + ", sheet 'Coding', row 5");
  CHECK(t.where() == file.string() + ", sheet 'Coding'");
}
