// Every adapter on its miniature corpus: record counts, keys, subjects, frames, AUs, errata, labels.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "datasets/fixtures/fixtures.h"
#include "merx/datasets/adapters.h"
#include "merx/datasets/load.h"

using namespace merx;
namespace fx = merx::fixtures;

namespace {

DatasetSource source(const std::string& adapter, const fx::Corpus& c,
                     nlohmann::json options = nlohmann::json::object()) {
  DatasetSource s;
  s.adapter = adapter;
  s.root = c.root;
  s.annotations = c.annotations;
  s.options = std::move(options);
  return s;
}

const SampleRecord& find(const LoadResult& r, const std::string& key) {
  for (const auto& s : r.samples)
    if (s.key == key) return s;
  FAIL("no sample " << key);
  return r.samples.front();
}

std::vector<std::string> keys(const LoadResult& r) {
  std::vector<std::string> k;
  for (const auto& s : r.samples) k.push_back(s.key);
  return k;
}

}  // namespace

TEST_CASE("the registry lists the thirteen adapters with their reading functions") {
  std::vector<std::string> names;
  for (const auto& a : dataset_adapters()) {
    names.push_back(a.name);
    CHECK(static_cast<bool>(a.read));
  }
  CHECK(names == std::vector<std::string>{"casme", "casme2", "casme3a", "casme3c", "casme_squared",
                                          "flow_images", "fourdme", "manifest", "mmew", "samm", "smic_hs",
                                          "smic_nir", "smic_vis"});
  for (const auto& a : dataset_adapters())  // every corpus gives frames; only flow_images gives images
    CHECK(a.input == (a.name == "flow_images" ? "flow_images" : "frames"));
  CHECK(find_adapter("smic_vis")->layout_verified == false);
  CHECK(find_adapter("casme2")->layout_verified == true);
}

TEST_CASE("casme2 reads the official sheet with its quirks and applies the errata") {
  const auto c = fx::casme2_corpus(fx::fresh_dir("casme2"));
  const LoadResult r = load_dataset(source("casme2", c));
  CHECK(r.samples.size() == 11);
  CHECK(r.subjects() == std::vector<std::string>{"casme2/sub01", "casme2/sub02", "casme2/sub03",
                                                 "casme2/sub04", "casme2/sub05", "casme2/sub16"});
  CHECK(keys(r).front() == "casme2/sub01/EP02_01f");
  CHECK(r.annotations_sha256.size() == 64);

  const auto& a = find(r, "casme2/sub01/EP02_01f");
  CHECK(a.onset == 46);
  CHECK(a.apex == 48);
  CHECK(a.offset == 50);
  CHECK(a.frames.size() == 5);
  CHECK(a.frames.front().filename() == "img46.jpg");
  CHECK(a.frame_numbers == std::vector<int64_t>{46, 47, 48, 49, 50});
  CHECK(a.apex_index == 2);
  CHECK(a.offset_index == 4);
  CHECK(a.fps == 200);
  CHECK(a.color == ColorMode::Color);
  CHECK(a.emotion == "happiness");
  CHECK(a.label == "happiness");
  REQUIRE(a.aus.has_value());
  CHECK(to_string(*a.aus) == "12");
  CHECK(a.has_au(12) == true);
  CHECK(a.has_au(4) == false);
  CHECK(a.source_row == 2);
  CHECK_FALSE(a.corrected);

  CHECK(to_string(*find(r, "casme2/sub01/EP19_05f").aus) == "4+L10");
  const auto& alt = find(r, "casme2/sub02/EP09_01");
  CHECK(to_string(*alt.aus) == "R14A(k)+17A(k)");
  REQUIRE(alt.au_alternatives.size() == 2);
  CHECK(alt.aus->front().uncertain);

  // sub16/EP01_08: sheet 73..110 ("73.0" as text), folder 73..96 -> offset corrected to 96.
  const auto& fixed = find(r, "casme2/sub16/EP01_08");
  CHECK(fixed.corrected);
  CHECK(fixed.offset == 96);
  CHECK(fixed.frames.size() == 24);
  REQUIRE(fixed.corrections.size() == 1);
  CHECK(fixed.corrections[0].field == "offset");
  CHECK(fixed.corrections[0].old_value == "110");
  CHECK(fixed.corrections[0].new_value == "96");
  CHECK(fixed.corrections[0].errata_file == "builtin:casme2");

  // sub05/EP03_01: apex missing in the sheet -> 68 (MEB table, identity known).
  const auto& apex = find(r, "casme2/sub05/EP03_01");
  CHECK(apex.apex == 68);
  CHECK(apex.apex_index == 27);
  CHECK(apex.corrected);
  CHECK_FALSE(apex.apex_missing);

  // sub04/EP12_01f: "/" stays missing, acknowledged by a note.
  const auto& missing = find(r, "casme2/sub04/EP12_01f");
  CHECK_FALSE(missing.apex.has_value());
  CHECK(missing.apex_missing);
  CHECK_FALSE(missing.apex_estimated);
  CHECK_FALSE(missing.corrected);
  REQUIRE(missing.corrections.size() == 1);
  CHECK(missing.corrections[0].kind == "note");

  const auto& same = find(r, "casme2/sub05/EP09_05f");
  CHECK(same.apex == same.onset);
  CHECK(same.corrections.size() == 1);
  CHECK(r.corrections() == 4);
}

