// Malformed specs through the real executable: each must exit 2 and name the JSON path of its problem.
// Every case starts from experiments/example.json (valid) and breaks one thing with --set, so the table
// reads as "this field, this bad value -> this path in the message".
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "run.h"

namespace {

struct Case {
  const char* sets;  // shell-quoted --set arguments
  const char* path;  // what the message must name
};

// 30 cases: wrong types, unknown keys, out-of-range params, unknown plugins, empty lists, bad sweeps,
// duplicates, unset variables, bad protocol settings, bad paths.
const std::vector<Case> kCases = {
    {"--set 'training.lr=\"fast\"'", "training.lr"},
    {"--set training.lr=-1", "training.lr"},
    {"--set training.epochs=0", "training.epochs"},
    {"--set training.schedule=cosin", "training.schedule"},
    {"--set training.trainng=1", "training.trainng"},
    {"--set trainng.lr=0.1", "trainng"},
    {"--set 'datasets=[]'", "datasets"},
    {"--set datasets[1].name=alpha", "datasets[1].name"},
    {"--set datasets[0].adapter=casme22", "datasets[0].adapter"},
    {"--set datasets[2].root=/nonexistent/merx-root", "datasets[2].root"},
    {"--set datasets[0].annotations=/nonexistent/sheet.xlsx", "datasets[0].annotations"},
    {"--set 'datasets[0].root=${MERX_TEST_SURELY_UNSET_VARIABLE}'", "datasets[0].root"},
    {"--set datasets[0].options.frame_gap=1", "datasets[0].options.frame_gap"},
    {"--set backbone.name=resnet9000", "backbone.name"},
    {"--set backbone.params.channels=0", "backbone.params.channels"},
    {"--set backbone.params.featurs=8", "backbone.params.featurs"},
    {"--set backbone.params.size=1.5", "backbone.params.size"},
    {"--set regularizer.name=brll", "regularizer.name"},
    {"--set augmenter.name=au_gann", "augmenter.name"},
    {"--set recipe.name=flow_stain", "recipe.name"},
    {"--set protocol.name=lodoo", "protocol.name"},
    {"--set 'protocol.params.targets=[\"delta\"]'", "protocol.params.targets"},
    {"--set seeds=-2", "seeds"},
    {"--set 'seeds=[1,1]'", "seeds"},
    {"--set 'sweep.grid={\"training.lrr\":[0.1,0.2]}'", "sweep.grid"},
    {"--set 'sweep.variants[1].name=\"adam\"'", "sweep.variants[1].name"},
    {"--set labels.name=megc4", "labels.name"},
    {"--set 'plugin_paths=[\"/nonexistent/merx-plugins\"]'", "plugin_paths[0]"},
    {"--set output=/nonexistent/folder/results.sqlite", "/nonexistent/folder/results.sqlite"},
    {"--set nosuchparent.child=1", "nosuchparent"},
};

}  // namespace

TEST_CASE("30 malformed specs each exit 2 and name the JSON path of the problem") {
  for (const auto& c : kCases) {
    const auto r = merx::test::run_merx("validate '" MERX_SOURCE_DIR "/experiments/example.json' " + std::string(c.sets));
    const std::string label = c.sets;
    INFO("case: " << label << "\nstderr:\n" << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(c.path) != std::string::npos);
    CHECK(r.out.empty());  // nothing that looks like a summary
  }
}
