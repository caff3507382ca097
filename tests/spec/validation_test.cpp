// Malformed specs: every problem is reported at its exact JSON path, with a did-you-mean for typos, and all
// of them at once.
#include "helpers.h"

using namespace merx;
using namespace merx::test;

namespace {

struct Fixture {
  fs::path dir = toy_datasets("validation");
  json spec = base_spec();
  std::vector<Problem> problems(const std::vector<std::string>& sets = {}, const EnvLookup& env = env_of({}),
                                const PlanOptions& options = {}) const {
    return problems_of(spec, dir, sets, env, options);
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "the base spec of these tests is valid") {
  CHECK(problems().empty());
}

TEST_CASE_FIXTURE(Fixture, "a string where a number is expected is a type problem at its path") {
  spec["training"] = {{"lr", "fast"}};
  CHECK_PROBLEM(problems(), "training.lr", "expected a number, got the string \"fast\"");
}

TEST_CASE_FIXTURE(Fixture, "an unknown top-level key suggests the closest field") {
  spec["trainng"] = {{"lr", 0.1}};
  CHECK_PROBLEM(problems(), "trainng", "`trainng` is not a field; did you mean `training`?");
}

TEST_CASE_FIXTURE(Fixture, "an unknown training setting suggests the closest one") {
  spec["training"] = {{"lrr", 0.1}};
  CHECK_PROBLEM(problems(), "training.lrr", "did you mean `lr`?");
}

TEST_CASE_FIXTURE(Fixture, "an unknown dataset field suggests the closest one") {
  spec["datasets"][0]["rot"] = "x";
  CHECK_PROBLEM(problems(), "datasets[0].rot", "did you mean `root`?");
}

TEST_CASE_FIXTURE(Fixture, "an out-of-range plugin parameter names the bound") {
  spec["backbone"]["params"]["features"] = 100000;
  CHECK_PROBLEM(problems(), "backbone.params.features", "above the maximum 65536");
}

TEST_CASE_FIXTURE(Fixture,
                  "1.5 for an int parameter is refused, 2.0 is accepted, an int for a float is fine") {
  spec["backbone"]["params"]["features"] = 1.5;
  CHECK_PROBLEM(problems(), "backbone.params.features", "not a whole number");
  spec["backbone"]["params"]["features"] = 32.0;
  spec["regularizer"] = {{"name", "toyreg"}, {"params", {{"lambda", 2}}}};
  CHECK(problems().empty());
}

TEST_CASE_FIXTURE(Fixture, "an unknown plugin parameter suggests the closest one") {
  spec["backbone"]["params"]["featurs"] = 32;
  CHECK_PROBLEM(problems(), "backbone.params.featurs",
                "`featurs` is not a parameter of backbone `linear`; did you mean `features`?");
}

TEST_CASE_FIXTURE(Fixture, "an unknown plugin lists what exists, with a did-you-mean") {
  spec["backbone"]["name"] = "lnear";
  CHECK_PROBLEM(problems(), "backbone.name",
                "unknown backbone `lnear`; did you mean `linear`? (backbones: `linear`; a plugin of your own: its "
                "folder of .so files under `plugin_paths` or in $MERX_PLUGIN_PATH)");
}

TEST_CASE_FIXTURE(Fixture, "a plugin whose file was refused says why") {
  spec["regularizer"] = {{"name", "brl"}};
  CHECK_PROBLEM(problems(), "regularizer.name",
                "merx_regularizer_brl.so but refused: plugin ABI 2.0, this merx expects 1.x");
}

TEST_CASE_FIXTURE(Fixture, "a string choice outside the declared ones suggests the closest") {
  spec["training"] = {{"optimizer", "adamm"}};
  CHECK_PROBLEM(problems(), "training.optimizer", "did you mean `adam`?");
  spec["training"] = {{"optimizer", "adam"}};
  spec["regularizer"] = {{"name", "toyreg"}, {"params", {{"flag", 1}}}};
  CHECK_PROBLEM(problems(), "regularizer.params.flag", "expected true or false");
}

TEST_CASE_FIXTURE(Fixture, "an empty dataset list is a problem at `datasets`") {
  spec["datasets"] = json::array();
  CHECK_PROBLEM(problems(), "datasets", "at least one dataset");
}

TEST_CASE_FIXTURE(Fixture, "duplicate dataset names point at the second one") {
  spec["datasets"][1]["name"] = "a";
  CHECK_PROBLEM(problems(), "datasets[1].name", "duplicate dataset name `a` (also datasets[0].name)");
}

TEST_CASE_FIXTURE(Fixture, "a missing root folder is reported with its resolved path") {
  spec["datasets"][2]["root"] = "no/such/folder";
  CHECK_PROBLEM(problems(), "datasets[2].root", "folder not found: " + (dir / "no/such/folder").string());
}

TEST_CASE_FIXTURE(Fixture, "a missing annotations file, and a required one left out") {
  spec["datasets"][0]["annotations"] = "a/missing.csv";
  spec["datasets"][1].erase("annotations");
  const auto ps = problems();
  CHECK_PROBLEM(ps, "datasets[0].annotations", "file not found");
  CHECK_PROBLEM(ps, "datasets[1].annotations", "adapter `manifest` needs an annotations file");
}

TEST_CASE_FIXTURE(Fixture, "an unknown adapter suggests the closest") {
  spec["datasets"][0]["adapter"] = "casmee2";
  CHECK_PROBLEM(problems(), "datasets[0].adapter", "unknown adapter `casmee2`; did you mean `casme2`?");
}

TEST_CASE_FIXTURE(Fixture, "dataset options must be an object") {
  spec["datasets"][0]["options"] = 3;
  CHECK_PROBLEM(problems(), "datasets[0].options", "expected an object");
}

TEST_CASE_FIXTURE(Fixture, "an unset environment variable without default is a problem at the string's path") {
  spec["datasets"][0]["root"] = "${MERX_TEST_DATA}/a";
  CHECK_PROBLEM(problems(), "datasets[0].root", "environment variable `MERX_TEST_DATA` is not set");
  CHECK(problems({}, env_of({{"MERX_TEST_DATA", dir.string()}})).empty());
}

TEST_CASE_FIXTURE(Fixture,
                  "a --set to a path whose parent does not exist is a problem, with a did-you-mean") {
  spec["training"] = json::object();
  CHECK_PROBLEM(problems({"trainng.lr=0.1"}), "trainng",
                "--set `trainng.lr=0.1`: `trainng` does not exist; did you mean `training`?");
  CHECK_PROBLEM(problems({"datasets[5].root=x"}), "datasets[5]", "no element 5 (the list has 3)");
  CHECK_PROBLEM(problems({"backbone.name.x=1"}), "backbone.name", "is the string \"linear\", not an object");
  CHECK_PROBLEM(problems({"training"}), "", "expected path=value");
}

TEST_CASE_FIXTURE(Fixture, "a sweep over a path that does not exist") {
  spec["sweep"] = {{"grid", {{"trainng.lr", {0.1}}}}};
  CHECK_PROBLEM(problems(), "sweep.grid[\"trainng.lr\"]",
                "`trainng` is not a field; did you mean `training`?");
  spec["sweep"] = {{"grid", {{"regularizer.params.lambda_js", {0, 0.1, 1}}}}};
  CHECK_PROBLEM(problems(), "sweep.grid[\"regularizer.params.lambda_js\"]",
                "`lambda_js` is not a parameter of regularizer `none`");
  spec["sweep"] = {{"grid", {{"datasets[0].root", {"a", "b"}}}}};
  CHECK_PROBLEM(problems(), "sweep.grid[\"datasets[0].root\"]", "`datasets` cannot be changed by a sweep");
}

TEST_CASE_FIXTURE(Fixture, "a bad grid value is reported at its index in the grid list") {
  spec["sweep"] = {{"grid", {{"training.lr", {0.1, 100}}}}};
  CHECK_PROBLEM(problems(), "sweep.grid[\"training.lr\"][1]", "100 is above the maximum 10");
  spec["sweep"] = {{"grid", {{"training.lr", 0.1}}}};
  CHECK_PROBLEM(problems(), "sweep.grid[\"training.lr\"]", "expected a list of values");
}

TEST_CASE_FIXTURE(Fixture, "duplicate variant names point at the second variant") {
  spec["sweep"] = {
      {"variants",
       {{{"name", "x"}, {"training", {{"lr", 0.1}}}}, {{"name", "x"}, {"training", {{"lr", 0.2}}}}}}};
  CHECK_PROBLEM(problems(), "sweep.variants[1].name",
                "duplicate variant name `x` (also sweep.variants[0].name)");
}

TEST_CASE_FIXTURE(Fixture, "a variant label must be a non-empty string unique among the variants") {
  spec["sweep"] = {{"variants",
                    {{{"name", "x"}, {"label", "Ours"}, {"training", {{"lr", 0.1}}}},
                     {{"name", "y"}, {"label", "Ours"}, {"training", {{"lr", 0.2}}}}}}};
  CHECK_PROBLEM(problems(), "sweep.variants[1].label",
                "duplicate variant label `Ours` (also sweep.variants[0].label)");
  spec["sweep"]["variants"][1]["label"] = 3;
  CHECK_PROBLEM(problems(), "sweep.variants[1].label", "expected a string");
  spec["sweep"]["variants"][1]["label"] = "";
  CHECK_PROBLEM(problems(), "sweep.variants[1].label", "must not be empty");
  spec["sweep"]["variants"][1]["label"] = "Ours + BRL";
  CHECK(problems().empty());
}

TEST_CASE_FIXTURE(Fixture, "two sweep points with the same content are one problem naming both") {
  spec["sweep"] = {
      {"variants",
       {{{"name", "x"}, {"training", {{"lr", 0.1}}}}, {{"name", "y"}, {"training", {{"lr", 0.1}}}}}}};
  CHECK_PROBLEM(problems(), "sweep.variants[1]",
                "sweep points 0 (variant `x`) and 1 (variant `y`) resolve to the same settings");
  // 1 and 1.0 for a float parameter are the same value.
  spec["regularizer"] = {{"name", "toyreg"}};
  spec["sweep"] = {{"grid", {{"regularizer.params.lambda", {1, 1.0}}}}};
  CHECK_PROBLEM(problems(), "sweep.grid",
                "sweep points 0 (regularizer.params.lambda=1) and 1 (regularizer.params.lambda=1.0)");
}

TEST_CASE_FIXTURE(Fixture, "a problem inside a variant is reported at the variant") {
  spec["sweep"] = {{"variants", {{{"name", "x"}, {"backbone", {{"params", {{"featurs", 32}}}}}}}}};
  CHECK_PROBLEM(problems(), "sweep.variants[0].backbone.params.featurs", "did you mean `features`?");
  spec["sweep"] = {{"variants", {{{"name", "x"}, {"datasets", json::array()}}}}};
  CHECK_PROBLEM(problems(), "sweep.variants[0].datasets", "`datasets` cannot be changed by a variant");
}

TEST_CASE_FIXTURE(Fixture, "seeds: negative count, duplicate values, wrong type") {
  spec["seeds"] = -2;
  CHECK_PROBLEM(problems(), "seeds", "the seed count must be at least 1, got -2");
  spec["seeds"] = {1, 2, 1};
  CHECK_PROBLEM(problems(), "seeds[2]", "seed value 1 is listed twice (also seeds[0])");
  spec["seeds"] = "two";
  CHECK_PROBLEM(problems(), "seeds", "expected a seed count or a list of seed values");
  spec["seeds"] = {0, -1};
  CHECK_PROBLEM(problems(), "seeds[1]", ">= 0");
}

TEST_CASE_FIXTURE(Fixture, "hde: a target among its own sources, an unknown source") {
  spec["protocol"] =
      json::parse(R"({"name": "hde", "params": {"pairs": [{"sources": ["a", "b"], "target": "b"},
                                                                          {"sources": ["a", "x"], "target": "c"}]}})");
  const auto ps = problems();
  CHECK_PROBLEM(ps, "protocol.params.pairs[0].target", "`b` is also a source of this pair");
  CHECK_PROBLEM(ps, "protocol.params.pairs[1].sources[1]", "`x` is not a dataset of this spec");
}