TEST_CASE("casme2 megc3 drops others, fear and sadness") {
  const auto c = fx::casme2_corpus(fx::fresh_dir("casme2_megc3"));
  LoadOptions o;
  o.labels.name = "megc3";
  const LoadResult r = load_dataset(source("casme2", c), o);
  CHECK(r.samples.size() == 8);
  CHECK(r.excluded.size() == 3);
  std::map<std::string, int> n;
  for (const auto& s : r.samples) ++n[*s.label];
  CHECK(n == std::map<std::string, int>{{"negative", 5}, {"positive", 2}, {"surprise", 1}});
  CHECK(r.excluded[0].key == "casme2/sub03/EP01_2");
  CHECK(r.excluded[0].reason == "label 'others' has no megc3 class");
  CHECK(r.excluded[1].reason == "label 'fear' has no megc3 class");
  CHECK(r.excluded[2].reason == "label 'sadness' has no megc3 class");
}

TEST_CASE("samm finds the header below the preamble, pads subjects and maps Fear and Sadness to negative") {
  const auto c = fx::samm_corpus(fx::fresh_dir("samm"));
  const LoadResult r = load_dataset(source("samm", c));
  CHECK(r.samples.size() == 9);
  CHECK(r.subjects() == std::vector<std::string>{"samm/006", "samm/007", "samm/009", "samm/011"});
  const auto& a = find(r, "samm/006/006_1_2");
  CHECK(a.frames.front().filename() == "006_05562.jpg");
  CHECK(a.onset == 5562);
  CHECK(a.color == ColorMode::Grayscale);
  CHECK(a.source_row == 6);
  CHECK(to_string(*a.aus) == "4+7");
  CHECK(to_string(*find(r, "samm/006/006_1_3").aus) == "R12+R15");
  CHECK(find(r, "samm/011/011_1_2").apex_missing);
  LoadOptions o;
  o.labels.name = "megc3";
  const LoadResult m = load_dataset(source("samm", c), o);
  CHECK(m.samples.size() == 8);
  CHECK(find(m, "samm/006/006_1_3").label == "negative");
  CHECK(find(m, "samm/007/007_3_1").label == "negative");
  CHECK(m.excluded.size() == 1);
  CHECK(m.excluded[0].key == "samm/009/009_3_4");
}

TEST_CASE("smic_hs takes clips and labels from folders and estimates the apex at the midpoint") {
  const auto c = fx::smic_hs_corpus(fx::fresh_dir("smic_hs"));
  const LoadResult r = load_dataset(source("smic_hs", c));
  CHECK(keys(r) == std::vector<std::string>{"smic_hs/s1/s1_ne_01", "smic_hs/s1/s1_po_01",
                                            "smic_hs/s3/s3_ne_02", "smic_hs/s3/s3_sur_01",
                                            "smic_hs/s20/s20_ne_01", "smic_hs/s20/s20_po_03"});
  const auto& a = find(r, "smic_hs/s1/s1_po_01");
  CHECK(a.onset == 10);
  CHECK(a.offset == 15);
  CHECK(a.apex == 12);
  CHECK(a.apex_estimated);
  CHECK(a.apex_index == 2);
  CHECK_FALSE(a.aus.has_value());
  CHECK_FALSE(a.has_au(4).has_value());
  CHECK(a.emotion == "positive");
  CHECK(a.fps == 100);
  CHECK(a.frames.front().filename() == "image000010.bmp");
  CHECK(find(r, "smic_hs/s20/s20_po_03").apex == 50);
}

