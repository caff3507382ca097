// Validation that fails: exact messages for broken inputs, strict vs lenient, frame_gaps, errata guards.
#include <doctest/doctest.h>

#include <set>

#include "datasets/fixtures/fixtures.h"
#include "merx/datasets/load.h"
#include "merx/hash.h"

using namespace merx;
namespace fx = merx::fixtures;

namespace {

struct Row {
  double subject;
  std::string clip;
  double onset, apex, offset;
  std::string emotion;
};

// A CASME II corpus with the given sheet rows; frames of each clip numbered first..last.
struct Mini {
  fx::fs::path dir, root, sheet;
};
Mini casme2_mini(const std::string& name, const std::vector<Row>& rows,
                 const std::vector<std::tuple<std::string, int64_t, int64_t>>& folders,
                 const std::vector<std::string>& header = {"Subject", "Filename", "OnsetFrame", "ApexFrame",
                                                           "OffsetFrame", "Action Units",
                                                           "Estimated Emotion"}) {
  Mini m;
  m.dir = fx::fresh_dir(name);
  m.root = m.dir / "CASME2_RAW_selected";
  m.sheet = m.dir / "coding.xlsx";
  fx::Sheet sh{"Sheet1", {}};
  fx::Row h;
  for (const auto& x : header) h.push_back(x);
  sh.rows.push_back(h);
  for (const auto& r : rows)
    sh.rows.push_back({r.subject, r.clip, r.onset, r.apex, r.offset, std::string("4"), r.emotion});
  fx::write_xlsx(m.sheet, {sh});
  for (const auto& [folder, a, b] : folders) fx::write_frames(m.root / folder, "img", ".jpg", a, b);
  fx::fs::create_directories(m.root);
  return m;
}

DatasetSource src(const Mini& m, nlohmann::json options = nlohmann::json::object()) {
  DatasetSource s;
  s.adapter = "casme2";
  s.root = m.root;
  s.annotations = m.sheet;
  s.options = std::move(options);
  return s;
}

std::vector<Problem> problems_of(const DatasetSource& s) {
  try {
    load_dataset(s);
  } catch (const DatasetError& e) {
    return e.problems();
  }
  FAIL("expected a DatasetError");
  return {};
}

}  // namespace

TEST_CASE("strict mode lists every problem with file and row") {
  const Mini m =
      casme2_mini("strict",
                  {{1, "EP01", 1, 2, 5, "happiness"},   // frame 3 missing
                   {1, "EP02", 10, 20, 14, "disgust"},  // apex outside
                   {2, "EP03", 1, 2, 3, "surprise"},    // folder missing
                   {2, "EP04", 1, 2, 3, "surprise"}},   // fine
                  {{"sub01/EP01", 1, 2}, {"sub01/EP01", 4, 5}, {"sub01/EP02", 10, 14}, {"sub02/EP04", 1, 3}});
  const auto p = problems_of(src(m));
  const std::string f = m.sheet.string() + ", sheet 'Sheet1', row ";
  REQUIRE(p.size() == 3);
  CHECK(p[0].path == f + "2");
  CHECK(p[0].message == "casme2/sub01/EP01: frames missing in " + (m.root / "sub01/EP01").string() +
                            ": 3 (1 of 5; frame_gaps allows 0)");
  CHECK(p[1].path == f + "3");
  CHECK(p[1].message == "casme2/sub01/EP02: apex 20 is outside onset..offset 10..14");
  CHECK(p[2].path == f + "4");
  CHECK(p[2].message ==
        "casme2/sub02/EP03: frame folder " + (m.root / "sub02/EP03").string() + " does not exist");
}

TEST_CASE("lenient mode drops the offending clips and records why") {
  const Mini m = casme2_mini("lenient", {{1, "EP01", 1, 2, 5, "happiness"}, {2, "EP04", 1, 2, 3, "surprise"}},
                             {{"sub01/EP01", 1, 2}, {"sub01/EP01", 4, 5}, {"sub02/EP04", 1, 3}});
  LoadOptions o;
  o.mode = LoadMode::Lenient;
  const LoadResult r = load_dataset(src(m), o);
  REQUIRE(r.samples.size() == 1);
  CHECK(r.samples[0].key == "casme2/sub02/EP04");
  REQUIRE(r.dropped.size() == 1);
  CHECK(r.dropped[0].key == "casme2/sub01/EP01");
  CHECK(r.dropped[0].where == m.sheet.string() + ", sheet 'Sheet1', row 2");
  CHECK(r.dropped[0].reason ==
        "frames missing in " + (m.root / "sub01/EP01").string() + ": 3 (1 of 5; frame_gaps allows 0)");
}

