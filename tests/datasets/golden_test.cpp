// Golden test from published data: the MEGC2019 composite (combined_3class_gt.csv, 442 clips) selected by
// the membership list from miniature CASME II, SAMM and SMIC-HS corpora in the official layouts.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "datasets/fixtures/fixtures.h"
#include "merx/datasets/load.h"

using namespace merx;
namespace fx = merx::fixtures;

namespace {

DatasetSource source(const std::string& adapter, const fx::Corpus& c) {
  DatasetSource s;
  s.adapter = adapter;
  s.root = c.root;
  s.annotations = c.annotations;
  return s;
}

std::map<std::string, int> per_class(const LoadResult& r) {
  std::map<std::string, int> n;
  for (const auto& s : r.samples) ++n[s.label.value_or("?")];
  return n;
}

}  // namespace

TEST_CASE("the MEGC2019 list selects 442 clips of 68 subjects with the published class counts") {
  const auto corpora = fx::megc2019_corpora(fx::fresh_dir("megc2019"));
  const Membership list = Membership::read(fx::megc2019_list());
  LoadOptions o;
  o.labels.name = "megc3";
  o.membership = &list;
  const LoadResult casme2 = load_dataset(source("casme2", corpora.casme2), o);
  const LoadResult samm = load_dataset(source("samm", corpora.samm), o);
  const LoadResult smic = load_dataset(source("smic_hs", corpora.smic_hs), o);

  CHECK(casme2.samples.size() == 145);
  CHECK(samm.samples.size() == 133);
  CHECK(smic.samples.size() == 164);
  CHECK(casme2.samples.size() + samm.samples.size() + smic.samples.size() == 442);
  CHECK(casme2.subjects().size() == 24);
  CHECK(samm.subjects().size() == 28);
  CHECK(smic.subjects().size() == 16);
  std::set<std::string> all;
  for (const auto* r : {&casme2, &samm, &smic})
    for (const auto& s : r->subjects()) all.insert(s);
  CHECK(all.size() == 68);

  CHECK(per_class(casme2) ==
        std::map<std::string, int>{{"negative", 88}, {"positive", 32}, {"surprise", 25}});
  CHECK(per_class(samm) == std::map<std::string, int>{{"negative", 92}, {"positive", 26}, {"surprise", 15}});
  CHECK(per_class(smic) == std::map<std::string, int>{{"negative", 70}, {"positive", 51}, {"surprise", 43}});

  // The unlisted extra clips are excluded, not errors; nothing listed is missing.
  CHECK(casme2.excluded.size() == 1);
  CHECK(samm.excluded.size() == 1);
  CHECK(smic.excluded.size() == 1);
  CHECK(casme2.missing_listed.empty());
  CHECK(samm.missing_listed.empty());
  CHECK(smic.missing_listed.empty());
  CHECK(samm.samples.front().key == "samm/006/006_1_2");
  CHECK(smic.samples.front().subject == "s1");
}

TEST_CASE("clips listed but missing on disk are reported, not loaded") {
  const auto c = fx::smic_hs_corpus(fx::fresh_dir("membership_missing"));
  const auto dir = fx::fresh_dir("membership_missing_list");
  fx::write_text(dir / "list.csv",
                 "smic,s01,s01_ne_01,0\r\n\r\nsmic,s01,s01_po_01,1\r\nsmic,s02,s02_ne_09,0\r\n"
                 "casme2,sub01,EP02_01f,1\r\n");
  const Membership list = Membership::read(dir / "list.csv");
  LoadOptions o;
  o.membership = &list;
  const LoadResult r = load_dataset(source("smic_hs", c), o);
  REQUIRE(r.samples.size() == 2);
  CHECK(r.samples[0].key == "smic_hs/s1/s1_ne_01");
  CHECK(r.samples[0].label == "negative");
  CHECK(r.samples[1].label == "positive");
  REQUIRE(r.missing_listed.size() == 1);
  CHECK(r.missing_listed[0].subject == "s02");
  CHECK(r.missing_listed[0].clip == "s02_ne_09");
  CHECK(r.missing_listed[0].line == 4);
  CHECK(r.excluded.size() == 4);
}

TEST_CASE("a membership list on a sheet corpus selects exactly the listed clips and reports the missing") {
  // casme2 fixture: 11 clips in the sheet; sub09/EP02_02f is a folder without a sheet row (as in the
  // release); sub26/EP99_99 exists nowhere.
  const auto c = fx::casme2_corpus(fx::fresh_dir("membership_casme2"));
  const auto dir = fx::fresh_dir("membership_casme2_list");
  fx::write_text(dir / "list.csv",
                 "casme2,sub01,EP02_01f,1\n,,,\ncasme2,sub2,EP11_01,2\ncasme2,sub09,EP02_02f,0\n"
                 "casme2,sub26,EP99_99,0\nsamm,6,006_1_2,0\n");
  const Membership list = Membership::read(dir / "list.csv");
  LoadOptions o;
  o.labels.name = "megc3";
  o.membership = &list;
  const LoadResult r = load_dataset(source("casme2", c), o);
  REQUIRE(r.samples.size() == 2);
  CHECK(r.samples[0].key == "casme2/sub01/EP02_01f");
  CHECK(r.samples[0].label == "positive");
  CHECK(r.samples[1].key == "casme2/sub02/EP11_01");
  CHECK(r.samples[1].label == "surprise");
  CHECK(r.excluded.size() == 9);
  CHECK(r.excluded[0].reason == "not in the membership list " + (dir / "list.csv").string());
  REQUIRE(r.missing_listed.size() == 2);
  CHECK(r.missing_listed[0].subject == "sub09");
  CHECK(r.missing_listed[0].clip == "EP02_02f");
  CHECK(r.missing_listed[0].line == 4);
  CHECK(r.missing_listed[1].subject == "sub26");
  CHECK(r.missing_listed[1].clip == "EP99_99");
  CHECK(r.missing_listed[1].line == 5);
}

TEST_CASE("a listed clip whose sheet row exists but whose frames are missing on disk is a problem") {
  const auto c = fx::casme2_corpus(fx::fresh_dir("membership_no_frames"));
  fx::fs::remove_all(c.root / "sub02" / "EP11_01");
  const auto dir = fx::fresh_dir("membership_no_frames_list");
  fx::write_text(dir / "list.csv", "casme2,sub01,EP02_01f,1\r\ncasme2,sub02,EP11_01,2\r\n");
  const Membership list = Membership::read(dir / "list.csv");
  LoadOptions o;
  o.membership = &list;
  try {
    load_dataset(source("casme2", c), o);
    FAIL("expected a DatasetError");
  } catch (const DatasetError& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0].path == c.annotations.string() + ", sheet 'Sheet1', row 5");
    CHECK(e.problems()[0].message == "casme2/sub02/EP11_01: frame folder " +
                                         (c.root / "sub02" / "EP11_01").string() + " does not exist");
  }
  o.mode = LoadMode::Lenient;
  const LoadResult r = load_dataset(source("casme2", c), o);
  REQUIRE(r.samples.size() == 1);
  CHECK(r.samples[0].key == "casme2/sub01/EP02_01f");
  REQUIRE(r.dropped.size() == 1);
  CHECK(r.dropped[0].key == "casme2/sub02/EP11_01");
  CHECK(r.missing_listed.empty());
}