TEST_CASE_FIXTURE(Fixture, "lodo with one dataset, unknown protocol, bad lodo targets, kfold k too small") {
  spec["datasets"] = {spec["datasets"][0]};
  CHECK_PROBLEM(problems(), "protocol.name", "`lodo` needs at least 2 datasets; the spec lists 1");
  spec = base_spec();
  spec["protocol"]["name"] = "lodoo";
  CHECK_PROBLEM(problems(), "protocol.name", "did you mean `lodo`?");
  spec["protocol"] = json::parse(R"({"name": "lodo", "params": {"targets": ["a", "bb"]}})");
  CHECK_PROBLEM(problems(), "protocol.params.targets[1]",
                "`bb` is not a dataset of this spec; did you mean `b`?");
  spec["protocol"] = json::parse(R"({"name": "kfold_subject", "params": {"k": 1}})");
  CHECK_PROBLEM(problems(), "protocol.params.k", "below the minimum 2");
  spec["protocol"] = json::parse(R"({"name": "loso", "params": {"x": 1}})");
  CHECK_PROBLEM(problems(), "protocol.params.x", "is not a parameter of protocol `loso` (there are none)");
}

TEST_CASE_FIXTURE(Fixture, "loso without a subject provider says the folds need the dataset index") {
  spec["protocol"] = {{"name", "loso"}};
  CHECK_PROBLEM(problems(), "protocol.name", "needs the dataset index");
}