TEST_CASE("frame_gaps tolerates missing frames and records them") {
  const Mini m =
      casme2_mini("gaps", {{1, "EP01", 1, 3, 6, "happiness"}}, {{"sub01/EP01", 1, 2}, {"sub01/EP01", 5, 6}});
  const LoadResult r = load_dataset(src(m, {{"frame_gaps", 2}}));
  REQUIRE(r.samples.size() == 1);
  CHECK(r.samples[0].missing_frames == std::vector<int64_t>{3, 4});
  CHECK(r.samples[0].frame_numbers == std::vector<int64_t>{1, 2, 5, 6});
  CHECK(r.samples[0].apex_index == 1);  // the last frame numbered <= apex 3
  CHECK(problems_of(src(m, {{"frame_gaps", 1}})).size() == 1);
}

TEST_CASE("frames outside onset..offset in a clip folder are an error") {
  const Mini m = casme2_mini("outside", {{1, "EP01", 3, 4, 5, "happiness"}}, {{"sub01/EP01", 1, 5}});
  const auto p = problems_of(src(m));
  REQUIRE(p.size() == 1);
  CHECK(p[0].message == "casme2/sub01/EP01: " + (m.root / "sub01/EP01").string() +
                            " has 2 frame file(s) outside onset..offset 3..5: 1..2");
}

TEST_CASE("duplicate clip names are an error naming the first row") {
  const Mini m = casme2_mini("dup", {{1, "EP01", 1, 2, 3, "happiness"}, {1, "EP01", 1, 2, 3, "disgust"}},
                             {{"sub01/EP01", 1, 3}});
  const auto p = problems_of(src(m));
  REQUIRE(p.size() == 1);
  CHECK(p[0].path == m.sheet.string() + ", sheet 'Sheet1', row 3");
  CHECK(p[0].message == "casme2/sub01/EP01#2: duplicate clip sub01/EP01 (first at " + m.sheet.string() +
                            ", sheet 'Sheet1', row 2)");
}

TEST_CASE("a duplicate clip name is an error also when a membership list selects the clip") {
  const Mini m = casme2_mini("dup_listed", {{1, "EP01", 1, 2, 3, "happiness"}, {1, "EP01", 1, 2, 3, "disgust"}},
                             {{"sub01/EP01", 1, 3}});
  fx::write_text(m.dir / "list.csv", "casme2,sub01,EP01,1\r\n");
  const Membership list = Membership::read(m.dir / "list.csv");
  LoadOptions o;
  o.membership = &list;
  std::vector<Problem> p;
  try {
    load_dataset(src(m), o);
  } catch (const DatasetError& e) {
    p = e.problems();
  }
  REQUIRE(p.size() == 1);
  CHECK(p[0].path == m.sheet.string() + ", sheet 'Sheet1', row 3");
  CHECK(p[0].message == "casme2/sub01/EP01#2: duplicate clip sub01/EP01 (first at " + m.sheet.string() +
                            ", sheet 'Sheet1', row 2)");
}

