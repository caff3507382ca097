// CSV: RFC 4180 quoting, line endings, BOM, blank lines with true row numbers, separator sniffing.
#include <doctest/doctest.h>

#include "merx/datasets/table.h"
#include "merx/errors.h"
#include "test_dir.h"

using merx::read_table;
using merx::Table;
using merx::test::TempDir;
using merx::test::write_file;
using Rows = std::vector<std::vector<std::string>>;

namespace {

Table csv(const std::string& bytes) {
  TempDir dir;
  write_file(dir / "t.csv", bytes);
  return read_table(dir / "t.csv");
}

}  // namespace

TEST_CASE("csv quoted fields keep separators, doubled quotes and newlines") {
  const Table t = csv("a,\"b,c\",\"say \"\"hi\"\"\"\n\"two\nlines\",x,\"\"\n");
  CHECK(t.rows == Rows{{"a", "b,c", "say \"hi\""}, {"two\nlines", "x"}});
  CHECK(t.row_numbers == std::vector<size_t>{1, 2});
}

TEST_CASE("csv blank lines and all-empty records are skipped and row numbers stay true") {
  const Table t = csv("h1,h2\n\n1,2\r\n,,\r\n\r\n3,4");
  CHECK(t.rows == Rows{{"h1", "h2"}, {"1", "2"}, {"3", "4"}});
  CHECK(t.row_numbers == std::vector<size_t>{1, 3, 6});
}

TEST_CASE("csv row numbers count the lines inside quoted fields") {
  const Table t = csv("\"a\nb\",1\nc,2\n");
  CHECK(t.row_numbers == std::vector<size_t>{1, 3});
}

TEST_CASE("csv MEGC style: no header, LF, interleaved ',,,' lines") {
  const Table t = csv("casme2,sub01,EP02_01f,1\n,,,\nsmic,s01,s01_ne_01,0\n,,,\n");
  CHECK(t.rows == Rows{{"casme2", "sub01", "EP02_01f", "1"}, {"smic", "s01", "s01_ne_01", "0"}});
  CHECK(t.row_numbers == std::vector<size_t>{1, 3});
}

TEST_CASE("csv cells are trimmed, leading empty cells kept, trailing ones dropped") {
  const Table t = csv("  a  , b c ,,\n,x\n");
  CHECK(t.rows == Rows{{"a", "b c"}, {"", "x"}});
}

TEST_CASE("csv semicolon and tab separators are sniffed from the first line") {
  CHECK(csv("a;b;\"c;d\"\n1;2;3\n").rows == Rows{{"a", "b", "c;d"}, {"1", "2", "3"}});
  CHECK(csv("a\tb\n1\t2,5\n").rows == Rows{{"a", "b"}, {"1", "2,5"}});
  CHECK(csv("a,b;c\n").rows == Rows{{"a", "b;c"}});
}

TEST_CASE("csv numbers stay as written and to_integer reads them") {
  const Table t = csv("123.0,0123,1e3\n");
  CHECK(t.rows == Rows{{"123.0", "0123", "1e3"}});
  CHECK(merx::to_integer(t.cell(0, 0)) == 123);
  CHECK(merx::to_integer(t.cell(0, 1)) == 123);
  CHECK_FALSE(merx::to_integer(t.cell(0, 2)).has_value());
}

TEST_CASE("csv with an unterminated quote is a UserError naming file and row") {
  TempDir dir;
  write_file(dir / "bad.csv", "a,b\n1,\"open\n");
  try {
    read_table(dir / "bad.csv");
    FAIL("expected a UserError");
  } catch (const merx::UserError& e) {
    CHECK(std::string(e.what()) ==
          (dir / "bad.csv").string() + ", row 2: a quoted field is not closed before the end of the file");
  }
}

TEST_CASE("an empty or blank csv is a UserError naming the file") {
  for (const std::string bytes : {"", "\xEF\xBB\xBF", "\r\n\r\n", ",,,\n, ,\n"}) {
    TempDir dir;
    write_file(dir / "e.csv", bytes);
    try {
      read_table(dir / "e.csv");
      FAIL("expected a UserError");
    } catch (const merx::UserError& e) {
      CHECK(std::string(e.what()) == (dir / "e.csv").string() + " is empty (no non-empty cell)");
    }
  }
}

TEST_CASE("a UTF-16 csv is refused with a hint") {
  TempDir dir;
  write_file(dir / "u.csv", std::string("\xFF\xFE"
                                        "a\0,\0b\0",
                                        8));
  CHECK_THROWS_WITH_AS(
      read_table(dir / "u.csv"),
      ((dir / "u.csv").string() + " is UTF-16 text; save it as CSV UTF-8 (or as .xlsx)").c_str(),
      merx::UserError);
}
