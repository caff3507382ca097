// The framework's own declarations and the public parameter checker.
#include "merx/spec/settings.h"
#include "helpers.h"
#include "merx/plugins/registry.h"
#include "merx/spec/params_check.h"

using namespace merx;
using namespace merx::test;

TEST_CASE("the framework's declarations are self-consistent (same checks as a plugin's at load)") {
  for (const auto& r : recipe_catalog()) {
    INFO(r.name);
    CHECK(param_decl_problems(r.params).empty());
    CHECK(r.channels >= 1);
  }
  CHECK(param_decl_problems(training_params()).empty());
  for (const auto& p : protocol_catalog()) CHECK(param_decl_problems(p.scalar_params).empty());
  CHECK(find_recipe(kDefaultRecipe) != nullptr);
  CHECK(find_recipe("flow_strain")->channels == 3);
  CHECK(find_recipe("flow_uv")->channels == 2);
  CHECK(find_recipe("apex_gray")->channels == 1);
  CHECK(find_recipe("onset_apex")->channels == 2);
  CHECK(find_protocol("lodo")->min_datasets == 2);
  CHECK(find_label_mapping("megc3")->classes == std::vector<std::string>{"negative", "positive", "surprise"});
  // TrainingSettings' member defaults are the declared defaults.
  const TrainingSettings d;
  std::vector<Problem> none;
  const TrainingSettings r =
      TrainingSettings::from_json(check_params(training_params(), json(), "training", "", none));
  CHECK(none.empty());
  CHECK(r.optimizer == d.optimizer);
  CHECK(r.lr == d.lr);
  CHECK(r.momentum == d.momentum);
  CHECK(r.schedule == d.schedule);
  CHECK(r.step_size == d.step_size);
  CHECK(r.gamma == d.gamma);
  CHECK(r.epochs == d.epochs);
  CHECK(r.batch == d.batch);
  CHECK(r.sampler == d.sampler);
  CHECK(r.selection == d.selection);
  CHECK(r.val_fraction == d.val_fraction);
  CHECK(r.grad_clip == d.grad_clip);
  CHECK(r.threads_per_cell == d.threads_per_cell);
  CHECK(r.device == d.device);
}

TEST_CASE("check_params fills defaults, casts by declaration, and reports every bad value") {
  const std::vector<ParamDecl> decls = {
      ParamDecl::real("w", 1).range(0, 2), ParamDecl::integer("n", 3).range(1, 9),
      ParamDecl::string("s", "x").one_of({"x", "y"}), ParamDecl::boolean("b", true)};
  std::vector<Problem> problems;
  const json r = check_params(decls, {{"w", 2}, {"n", 4.0}}, "thing.params", "thing", problems);
  CHECK(problems.empty());
  CHECK(r == json({{"w", 2.0}, {"n", 4}, {"s", "x"}, {"b", true}}));
  CHECK(r.at("w").is_number_float());
  CHECK(r.at("n").is_number_integer());

  const json bad = check_params(decls, {{"w", -1}, {"n", 2.5}, {"s", "z"}, {"b", "yes"}, {"quux", 1}},
                                "thing.params", "thing `t`", problems);
  CHECK(problems.size() == 5);
  CHECK_PROBLEM(problems, "thing.params.w", "-1 is below the minimum 0");
  CHECK_PROBLEM(problems, "thing.params.n", "not a whole number");
  CHECK_PROBLEM(problems, "thing.params.s", "`z` is not one of `x`, `y`");
  CHECK_PROBLEM(problems, "thing.params.b", "expected true or false");
  CHECK_PROBLEM(problems, "thing.params.quux",
                "`quux` is not a parameter of thing `t` (parameters: `w`, `n`, `s`, `b`)");
  CHECK(bad.at("w") == 1.0);  // invalid values fall back to the default

  problems.clear();
  check_params(decls, json::array(), "thing.params", "thing", problems);
  CHECK_PROBLEM(problems, "thing.params", "expected an object of parameters, got a list");

  CHECK(cast_params(decls, {{"w", 1}, {"q", 1}, {"n", 5.0}}) == json({{"w", 1.0}, {"n", 5}}));
}

TEST_CASE("spec_plugin_dirs keeps the existing folders of plugin_paths, resolved against the spec folder") {
  const fs::path dir = temp_dir("plugin-dirs");
  fs::create_directories(dir / "p1");
  const SpecSource s =
      spec_from_json({{"plugin_paths", {"p1", "missing", 3, (dir / "p1").string()}}}, dir, {}, env_of({}));
  CHECK(spec_plugin_dirs(s) == std::vector<fs::path>{dir / "p1", dir / "p1"});
}
