// Every adapter's fixture sheet is written twice, by libxlsxwriter (as Excel writes: shared strings,
// relative part targets, cached formula values) and by openpyxl (as pandas re-saves sheets: inline strings,
// absolute part targets, formulas without cached values). Both copies must load to identical records.
#include <doctest/doctest.h>

#include <sstream>

#include "datasets/fixtures/fixtures.h"
#include "merx/datasets/load.h"

using namespace merx;
namespace fx = merx::fixtures;

namespace {

// Every field of every record, the dropped/excluded clips and the notes, as text; the annotation file's
// path (which differs between the two copies) is written as <sheet>.
std::string describe(const LoadResult& r, const fx::fs::path& sheet) {
  std::ostringstream o;
  auto opt = [](const auto& v) {
    std::ostringstream s;
    if (v)
      s << *v;
    else
      s << "none";
    return s.str();
  };
  for (const auto& s : r.samples) {
    o << s.key << " | " << s.dataset << " " << s.adapter << " " << s.subject << " " << s.global_subject << " "
      << s.clip << " #" << s.occurrence << " | " << s.folder.string() << " |";
    for (size_t i = 0; i < s.frames.size(); ++i)
      o << " " << s.frames[i].filename().string() << "=" << s.frame_numbers[i];
    o << " | missing";
    for (auto n : s.missing_frames) o << " " << n;
    o << " | " << s.onset << " " << opt(s.apex) << " " << s.offset << " idx " << s.onset_index << " "
      << opt(s.apex_index) << " " << s.offset_index << " est " << s.apex_estimated << " miss "
      << s.apex_missing << " | corrected " << s.corrected;
    for (const auto& c : s.corrections)
      o << " [" << c.kind << " " << c.field << " '" << c.old_value << "'->'" << c.new_value << "' "
        << c.reason << " " << c.source << " " << c.errata_file << "]";
    o << " | " << s.emotion << " -> " << s.label.value_or("(none)") << " | aus ";
    if (s.aus)
      o << "'" << to_string(*s.aus) << "'";
    else
      o << "none";
    o << " alts " << s.au_alternatives.size() << " text '" << s.au_text << "' | fps " << s.fps << " grey "
      << (s.color == ColorMode::Grayscale) << " cropped " << s.face_cropped << " | "
      << (s.source_file == sheet.string() ? std::string("<sheet>") : s.source_file) << " row " << s.source_row
      << "\n";
  }
  auto where = [&](std::string w) {
    const auto at = w.find(sheet.string());
    if (at != std::string::npos) w.replace(at, sheet.string().size(), "<sheet>");
    return w;
  };
  for (const auto& d : r.dropped)
    o << "dropped " << d.key << " " << where(d.where) << " " << d.reason << "\n";
  for (const auto& d : r.excluded)
    o << "excluded " << d.key << " " << where(d.where) << " " << d.reason << "\n";
  for (const auto& n : r.notes) o << "note " << n << "\n";
  return o.str();
}

struct Case {
  std::string adapter;
  fx::Corpus corpus;
  size_t clips;  // expected record count (hand-counted from the fixture comments in fixtures.cpp)
  nlohmann::json options = nlohmann::json::object();
};

}  // namespace

TEST_CASE("each adapter's sheet written by libxlsxwriter and by openpyxl loads to identical records") {
  const auto dir = fx::fresh_dir("openpyxl_copies");
  const nlohmann::json squared = {{"columns",
                                   {{"subject", "Participant"},
                                    {"clip", "Video"},
                                    {"onset", "OnsetF"},
                                    {"apex", "ApexF"},
                                    {"offset", "OffsetF"},
                                    {"au", "AUs"}}},
                                  {"type_column", "Expression type"},
                                  {"type_value", "micro-expression"}};
  // SMIC has no official sheet; MEB's optional smic.xlsx (subject, material, emotion, onset, offset) is
  // read when given. Two of the six fixture clips, in the HS folder layout.
  fx::Corpus smic = fx::smic_hs_corpus(dir / "smic_hs");
  smic.annotations = dir / "smic_hs" / "smic.xlsx";
  fx::write_xlsx(
      smic.annotations,
      {{"Sheet1",
        {{std::string("subject"), std::string("material"), std::string("emotion"), std::string("onset"),
          std::string("offset")},
         {std::string("s1"), std::string("s1_ne_01"), std::string("negative"), 120.0, 124.0},
         {},
         {std::string("s3"), std::string("s3_sur_01"), std::string("surprise"), 2000.0, 2002.0}}}});

  std::vector<Case> cases = {
      {"casme2", fx::casme2_corpus(dir / "casme2"), 11},
      {"samm", fx::samm_corpus(dir / "samm"), 9},
      {"casme", fx::casme_corpus(dir / "casme"), 2},
      {"casme3a", fx::casme3a_corpus(dir / "casme3a"), 3},
      {"casme3c", fx::casme3c_corpus(dir / "casme3c"), 3},
      {"mmew", fx::mmew_corpus(dir / "mmew"), 2},
      {"fourdme", fx::fourdme_corpus(dir / "fourdme"), 2},
      {"casme_squared", fx::casme_squared_corpus(dir / "casme_squared"), 2, squared},
      {"smic_hs", smic, 2},
  };
  std::vector<fx::fs::path> sheets;
  for (const auto& c : cases) sheets.push_back(c.corpus.annotations);
  const auto copies = fx::openpyxl_copies(sheets, dir / "openpyxl");
  REQUIRE(copies.size() == cases.size());

  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    INFO("adapter " << c.adapter);
    DatasetSource a;
    a.adapter = c.adapter;
    a.root = c.corpus.root;
    a.annotations = c.corpus.annotations;
    a.options = c.options;
    DatasetSource b = a;
    b.annotations = copies[i];
    const LoadResult ra = load_dataset(a);
    const LoadResult rb = load_dataset(b);
    CHECK(ra.samples.size() == c.clips);
    CHECK(ra.annotations_sha256 != rb.annotations_sha256);  // really two different files
    CHECK(describe(ra, a.annotations) == describe(rb, b.annotations));
  }
}

TEST_CASE("a formula cell reads as its value from both writers") {
  // casme2 fixture: sub02/EP11_01 has offset =D5+4 (onset 30): libxlsxwriter caches 34, openpyxl stores no
  // value and merx evaluates it.
  const auto dir = fx::fresh_dir("openpyxl_formula");
  const fx::Corpus c = fx::casme2_corpus(dir / "casme2");
  const auto copies = fx::openpyxl_copies({c.annotations}, dir / "openpyxl");
  for (const auto& sheet : {c.annotations, copies.at(0)}) {
    INFO("sheet " << sheet.string());
    DatasetSource s;
    s.adapter = "casme2";
    s.root = c.root;
    s.annotations = sheet;
    const LoadResult r = load_dataset(s);
    bool found = false;
    for (const auto& x : r.samples)
      if (x.key == "casme2/sub02/EP11_01") {
        found = true;
        CHECK(x.offset == 34);
        CHECK(x.frame_numbers == std::vector<int64_t>{30, 31, 32, 33, 34});
        CHECK(x.source_row == 5);
      }
    CHECK(found);
  }
}
