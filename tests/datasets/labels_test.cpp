// Label mappings, membership list reading, name normalisation, AU sets.
#include <doctest/doctest.h>

#include "datasets/fixtures/fixtures.h"
#include "merx/datasets/labels.h"
#include "merx/errors.h"

using namespace merx;
namespace fx = merx::fixtures;

TEST_CASE("megc3 follows the MEGC2019 rules per corpus, including the fear and sadness case trap") {
  CHECK(megc3_class("casme2", "disgust") == "negative");
  CHECK(megc3_class("casme2", "repression") == "negative");
  CHECK(megc3_class("casme2", "happiness") == "positive");
  CHECK(megc3_class("casme2", "surprise") == "surprise");
  CHECK_FALSE(megc3_class("casme2", "others").has_value());
  CHECK_FALSE(megc3_class("casme2", "fear").has_value());
  CHECK_FALSE(megc3_class("casme2", "sadness").has_value());
  CHECK(megc3_class("samm", "Fear") == "negative");
  CHECK(megc3_class("samm", "Sadness") == "negative");
  CHECK(megc3_class("samm", "Anger") == "negative");
  CHECK(megc3_class("samm", "Contempt") == "negative");
  CHECK(megc3_class("samm", "Disgust") == "negative");
  CHECK(megc3_class("samm", "Happiness") == "positive");
  CHECK(megc3_class("samm", "Surprise") == "surprise");
  CHECK_FALSE(megc3_class("samm", "Other").has_value());
  CHECK_FALSE(megc3_class("samm", "Others").has_value());
  CHECK(megc3_class("smic_hs", "negative") == "negative");
  CHECK(megc3_class("casme3a", "Others") == std::nullopt);
  CHECK(megc3_class("casme3a", "sad") == "negative");
  CHECK_THROWS_WITH_AS(
      megc3_class("mmew", "happiness"),
      "labels megc3: no MEGC2019 rule for adapter 'mmew' (defined for casme2, samm, smic_hs, "
      "smic_vis, smic_nir, casme3a, manifest); use a custom map",
      UserError);
}

TEST_CASE("custom and native mappings") {
  LabelMapping custom{"custom", {{"Happiness", "pos"}, {"disgust", "neg"}}, "drop"};
  CHECK(map_label(custom, "casme2", "happiness") == "pos");
  CHECK(map_label(custom, "casme2", " Disgust ") == "neg");
  CHECK_FALSE(map_label(custom, "casme2", "others").has_value());
  CHECK(map_label(LabelMapping{}, "casme2", "others") == "others");
  CHECK_THROWS_AS(map_label(LabelMapping{"fivefold", {}, "drop"}, "casme2", "x"), UserError);
}

TEST_CASE("names are normalised for joining: padding and case do not matter") {
  CHECK(normalise_name("sub01") == "sub1");
  CHECK(normalise_name("006_1_2") == "6_1_2");
  CHECK(normalise_name("s01_ne_01") == "s1_ne_1");
  CHECK(normalise_name("s1_ne_01") == "s1_ne_1");
  CHECK(normalise_name("6") == normalise_name("006"));
  CHECK(normalise_name("EP02_01f") == "ep2_1f");
  CHECK(normalise_name("0") == "0");
}

TEST_CASE("the MEGC2019 list reads as 442 entries with megc3 class names") {
  const Membership m = Membership::read(fx::megc2019_list());
  REQUIRE(m.entries.size() == 442);
  CHECK(m.entries.front().dataset == "casme2");
  CHECK(m.entries.front().subject == "sub01");
  CHECK(m.entries.front().clip == "EP02_01f");
  CHECK(m.entries.front().label == "positive");
  CHECK(m.entries.front().line == 1);
  size_t samm = 0;
  for (const auto& e : m.entries) samm += e.dataset == "samm";
  CHECK(samm == 133);
  CHECK(Membership::matches_dataset("smic", "smic_hs", "smic_hs"));
  CHECK(Membership::matches_dataset("smic", "hs", "smic_hs"));
  CHECK_FALSE(Membership::matches_dataset("smic", "vis", "smic_vis"));
}

TEST_CASE("membership lists with blank lines and empty rows are accepted, bad rows are located") {
  const auto dir = fx::fresh_dir("membership_format");
  fx::write_text(dir / "ok.csv", "samm,6,006_1_2,0\n,,,\n\nsmic,s01,s01_ne_01,negative\r\n");
  const Membership m = Membership::read(dir / "ok.csv");
  REQUIRE(m.entries.size() == 2);
  CHECK(m.entries[0].label == "negative");
  CHECK(m.entries[1].line == 4);
  fx::write_text(dir / "bad.csv", "samm,6,006_1_2,0\nsamm,6\nsamm,006,6_1_2,1\n");
  try {
    Membership::read(dir / "bad.csv");
    FAIL("expected an error");
  } catch (const ValidationError& e) {
    REQUIRE(e.problems().size() == 2);
    CHECK(e.problems()[0].path == (dir / "bad.csv").string() + ", line 2");
    CHECK(e.problems()[0].message == "expected 4 non-empty fields dataset,subject,clip,label; got 'samm,6'");
    CHECK(e.problems()[1].message == "clip samm/006/6_1_2 is listed twice");
  }
}

TEST_CASE("AU sets are the fact-sheet sets") {
  CHECK(au_set("cross") == std::vector<int>{1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17});
  CHECK(au_set("casme2") == std::vector<int>{1, 2, 4, 7, 12, 14, 15, 17});
  CHECK(au_set("samm") == std::vector<int>{2, 4, 7, 12});
  CHECK(au_set("fourdme") == std::vector<int>{1, 2, 4, 6, 7, 12, 17, 45});
  CHECK_THROWS_AS(au_set("casme3a"), UserError);
}