TEST_CASE_FIXTURE(Fixture,
                  "a missing backbone, unknown recipe parameter, a backbone that does not fit the recipe") {
  spec.erase("backbone");
  CHECK_PROBLEM(problems(), "backbone", "required field is missing");
  spec = base_spec();
  spec["recipe"] = {{"params", {{"sise", 32}}}};
  CHECK_PROBLEM(problems(), "recipe.params.sise", "did you mean `size`?");
  spec["recipe"] = {{"name", "apex_gray"}};
  CHECK_PROBLEM(problems(), "backbone.params.channels",
                "recipe `apex_gray` makes [1, 28, 28] tensors, so `channels` must be 1");
}

TEST_CASE_FIXTURE(Fixture,
                  "labels: custom without a map, a map with another mapping, a missing membership file") {
  spec["labels"] = {{"name", "custom"}};
  CHECK_PROBLEM(problems(), "labels.map", "required with `custom` labels");
  spec["labels"] = {{"name", "megc3"}, {"map", {{"happiness", "positive"}}}, {"membership", "none.csv"}};
  const auto ps = problems();
  CHECK_PROBLEM(ps, "labels.map", "only used with");
  CHECK_PROBLEM(ps, "labels.membership", "file not found");
}

TEST_CASE_FIXTURE(Fixture, "random search needs a count of at least 1") {
  spec["sweep"] = {{"random", {{"count", 0}}}};
  CHECK_PROBLEM(problems(), "sweep.random.count", "between 1 and 10000");
  spec["sweep"] = {{"random", {{"count", 2}}}};
  spec["backbone"]["params"]["features"] = 32;
  CHECK_PROBLEM(problems(), "sweep.random", "nothing to draw");
}