TEST_CASE("smic_vis uses the configurable template") {
  const auto c = fx::smic_vis_corpus(fx::fresh_dir("smic_vis"));
  const LoadResult r = load_dataset(source("smic_vis", c));
  CHECK(keys(r) == std::vector<std::string>{"smic_vis/s11/s11_po_01", "smic_vis/s11/s11_sur_01"});
  CHECK(r.samples[1].apex == 7);
  CHECK(r.samples[1].fps == 25);
  const LoadResult nir =
      load_dataset(source("smic_nir", c, {{"frames", "{subject}/micro/{emotion}/{clip}"}}));
  CHECK(nir.samples.size() == 2);
  CHECK(nir.samples[0].color == ColorMode::Grayscale);
}

TEST_CASE("manifest reads the documented CSV and the same subject id in two corpora gives two subjects") {
  const auto dir = fx::fresh_dir("manifest");
  const auto a = fx::manifest_corpus(dir / "a");
  const auto b = fx::manifest_corpus(dir / "b");
  DatasetSource sa = source("manifest", a, {{"fps", 30}});
  sa.name = "alpha";
  DatasetSource sb = source("manifest", b);
  sb.name = "beta";
  const LoadResult ra = load_dataset(sa);
  const LoadResult rb = load_dataset(sb);
  CHECK(keys(ra) == std::vector<std::string>{"alpha/s01/c1", "alpha/s01/c2", "alpha/s02/c1"});
  CHECK(ra.subjects() == std::vector<std::string>{"alpha/s01", "alpha/s02"});
  CHECK(rb.subjects() == std::vector<std::string>{"beta/s01", "beta/s02"});
  CHECK(ra.samples[0].fps == 30);
  CHECK(ra.samples[0].apex == 3);
  CHECK(ra.samples[1].apex_missing);
  CHECK(ra.samples[1].aus.has_value());
  CHECK(ra.samples[1].aus->empty());
  CHECK(to_string(*ra.samples[2].aus) == "1+2");
  CHECK(ra.samples[2].frames.front().filename() == "f10.png");
  CHECK(dataset_subjects(sa) == std::vector<std::string>{"s01", "s02"});
}

TEST_CASE("casme reads both frame-number paddings") {
  const auto c = fx::casme_corpus(fx::fresh_dir("casme"));
  const LoadResult r = load_dataset(source("casme", c));
  CHECK(keys(r) == std::vector<std::string>{"casme/sub01/EP01_5", "casme/sub07/EP03_2"});
  CHECK(r.samples[1].frames.front().filename() == "EP03_2-008.jpg");
  CHECK(r.samples[1].apex == 10);
  CHECK(to_string(*r.samples[1].aus) == "9+R14");
  CHECK(r.samples[0].fps == 60);
}

TEST_CASE("casme3a numbers repeated videos and cuts the clip out of the whole video") {
  const auto c = fx::casme3a_corpus(fx::fresh_dir("casme3a"));
  const LoadResult r = load_dataset(source("casme3a", c));
  CHECK(keys(r) == std::vector<std::string>{"casme3a/spNO.1/b", "casme3a/spNO.1/b#2", "casme3a/spNO.2/i"});
  const auto& second = r.samples[1];
  CHECK(second.occurrence == 2);
  CHECK(second.frame_numbers == std::vector<int64_t>{20, 21, 22, 23, 24});
  CHECK(second.folder.parent_path().parent_path().filename() == "spNo.1");
  CHECK(second.emotion == "Others");
  CHECK(to_string(*r.samples[2].aus) == "4+9");
  LoadOptions o;
  o.labels.name = "megc3";
  const LoadResult m = load_dataset(source("casme3a", c), o);
  CHECK(keys(m) == std::vector<std::string>{"casme3a/spNO.1/b", "casme3a/spNO.2/i"});
}

