// AUs in the sample record (issue 3, section 1): in a corpus that codes AUs an AU not listed for a clip is
// absent (has_au false, i.e. intensity 0), in a corpus that codes none the AUs are missing (nullopt, never
// an empty list or 0); and the AU sets of section 6 (the 12-AU cross-dataset set and the per-corpus sets).
#include <doctest/doctest.h>

#include "datasets/fixtures/fixtures.h"
#include "merx/datasets/labels.h"
#include "merx/datasets/load.h"
#include "merx/errors.h"

using namespace merx;
namespace fx = merx::fixtures;

namespace {

const SampleRecord& find(const LoadResult& r, const std::string& key) {
  for (const auto& s : r.samples)
    if (s.key == key) return s;
  FAIL("no sample " << key);
  return r.samples.front();
}

// The clip's AUs as 0/1 over an AU set, or "missing" when the corpus codes no AUs.
std::string indicators(const SampleRecord& s, const std::vector<int>& set) {
  std::string out;
  for (int au : set) {
    const auto has = s.has_au(au);
    if (!has) return "missing";
    out += *has ? '1' : '0';
  }
  return out;
}

}  // namespace

TEST_CASE("in a corpus that codes AUs an unlisted AU is absent, in one that codes none AUs are missing") {
  const auto dir = fx::fresh_dir("aus_presence");
  DatasetSource casme2;
  casme2.adapter = "casme2";
  const auto c2 = fx::casme2_corpus(dir / "casme2");
  casme2.root = c2.root;
  casme2.annotations = c2.annotations;
  const LoadResult r = load_dataset(casme2);
  // cross set 1 2 4 5 6 7 9 10 12 14 15 17
  CHECK(indicators(find(r, "casme2/sub01/EP19_05f"), au_set("cross")) == "001000010000");  // "4+L10"
  CHECK(indicators(find(r, "casme2/sub01/EP02_01f"), au_set("cross")) == "000000001000");  // "12"
  CHECK(indicators(find(r, "casme2/sub03/EP09_03"), au_set("cross")) == "100000000010");   // "1+15"
  // "R14A or 17A": both alternatives' AUs are present (flagged uncertain)
  CHECK(indicators(find(r, "casme2/sub02/EP09_01"), au_set("cross")) == "000000000101");
  CHECK(find(r, "casme2/sub01/EP19_05f").has_au(45) == false);

  DatasetSource smic;
  smic.adapter = "smic_hs";
  smic.root = fx::smic_hs_corpus(dir / "smic").root;
  const LoadResult s = load_dataset(smic);
  REQUIRE(s.samples.size() == 6);
  for (const auto& x : s.samples) {
    CHECK_FALSE(x.aus.has_value());
    CHECK(indicators(x, au_set("cross")) == "missing");
    CHECK(x.au_text.empty());
  }
}

TEST_CASE("an empty AU cell in a corpus that codes AUs is an empty list, a manifest without aus codes none") {
  const auto dir = fx::fresh_dir("aus_empty");
  fx::write_frames(dir / "frames/c1", "f", ".png", 1, 3);
  fx::write_frames(dir / "frames/c2", "f", ".png", 1, 3);
  fx::write_text(dir / "with.csv",
                 "subject,clip,frames,onset,apex,offset,label,aus\n"
                 "a,c1,frames/c1,1,2,3,x,\n"
                 "a,c2,frames/c2,1,2,3,x,/\n");
  fx::write_text(dir / "without.csv",
                 "subject,clip,frames,onset,apex,offset,label\n"
                 "a,c1,frames/c1,1,2,3,x\n");
  DatasetSource s;
  s.adapter = "manifest";
  s.root = dir;
  s.annotations = dir / "with.csv";
  const LoadResult with = load_dataset(s);
  REQUIRE(with.samples.size() == 2);
  for (const auto& x : with.samples) {
    REQUIRE(x.aus.has_value());
    CHECK(x.aus->empty());
    CHECK(indicators(x, au_set("cross")) == "000000000000");
  }
  s.annotations = dir / "without.csv";
  const LoadResult without = load_dataset(s);
  REQUIRE(without.samples.size() == 1);
  CHECK_FALSE(without.samples[0].aus.has_value());
  CHECK_FALSE(without.samples[0].has_au(4).has_value());
}

TEST_CASE("AU sets are data: the 12-AU cross-dataset set and every per-corpus set") {
  CHECK(au_set_names() == std::vector<std::string>{"casme", "casme2", "cross", "fourdme", "mmew", "samm"});
  CHECK(au_set("cross") == std::vector<int>{1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17});
  CHECK(au_set("cross").size() == 12);
  CHECK(au_set("casme") == std::vector<int>{1, 4, 9, 14});
  CHECK(au_set("casme2") == std::vector<int>{1, 2, 4, 7, 12, 14, 15, 17});
  CHECK(au_set("samm") == std::vector<int>{2, 4, 7, 12});
  CHECK(au_set("mmew") == std::vector<int>{1, 2, 4, 5, 7, 10, 12, 14});
  CHECK(au_set("fourdme") == std::vector<int>{1, 2, 4, 6, 7, 12, 17, 45});
  CHECK_THROWS_WITH_AS(au_set("smic"), "unknown AU set 'smic' (casme, casme2, cross, fourdme, mmew, samm)",
                       UserError);
}