TEST_CASE_FIXTURE(Fixture, "plugin_paths must name existing folders, and loo_source needs 3 sources per fold") {
  spec["plugin_paths"] = {"no_plugins_here"};
  CHECK_PROBLEM(problems(), "plugin_paths[0]", "folder not found");
  spec.erase("plugin_paths");
  spec["training"] = {{"selection", "loo_source"}};
  CHECK_PROBLEM(problems(), "training.selection",
                "`loo_source` needs at least 3 source datasets in every fold");
}

TEST_CASE_FIXTURE(Fixture, "several independent problems are all reported at once") {
  spec["trainng"] = json::object();
  spec["training"] = {{"lr", 50}};
  spec["datasets"][1]["root"] = "missing";
  spec["seeds"] = {3, 3};
  spec["backbone"]["params"]["size"] = "big";
  const auto ps = problems();
  CHECK(ps.size() == 5);
  CHECK_PROBLEM(ps, "trainng", "did you mean `training`?");
  CHECK_PROBLEM(ps, "training.lr", "above the maximum 10");
  CHECK_PROBLEM(ps, "datasets[1].root", "folder not found");
  CHECK_PROBLEM(ps, "seeds[1]", "listed twice");
  CHECK_PROBLEM(ps, "backbone.params.size", "expected an integer");
}