TEST_CASE("casme3c has no apex and reads full-width commas in AU strings") {
  const auto c = fx::casme3c_corpus(fx::fresh_dir("casme3c"));
  const LoadResult r = load_dataset(source("casme3c", c));
  CHECK(keys(r) == std::vector<std::string>{"casme3c/01/1", "casme3c/01/2", "casme3c/02/1"});
  CHECK(r.samples[1].apex_missing);
  CHECK(to_string(*r.samples[1].aus) == "12+6");
  CHECK(r.samples[1].frame_numbers.size() == 4);
  CHECK_FALSE(r.samples[0].label.has_value());
}

TEST_CASE("mmew finds others clips in the repression folder") {
  const auto c = fx::mmew_corpus(fx::fresh_dir("mmew"));
  const LoadResult r = load_dataset(source("mmew", c));
  REQUIRE(r.samples.size() == 2);
  CHECK(r.samples[1].key == "mmew/S02/S02-07-001");
  CHECK(r.samples[1].emotion == "others");
  CHECK(r.samples[1].folder.parent_path().filename() == "repression");
}

TEST_CASE("fourdme keeps static AUs as uncertain") {
  const auto c = fx::fourdme_corpus(fx::fresh_dir("fourdme"));
  const LoadResult r = load_dataset(source("fourdme", c));
  REQUIRE(r.samples.size() == 2);
  CHECK(to_string(*r.samples[0].aus) == "4(k)+L7");
  CHECK(r.samples[0].emotion == "Surprise+Positive");
  CHECK(to_string(*r.samples[1].aus) == "R2+12(k)+45");
  CHECK(r.samples[1].color == ColorMode::Grayscale);
}

TEST_CASE("casme_squared reads configured columns and keeps the micro rows") {
  const auto c = fx::casme_squared_corpus(fx::fresh_dir("casme_squared"));
  const nlohmann::json options = {{"columns",
                                   {{"subject", "Participant"},
                                    {"clip", "Video"},
                                    {"onset", "OnsetF"},
                                    {"apex", "ApexF"},
                                    {"offset", "OffsetF"},
                                    {"au", "AUs"}}},
                                  {"type_column", "Expression type"},
                                  {"type_value", "micro-expression"}};
  const LoadResult r = load_dataset(source("casme_squared", c, options));
  CHECK(keys(r) ==
        std::vector<std::string>{"casme_squared/s15/15_0101disgustingteeth", "casme_squared/s16/16_0102"});
  CHECK(r.samples[0].frame_numbers == std::vector<int64_t>{10, 11, 12, 13, 14});
}

TEST_CASE("megc3 drops every native label without a class, with the label in the reason") {
  const auto dir = fx::fresh_dir("megc3_drops");
  LoadOptions o;
  o.labels.name = "megc3";
  // SAMM: Other (Fear and Sadness stay: negative).
  const LoadResult samm = load_dataset(source("samm", fx::samm_corpus(dir / "samm")), o);
  REQUIRE(samm.excluded.size() == 1);
  CHECK(samm.excluded[0].reason == "label 'Other' has no megc3 class");
  std::map<std::string, int> n;
  for (const auto& s : samm.samples) ++n[*s.label];
  // Anger x2, Fear, Sadness, Contempt, Disgust -> negative 6; Happiness 1; Surprise 1.
  CHECK(n == std::map<std::string, int>{{"negative", 6}, {"positive", 1}, {"surprise", 1}});
  // CAS(ME)^3 part A: "Others" (capitalised, as in the sheet).
  const LoadResult c3 = load_dataset(source("casme3a", fx::casme3a_corpus(dir / "casme3a")), o);
  REQUIRE(c3.excluded.size() == 1);
  CHECK(c3.excluded[0].key == "casme3a/spNO.1/b#2");
  CHECK(c3.excluded[0].reason == "label 'Others' has no megc3 class");
  CHECK(c3.samples[0].label == "positive");
  CHECK(c3.samples[1].label == "negative");
  // With unmapped = error the dropped labels are problems instead.
  o.labels.unmapped = "error";
  const auto c = fx::casme2_corpus(dir / "casme2");
  try {
    load_dataset(source("casme2", c), o);
    FAIL("expected a DatasetError");
  } catch (const DatasetError& e) {
    REQUIRE(e.problems().size() == 3);
    CHECK(e.problems()[0].message == "casme2/sub03/EP01_2: label 'others' has no megc3 class");
    CHECK(e.problems()[1].message == "casme2/sub03/EP07_04: label 'fear' has no megc3 class");
    CHECK(e.problems()[2].message == "casme2/sub03/EP09_03: label 'sadness' has no megc3 class");
  }
}