TEST_CASE("wrong column names and unreadable sheets are user errors with exact messages") {
  const Mini m = casme2_mini("columns", {{1, "EP01", 1, 2, 3, "happiness"}}, {{"sub01/EP01", 1, 3}},
                             {"Subject", "Filename", "Onset Frame", "Apex", "Offset", "AU", "Emotion"});
  CHECK_NOTHROW(load_dataset(src(m)));  // accepted spellings
  // "Start" is nothing like an onset column; "OffsetFrame" is close to "OnsetFrame" but is the offset column
  // and must not be offered as the missing one.
  const Mini bad = casme2_mini("columns_bad", {{1, "EP01", 1, 2, 3, "happiness"}}, {{"sub01/EP01", 1, 3}},
                               {"Subject", "Filename", "Start", "ApexFrame", "OffsetFrame", "AU", "Emotion"});
  const std::string expected_bad =
      bad.sheet.string() +
      ", sheet 'Sheet1': no header row with the expected columns in the first 2 non-blank rows; column "
      "'OnsetFrame' not found (also accepted: 'Onset Frame', 'Onset'). Closest header candidate: row 1: "
      "'Subject', 'Filename', 'Start', 'ApexFrame', 'OffsetFrame', 'AU', 'Emotion'";
  CHECK_THROWS_WITH_AS(load_dataset(src(bad)), expected_bad.c_str(), UserError);
  // A near miss is suggested.
  const Mini typo =
      casme2_mini("columns_typo", {{1, "EP01", 1, 2, 3, "happiness"}}, {{"sub01/EP01", 1, 3}},
                  {"Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "AU", "Emotoin"});
  const std::string expected_typo =
      typo.sheet.string() +
      ", sheet 'Sheet1': no header row with the expected columns in the first 2 non-blank rows; column "
      "'Estimated Emotion' not found (also accepted: 'Emotion'); the sheet has 'Emotoin'?. Closest header "
      "candidate: row 1: 'Subject', 'Filename', 'OnsetFrame', 'ApexFrame', 'OffsetFrame', 'AU', 'Emotoin'";
  CHECK_THROWS_WITH_AS(load_dataset(src(typo)), expected_typo.c_str(), UserError);

  const auto dir = fx::fresh_dir("unreadable");
  fx::write_text(dir / "coding.xlsx", "this is not a workbook");
  fx::fs::create_directories(dir / "root");
  DatasetSource s;
  s.adapter = "casme2";
  s.root = dir / "root";
  s.annotations = dir / "coding.xlsx";
  const std::string expected =
      (dir / "coding.xlsx").string() +
      " is not a readable .xlsx workbook (not a valid zip package: Not a zip archive)";
  CHECK_THROWS_WITH_AS(load_dataset(s), expected.c_str(), UserError);

  fx::write_text(dir / "coding.ods", "PK");
  s.annotations = dir / "coding.ods";
  const std::string ods = (dir / "coding.ods").string() +
                          ": unsupported annotation file type '.ods'; merx reads .xlsx and .csv (save other "
                          "spreadsheets as .xlsx)";
  CHECK_THROWS_WITH_AS(load_dataset(s), ods.c_str(), UserError);
}

TEST_CASE("a sheet that is empty or has only a header is an error naming the file, never 0 clips") {
  const auto dir = fx::fresh_dir("empty_sheet");
  fx::fs::create_directories(dir / "root");
  DatasetSource s;
  s.adapter = "casme2";
  s.root = dir / "root";
  s.annotations = dir / "empty.xlsx";
  fx::write_xlsx(s.annotations, {{"Sheet1", {}}});
  const std::string empty = "sheet 'Sheet1' of " + s.annotations.string() + " is empty (no non-empty cell)";
  CHECK_THROWS_WITH_AS(load_dataset(s), empty.c_str(), UserError);

  s.annotations = dir / "header_only.xlsx";
  fx::write_xlsx(s.annotations,
                 {{"Sheet1",
                   {{std::string("Subject"), std::string("Filename"), std::string("OnsetFrame"),
                     std::string("ApexFrame"), std::string("OffsetFrame"), std::string("Action Units"),
                     std::string("Estimated Emotion")}}}});
  const std::string header_only =
      s.annotations.string() + ", sheet 'Sheet1': no data rows below the header in row 1";
  CHECK_THROWS_WITH_AS(load_dataset(s), header_only.c_str(), UserError);
}

TEST_CASE("the same subject id in two corpora gives two distinct global subjects") {
  const auto dir = fx::fresh_dir("two_corpora");
  const auto c2 = fx::casme2_corpus(dir / "casme2");
  const auto mf = fx::manifest_corpus(dir / "manifest", "sub");  // subjects sub01, sub02 like CASME II
  DatasetSource a;
  a.adapter = "casme2";
  a.root = c2.root;
  a.annotations = c2.annotations;
  DatasetSource b;
  b.adapter = "manifest";
  b.root = mf.root;
  b.annotations = mf.annotations;
  const LoadResult ra = load_dataset(a), rb = load_dataset(b);
  REQUIRE(ra.samples.front().subject == "sub01");
  REQUIRE(rb.samples.front().subject == "sub01");
  CHECK(ra.samples.front().global_subject == "casme2/sub01");
  CHECK(rb.samples.front().global_subject == "manifest/sub01");
  CHECK(rb.subjects() == std::vector<std::string>{"manifest/sub01", "manifest/sub02"});
  // The same adapter twice under two dataset names: the name, not the adapter, qualifies the subject.
  a.name = "casme2_copy";
  const LoadResult rc = load_dataset(a);
  CHECK(rc.samples.front().global_subject == "casme2_copy/sub01");
  CHECK(rc.samples.front().key == "casme2_copy/sub01/EP02_01f");
  std::set<std::string> all;
  for (const auto* r : {&ra, &rb, &rc})
    for (const auto& x : r->subjects()) all.insert(x);
  CHECK(all.size() == 6 + 2 + 6);  // casme2 fixture: 6 subjects; manifest: 2
}

TEST_CASE("unknown options and a missing annotation file are user errors") {
  const Mini m = casme2_mini("options", {{1, "EP01", 1, 2, 3, "happiness"}}, {{"sub01/EP01", 1, 3}});
  CHECK_THROWS_WITH_AS(
      load_dataset(src(m, {{"frame_gap", 1}})),
      doctest::Contains("dataset 'casme2' options.frame_gap: unknown option for adapter casme2"),
      ValidationError);
  DatasetSource s = src(m);
  s.annotations.clear();
  const std::string expected =
      "dataset 'casme2': adapter casme2 needs its annotation file (give `annotations` / "
      "--annotations); none of CASME2-coding-20140508.xlsx, CASME2-coding-updated.xlsx is "
      "in " +
      m.root.string() + " or its parent folder";
  CHECK_THROWS_WITH_AS(load_dataset(s), expected.c_str(), UserError);
}

TEST_CASE("an erratum keyed by file SHA-256 and row applies only when the old value is there") {
  const Mini m = casme2_mini("sha", {{1, "EP01", 1, 2, 9, "happiness"}, {1, "EP02", 1, 2, 3, "disgust"}},
                             {{"sub01/EP01", 1, 3}, {"sub01/EP02", 1, 3}});
  const std::string sha = sha256_file(m.sheet);
  fx::write_text(
      m.dir / "fix.json",
      R"({"errata": [
    {"sha256": ")" +
          sha +
          R"(", "row": 2, "field": "offset", "old": "9", "new": 3, "reason": "folder ends at 3", "source": "test"},
    {"sha256": ")" +
          sha +
          R"(", "row": 3, "field": "offset", "old": "7", "new": 1, "reason": "never applies", "source": "test"},
    {"sha256": "00", "row": 2, "field": "onset", "old": "1", "new": 2, "reason": "other file", "source": "test"}]})");
  const LoadResult r = load_dataset(src(m, {{"errata", (m.dir / "fix.json").string()}}));
  REQUIRE(r.samples.size() == 2);
  CHECK(r.samples[0].offset == 3);
  CHECK(r.samples[0].corrected);
  CHECK(r.samples[0].corrections[0].errata_file == (m.dir / "fix.json").string());
  CHECK_FALSE(r.samples[1].corrected);
  CHECK(r.samples[1].offset == 3);
  CHECK(std::find(r.notes.begin(), r.notes.end(),
                  (m.dir / "fix.json").string() +
                      " entry 1 (row 3 offset) not applied: the sheet has '3', the erratum expects '7'") !=
        r.notes.end());
}