TEST_CASE_FIXTURE(Fixture, "ValidationError::what() lists every problem with its path, one per line") {
  spec["trainng"] = json::object();
  spec["seeds"] = 0;
  try {
    make_plan(spec_from_json(spec, dir, {}, env_of({})), fake_catalog());
    FAIL("expected a ValidationError");
  } catch (const ValidationError& e) {
    const std::string what = e.what();
    CHECK(what.find("trainng: `trainng` is not a field") != std::string::npos);
    CHECK(what.find("\nseeds: the seed count must be at least 1") != std::string::npos);
  }
}

TEST_CASE_FIXTURE(Fixture, "a problem only some sweep points have names those points") {
  // features=64 by default fits; `size` set by the grid to 600 breaks only the second point.
  spec["sweep"] = {{"grid", {{"backbone.params.size", {28, 600}}}}};
  CHECK_PROBLEM(problems(), "sweep.grid[\"backbone.params.size\"][1]", "600 is above the maximum 512");
  // A base value that is wrong only for one variant's plugin says which point.
  spec["sweep"] = {
      {"variants", {{{"name", "erm"}}, {{"name", "toy"}, {"regularizer", {{"name", "toyreg"}}}}}}};
  spec["regularizer"] = {{"name", "none"}, {"params", {{"steps", 5000}}}};
  const auto ps = problems();
  CHECK_PROBLEM(ps, "regularizer.params.steps", "(in sweep point 0: variant `erm`)");
  CHECK_PROBLEM(ps, "regularizer.params.steps",
                "5000 is above the maximum 1000 (in sweep point 1: variant `toy`)");
}

TEST_CASE_FIXTURE(Fixture, "doubtful settings are warnings, not problems") {
  spec["training"] = {{"step_size", 5}, {"selection", "oracle"}};
  const Plan plan = plan_of(spec, dir);
  bool step = false, oracle = false;
  for (const auto& w : plan.warnings) {
    step = step || (w.path == "training.step_size" && w.message.find("schedule `step`") != std::string::npos);
    oracle =
        oracle || (w.path == "training.selection" && w.message.find("never ranked") != std::string::npos);
  }
  CHECK(step);
  CHECK(oracle);
}

TEST_CASE_FIXTURE(Fixture, "a misspelt or mistyped adapter option is a problem at its path") {
  spec["datasets"][1]["options"] = {{"frame_gap", 2}, {"cropped", "yes"}};
  const auto ps = problems();
  CHECK_PROBLEM(ps, "datasets[1].options.frame_gap", "did you mean `frame_gaps`?");
  CHECK_PROBLEM(ps, "datasets[1].options.cropped", "expected bool");
}

TEST_CASE_FIXTURE(Fixture, "a recipe and a dataset of different input kinds are refused at recipe.name") {
  spec["recipe"] = {{"name", "flow_images"}};  // the fixture's datasets have frames
  CHECK_PROBLEM(problems(), "recipe.name",
                "recipe `flow_images` reads precomputed flow images, but dataset `a` (adapter `");
  spec["recipe"] = {{"name", "flow_strain"}};
  spec["datasets"][2]["adapter"] = "flow_images";
  spec["datasets"][2].erase("annotations");
  CHECK_PROBLEM(problems(), "recipe.name",
                "recipe `flow_strain` reads frames, but dataset `c` (adapter `flow_images`) has precomputed flow "
                "images; use the recipe `flow_images`");
}

TEST_CASE_FIXTURE(Fixture, "megc3 labels over a corpus without MEGC2019 rules are refused") {
  spec["datasets"][2]["adapter"] = "mmew";
  spec["labels"] = {{"name", "megc3"}};
  CHECK_PROBLEM(problems(), "labels.name", "`megc3` has no rules for adapter `mmew` (dataset `c`)");
}