// Fact sheet §2.5: some CAS(ME)^3 A onsets are 0 (no frame 0.jpg), some apexes equal the onset, some
// offsets are 0 or smaller than the apex. Strict loading reports each bad row; lenient loading keeps the
// valid apex == onset clip and drops the others with their reasons.
TEST_CASE("casme3a sheet quirks: onset 0 and invalid offsets fail and apex equal to onset is valid") {
  const auto dir = fx::fresh_dir("casme3a_quirks");
  const fx::fs::path root = dir / "part_A";
  auto S = [](const std::string& s) { return fx::Cell{s}; };
  auto N = [](double v) { return fx::Cell{v}; };
  fx::Sheet sh{"label",
               {{S("Subject"), S("Filename"), S("Onset"), S("Apex"), S("Offset"), S("AU"), S("emotion")},
                {S("spNO.1"), S("a"), N(0), N(2), N(4), S("4"), S("disgust")},     // onset 0: 0.jpg absent
                {S("spNO.1"), S("b"), N(5), N(5), N(8), S("12"), S("happy")},      // apex == onset: valid
                {S("spNO.1"), S("c"), N(10), N(12), N(0), S("4"), S("disgust")},   // offset 0
                {S("spNO.1"), S("d"), N(15), N(18), N(17), S("1+2"), S("surprise")}}};  // offset < apex
  for (const char* v : {"a", "b", "c", "d"}) fx::write_frames(root / "spNO.1" / v / "color", "", ".jpg", 1, 30);
  const fx::fs::path ann = dir / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx";
  fx::write_xlsx(ann, {sh});
  const fx::Corpus c{root, ann};

  std::vector<Problem> problems;
  try {
    load_dataset(source("casme3a", c));
  } catch (const DatasetError& e) {
    problems = e.problems();
  }
  INFO([&] {
    std::string t;
    for (const auto& p : problems) t += p.path + " | " + p.message + "\n";
    return t;
  }());
  const std::string sheet = ann.string() + ", sheet 'label', row ";
  REQUIRE(problems.size() == 4);
  CHECK(problems[0].path == sheet + "2");
  CHECK(problems[0].message == "casme3a/spNO.1/a: frames missing in " + (root / "spNO.1/a/color").string() +
                                   ": 0 (1 of 5; frame_gaps allows 0)");
  CHECK(problems[1].path == sheet + "4");
  CHECK(problems[1].message == "casme3a/spNO.1/c: onset 10 is after offset 0");
  CHECK(problems[2].message == "casme3a/spNO.1/c: apex 12 is outside onset..offset 10..0");
  CHECK(problems[3].path == sheet + "5");
  CHECK(problems[3].message == "casme3a/spNO.1/d: apex 18 is outside onset..offset 15..17");

  LoadOptions lenient;
  lenient.mode = LoadMode::Lenient;
  const LoadResult r = load_dataset(source("casme3a", c), lenient);
  REQUIRE(keys(r) == std::vector<std::string>{"casme3a/spNO.1/b"});
  CHECK(r.samples[0].onset_index == 0);
  CHECK(r.samples[0].apex_index == 0);
  CHECK(r.samples[0].offset_index == 3);  // frames 5..8
  REQUIRE(r.dropped.size() == 3);
  CHECK(r.dropped[0].key == "casme3a/spNO.1/a");
  CHECK(r.dropped[1].key == "casme3a/spNO.1/c");
  CHECK(r.dropped[2].key == "casme3a/spNO.1/d");
}
