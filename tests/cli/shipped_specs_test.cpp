// The experiment specs merx ships for the licensed corpora (experiments/paper_lodo.json, baselines_lodo.json,
// megc2019_cde.json) validate against corpora in the official layouts: the fixture library writes one tiny
// clip per row of the published MEGC2019 list (tests/datasets/fixtures) under CASME2/, SAMM/ and SMIC/, the
// folders README tells the user to export as CASME2_ROOT, SAMM_ROOT and SMIC_ROOT.
//
// Expected cell counts from the specs' design: LODO = 3 target folds; paper_lodo 4 variants (ERM, brl,
// au_gan, both) x 5 seeds; baselines_lodo 8 variants x 5 seeds; MEGC2019 CDE = LOSO over the composite's
// 68 subjects (24 CASME II + 28 SAMM + 16 SMIC-HS, the challenge's published counts) x 1 seed.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "datasets/fixtures/fixtures.h"
#include "run.h"

namespace fx = merx::fixtures;
using merx::test::run_shell;
using merx::test::RunResult;

namespace {

RunResult validate(const std::string& spec, const fx::MegcCorpora& c, bool with_list) {
  std::string env = "CASME2_ROOT='" + c.casme2.root.parent_path().string() + "' SAMM_ROOT='" +
                    c.samm.root.parent_path().string() + "' SMIC_ROOT='" + c.smic_hs.root.parent_path().string() + "'";
  if (with_list) env += " MEGC2019_LIST='" + fx::megc2019_list().string() + "'";
  return run_shell("env -u MEGC2019_LIST " + env + " '" MERX_EXE "' validate '" MERX_SOURCE_DIR "/experiments/" +
                   spec + "'");
}

}  // namespace

TEST_CASE("the shipped paper, baselines and MEGC2019 specs validate on corpora in the official layouts") {
  const fx::MegcCorpora c = fx::megc2019_corpora(fx::fresh_dir("shipped_specs"));
  struct Expect {
    const char* spec;
    const char* cells;
  };
  for (const Expect& e : {Expect{"paper_lodo.json", "3 folds x 4 sweep points x 5 seeds = 60 cells"},
                          Expect{"baselines_lodo.json", "3 folds x 8 sweep points x 5 seeds = 120 cells"},
                          Expect{"megc2019_cde.json", "= 68 cells"}}) {
    INFO(std::string(e.spec));
    const RunResult r = validate(e.spec, c, true);
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find(e.cells) != std::string::npos);
  }
  // Without MEGC2019_LIST the MEGC spec names the variable and how to set it; exit 2.
  const RunResult r = validate("megc2019_cde.json", c, false);
  CHECK(r.code == 2);
  CHECK(r.err.find("environment variable `MEGC2019_LIST` is not set: `export MEGC2019_LIST=...`") !=
        std::string::npos);
}

TEST_CASE("validate reports the annotation problems of every dataset in one pass") {
  const fx::MegcCorpora c = fx::megc2019_corpora(fx::fresh_dir("shipped_specs_broken"));
  // Both workbooks truncated to nothing: neither is a readable .xlsx.
  std::ofstream(c.casme2.annotations, std::ios::trunc).close();
  std::ofstream(c.samm.annotations, std::ios::trunc).close();
  const RunResult r = validate("paper_lodo.json", c, false);
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(r.err.find(c.casme2.annotations.string()) != std::string::npos);
  CHECK(r.err.find(c.samm.annotations.string()) != std::string::npos);
}