TEST_CASE_FIXTURE(Fixture, "training.steps: either epochs or steps, step_size explicit under steps") {
  spec["training"] = {{"epochs", 5}, {"steps", 100}};
  CHECK_PROBLEM(problems(), "training.steps", "set either `epochs` or `steps`, not both");
  spec["training"] = {{"steps", 100}, {"schedule", "step"}};
  CHECK_PROBLEM(problems(), "training.step_size", "counts optimiser steps");
  spec["training"] = {{"steps", -1}};
  CHECK_PROBLEM(problems(), "training.steps", "below the minimum 0");
  spec["training"] = {{"steps", 100}, {"eval_every", 10}, {"schedule", "step"}, {"step_size", 50}};
  CHECK(problems().empty());
  spec["training"] = {{"epochs", 5}, {"eval_every", 10}};
  const Plan plan = plan_of(spec, dir);
  bool eval = false;
  for (const auto& w : plan.warnings)
    eval = eval || (w.path == "training.eval_every" && w.message == "only used with `steps`");
  CHECK(eval);
}

TEST_CASE_FIXTURE(Fixture,
                  "counterfactual_of must name another dataset of the spec that is not a twin itself") {
  spec["datasets"].push_back({{"name", "b_cf"},
                              {"adapter", "manifest"},
                              {"root", "b"},
                              {"annotations", "b/annotations.csv"},
                              {"counterfactual_of", "b"}});
  CHECK(problems().empty());
  spec["datasets"][3]["counterfactual_of"] = "bb";
  CHECK_PROBLEM(problems(), "datasets[3].counterfactual_of",
                "`bb` is not a dataset of this spec; did you mean `b`?");
  spec["datasets"][3]["counterfactual_of"] = "b_cf";
  CHECK_PROBLEM(problems(), "datasets[3].counterfactual_of", "`b_cf` is this dataset itself");
  spec["datasets"][3]["counterfactual_of"] = 3;
  CHECK_PROBLEM(problems(), "datasets[3].counterfactual_of", "expected a string");
  // A twin of a twin, and a second twin of the same dataset.
  spec["datasets"][3]["counterfactual_of"] = "b";
  spec["datasets"].push_back({{"name", "b_cf2"},
                              {"adapter", "manifest"},
                              {"root", "b"},
                              {"annotations", "b/annotations.csv"},
                              {"counterfactual_of", "b_cf"}});
  CHECK_PROBLEM(problems(), "datasets[4].counterfactual_of",
                "`b_cf` is itself a counterfactual twin (of `b`, datasets[3].counterfactual_of)");
  spec["datasets"][4]["counterfactual_of"] = "b";
  CHECK_PROBLEM(problems(), "datasets[4].counterfactual_of",
                "`b` already has a counterfactual twin (datasets[3]); a dataset has at most one");
}

TEST_CASE_FIXTURE(Fixture, "a counterfactual twin named as a protocol domain is a problem at that path") {
  spec["datasets"].push_back({{"name", "b_cf"},
                              {"adapter", "manifest"},
                              {"root", "b"},
                              {"annotations", "b/annotations.csv"},
                              {"counterfactual_of", "b"}});
  spec["protocol"] = json::parse(R"({"name": "lodo", "params": {"targets": ["a", "b_cf"]}})");
  CHECK_PROBLEM(
      problems(), "protocol.params.targets[1]",
      "`b_cf` is the counterfactual twin of `b` (its `counterfactual_of`): a twin is never a source or "
      "target of the protocol");
  spec["protocol"] = json::parse(R"({"name": "hde", "params": {"pairs": [{"sources": ["b_cf"], "target": "a"},
                                                                         {"sources": ["a"], "target": "b_cf"}]}})");
  const auto ps = problems();
  CHECK_PROBLEM(ps, "protocol.params.pairs[0].sources[0]", "`b_cf` is the counterfactual twin of `b`");
  CHECK_PROBLEM(ps, "protocol.params.pairs[1].target", "`b_cf` is the counterfactual twin of `b`");
  // Twins do not count towards a protocol's minimum: one domain and its twin is not enough for lodo.
  spec = base_spec();
  spec["datasets"] = {spec["datasets"][1],
                      {{"name", "b_cf"},
                       {"adapter", "manifest"},
                       {"root", "b"},
                       {"annotations", "b/annotations.csv"},
                       {"counterfactual_of", "b"}}};
  CHECK_PROBLEM(problems(), "protocol.name",
                "`lodo` needs at least 2 datasets; the spec lists 1 (counterfactual twins not counted)");
}