TEST_CASE("a bad errata file is refused with its entry") {
  const Mini m = casme2_mini("errata_bad", {{1, "EP01", 1, 2, 3, "happiness"}}, {{"sub01/EP01", 1, 3}});
  fx::write_text(m.dir / "bad.json", R"({"errata": [{"sha256": "ab", "row": 2, "field": "offset", "new": 3,
    "reason": "r", "source": "s"}]})");
  const std::string expected =
      "errata " + (m.dir / "bad.json").string() +
      ", entry 0: an entry keyed by sha256 + row needs \"old\" (the value that row must hold)";
  CHECK_THROWS_WITH_AS(load_dataset(src(m, {{"errata", (m.dir / "bad.json").string()}})), expected.c_str(),
                       UserError);
}

TEST_CASE("a broken AU string is a located problem") {
  const auto dir = fx::fresh_dir("au_bad");
  fx::write_frames(dir / "frames/c1", "f", ".png", 1, 3);
  fx::write_text(dir / "m.csv",
                 "subject,clip,frames,onset,apex,offset,label,aus\na,c1,frames/c1,1,2,3,x,4+7x\n");
  DatasetSource s;
  s.adapter = "manifest";
  s.root = dir;
  s.annotations = dir / "m.csv";
  const auto p = problems_of(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0].path == (dir / "m.csv").string() + ", row 2");
  CHECK(p[0].message.rfind("manifest/a/c1: AU string: AU string '4+7x': cannot read '7x'", 0) == 0);
}
