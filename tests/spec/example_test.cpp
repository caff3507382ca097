// experiments/example.json plans on a fresh clone, with the build's real plugins.
#include "helpers.h"
#include "merx/plugins/registry.h"

using namespace merx;
using namespace merx::test;

TEST_CASE("experiments/example.json: 3 folds x 2 grid points x 2 variants x 2 seeds with the real plugins") {
  DiscoveryOptions opts;
  opts.default_dirs = false;
  opts.environment = false;
  opts.extra_dirs = {fs::path(MERX_BINARY_DIR) / "plugins"};
  const PluginRegistry registry = PluginRegistry::discover(opts);
  const SpecSource spec =
      load_spec(fs::path(MERX_SOURCE_DIR) / "experiments" / "example.json", {}, env_of({}));
  const Plan plan = make_plan(spec, registry);
  CHECK(plan.folds.size() == 3);
  CHECK(plan.points.size() == 4);
  CHECK(plan.seeds == std::vector<int64_t>{0, 1});
  CHECK(plan.cells.size() == 24);
  CHECK(plan.points[0].variant == "adam");
  CHECK(plan.points[0].backbone.params.at("features") == 32);
  CHECK(plan.points[3].variant == "sgd");
  CHECK(plan.points[3].training.optimizer == "sgd");
  CHECK(plan.datasets[0].root == fs::path(MERX_SOURCE_DIR) / "experiments" / "toy" / "alpha");
  CHECK(plan.warnings.empty());

  // The hand-made catalog of these tests declares linear exactly as the real plugin does.
  const Plan fake = make_plan(spec, fake_catalog());
  REQUIRE(fake.cells.size() == plan.cells.size());
  for (size_t i = 0; i < plan.cells.size(); ++i) CHECK(fake.cells[i].identity == plan.cells[i].identity);
}
