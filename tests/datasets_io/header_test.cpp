// Header location and the number helpers of the cell normal form.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "merx/datasets/table.h"
#include "merx/errors.h"

using merx::find_header;
using merx::Table;

namespace {

Table make(std::vector<std::vector<std::string>> rows, std::string sheet = "Sheet1") {
  Table t;
  t.file = "/data/CASME2-coding.xlsx";
  t.sheet = std::move(sheet);
  t.rows = std::move(rows);
  for (size_t i = 0; i < t.rows.size(); ++i) t.row_numbers.push_back(i + 2);  // as if row 1 were blank
  return t;
}

std::string error_of(const Table& t, const std::vector<std::vector<std::string>>& req) {
  try {
    find_header(t, req);
  } catch (const merx::UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError");
  return "";
}

}  // namespace

TEST_CASE("find_header skips preamble rows and maps columns case- and space-insensitively") {
  const Table t = make({{"CASME II coding, 2014"},
                        {"  subject", "Filename", "", "Onset  Frame", "ApexFrame", "", "Estimated Emotion"},
                        {"1", "EP02_01f", "", "46", "59", "", "happiness"}});
  const auto h =
      find_header(t, {{"Subject"}, {"OnsetFrame", "Onset Frame"}, {"Estimated Emotion", "Emotion"}});
  CHECK(h.row_index == 1);
  CHECK(h.row_number == 3);
  CHECK(h.columns == merx::ColumnMap{{"Subject", 0}, {"OnsetFrame", 3}, {"Estimated Emotion", 6}});
  CHECK(h.at("OnsetFrame") == 3);
  CHECK(h.find({"apexframe"}) == std::optional<size_t>(4));
  CHECK_FALSE(h.find({"Objective Class"}).has_value());
  CHECK_FALSE(h.find({""}).has_value());  // blank header cells never match
}

TEST_CASE("find_header takes the leftmost column when a name repeats") {
  const Table t = make({{"AU", "Subject", "AU"}, {"4", "1", "7"}});
  CHECK(find_header(t, {{"AU"}}).at("AU") == 0);
}

TEST_CASE("find_header reports missing columns with the closest header text") {
  const Table t =
      make({{"Subject", "Filename", "Onset Frame", "Apex", "OffsetFrame"}, {"1", "EP01", "4", "5", "6"}});
  const std::string msg = error_of(t, {{"Subject"}, {"OnsetFrame", "OnsetF"}, {"ApexFrame"}, {"Emotion"}});
  CHECK(msg.find("/data/CASME2-coding.xlsx, sheet 'Sheet1': no header row with the expected columns") == 0);
  CHECK(msg.find("column 'OnsetFrame' not found (also accepted: 'OnsetF'); the sheet has 'Onset Frame'?") !=
        std::string::npos);
  CHECK(msg.find("column 'Emotion' not found") != std::string::npos);
  CHECK(msg.find(
            "Closest header candidate: row 2: 'Subject', 'Filename', 'Onset Frame', 'Apex', 'OffsetFrame'") !=
        std::string::npos);
}

TEST_CASE("find_header on an empty table or without data rows is a UserError naming the file") {
  CHECK(error_of(make({}), {{"Subject"}}) ==
        "sheet 'Sheet1' of /data/CASME2-coding.xlsx is empty (no non-empty cell)");
  CHECK(error_of(make({{"x"}, {"Subject"}}), {{"Subject"}}) ==
        "/data/CASME2-coding.xlsx, sheet 'Sheet1': no data rows below the header in row 3");
}

TEST_CASE("find_header scans only max_scan_rows rows") {
  const Table t = make({{"a"}, {"b"}, {"Subject"}, {"1"}});
  CHECK_THROWS_AS(find_header(t, {{"Subject"}}, 2), merx::UserError);
  CHECK(find_header(t, {{"Subject"}}, 3).row_index == 2);
}

TEST_CASE("header_key lowercases, trims and collapses spaces") {
  CHECK(merx::header_key("  Onset \t Frame ") == "onset frame");
  CHECK(merx::header_key("AU") == "au");
  CHECK(merx::header_key("") == "");
}

TEST_CASE("to_integer accepts the integer forms found in sheets") {
  struct Row {
    const char* text;
    std::optional<int64_t> value;
  };
  const Row rows[] = {{"123", 123},
                      {" 123 ", 123},
                      {"+123", 123},
                      {"0123", 123},
                      {"123.0", 123},
                      {"123.", 123},
                      {"-4", -4},
                      {"006", 6},
                      {"", std::nullopt},
                      {"/", std::nullopt},
                      {"12.5", std::nullopt},
                      {"1e3", std::nullopt},
                      {"abc", std::nullopt},
                      {"1 2", std::nullopt},
                      {".0", std::nullopt},
                      {"99999999999999999999", std::nullopt}};
  for (const auto& r : rows) {
    INFO("text '" << std::string(r.text) << "'");
    CHECK(merx::to_integer(r.text) == r.value);
  }
}

TEST_CASE("to_number reads whole numbers only") {
  CHECK(merx::to_number("0.5") == 0.5);
  CHECK(merx::to_number(" 7 ") == 7.0);
  CHECK(merx::to_number("+1e-3") == 1e-3);
  CHECK_FALSE(merx::to_number("7x").has_value());
  CHECK_FALSE(merx::to_number("").has_value());
}

TEST_CASE("format_number writes integral values without a fraction and others shortest round-trip") {
  CHECK(merx::format_number(123.0) == "123");
  CHECK(merx::format_number(-0.0) == "0");
  CHECK(merx::format_number(0.5) == "0.5");
  CHECK(merx::format_number(0.1 + 0.2) == "0.30000000000000004");
  CHECK(merx::format_number(-46) == "-46");
  CHECK(merx::format_number(1e20) == "1e+20");
  CHECK(merx::format_number(1.5e-7) == "1.5e-07");
  CHECK(merx::format_number(std::numeric_limits<double>::infinity()) == "inf");
}
