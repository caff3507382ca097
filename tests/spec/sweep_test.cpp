// Sweep expansion (variants x grid x random draws x seeds x folds), random draws, folds of each protocol.
#include <cmath>
#include <map>
#include <set>

#include "helpers.h"

using namespace merx;
using namespace merx::test;

TEST_CASE("cells = variants x grid points x random draws x seeds x folds, ordered point, seed, fold") {
  const fs::path dir = toy_datasets("counts");
  json spec = base_spec();
  spec["seeds"] = 2;
  spec["regularizer"] = {{"name", "toyreg"}};
  spec["sweep"] = json::parse(R"({
    "grid": {"training.lr": [0.1, 0.01, 0.001], "backbone.params.features": [16, 32]},
    "variants": [{"name": "p", "training": {"epochs": 2}}, {"name": "q", "training": {"epochs": 4}}],
    "random": {"count": 3, "seed": 1}
  })");
  const Plan p = plan_of(spec, dir);
  CHECK(p.points.size() == 2 * 6 * 3);
  CHECK(p.folds.size() == 3);
  CHECK(p.groups.size() == 36 * 2);
  CHECK(p.cells.size() == 36 * 2 * 3);
  CHECK(p.summary.cells == 216);
  REQUIRE(p.summary.cells_per_fold.size() == 3);
  CHECK(p.summary.cells_per_fold[0] == std::make_pair(std::string("a"), size_t{72}));
  CHECK(p.summary.cells_per_point == std::vector<size_t>(36, 6));

  // Variants outermost, then grid points (keys in byte order, the last one fastest), then draws.
  CHECK(p.points[0].variant == "p");
  CHECK(p.points[18].variant == "q");
  CHECK(p.points[0].assignments == json({{"backbone.params.features", 16}, {"training.lr", 0.1}}));
  CHECK(p.points[3].assignments == json({{"backbone.params.features", 16}, {"training.lr", 0.01}}));
  CHECK(p.points[9].assignments == json({{"backbone.params.features", 32}, {"training.lr", 0.1}}));
  CHECK(p.points[1].assignments == p.points[0].assignments);
  CHECK(p.points[1].draws != p.points[0].draws);

  size_t i = 0;
  for (const auto& pt : p.points)
    for (int64_t seed : p.seeds)
      for (const auto& f : p.folds) {
        const Cell& c = p.cells[i++];
        CHECK(c.point == pt.index);
        CHECK(c.seed == seed);
        CHECK(c.fold == f.id);
      }
}

TEST_CASE("random draws stay within the declared distributions and repeat for the same random.seed") {
  const fs::path dir = toy_datasets("random");
  json spec = base_spec();
  spec["regularizer"] = {{"name", "toyreg"}, {"params", {{"mode", "c"}}}};
  spec["backbone"]["params"]["features"] = 32;
  spec["sweep"] = {{"random", {{"count", 400}, {"seed", 11}}}};
  const Plan p = plan_of(spec, dir);
  REQUIRE(p.points.size() == 400);
  double log_sum = 0;
  size_t zeros = 0;
  std::set<std::string> modes;
  std::set<int64_t> steps;
  for (const auto& pt : p.points) {
    const json& r = pt.regularizer.params;
    const double lambda = r.at("lambda").get<double>();
    CHECK(lambda >= 0.01);
    CHECK(lambda <= 10.0);
    log_sum += std::log10(lambda);
    const double beta = r.at("beta").get<double>();
    if (beta == 0)
      ++zeros;
    else
      CHECK((beta >= 0.001 && beta <= 1.0));
    const int64_t s = r.at("steps").get<int64_t>();
    CHECK((s >= 1 && s <= 20));
    steps.insert(s);
    modes.insert(r.at("mode").get<std::string>());
    CHECK(r.at("flag") == false);                               // not searchable: default
    CHECK(pt.regularizer.explicit_params.contains("lambda"));   // a draw counts as explicitly set
    CHECK_FALSE(pt.draws.contains("regularizer.params.mode"));  // set in the spec: never drawn
    CHECK_FALSE(pt.draws.contains("backbone.params.features"));
  }
  CHECK(modes == std::set<std::string>{"c"});
  CHECK(steps.size() == 20);                        // every value of U{1..20} turns up in 400 draws
  CHECK(std::fabs(log_sum / 400 - (-0.5)) < 0.15);  // mean of U(-2, 1)
  CHECK(zeros > 140);                               // zero_prob 0.5
  CHECK(zeros < 260);

  const Plan again = plan_of(spec, dir);
  for (size_t i = 0; i < p.points.size(); ++i) CHECK(again.points[i].draws == p.points[i].draws);

  spec["sweep"]["random"]["seed"] = 12;
  const Plan other = plan_of(spec, dir);
  CHECK(other.points[0].draws != p.points[0].draws);
}

TEST_CASE("random draws are the same for every variant with the same plugin (paired designs)") {
  const fs::path dir = toy_datasets("random-paired");
  json spec = base_spec();
  spec["regularizer"] = {{"name", "toyreg"}};
  spec["backbone"]["params"]["features"] = 32;
  spec["sweep"] = json::parse(
      R"({"variants": [{"name": "x", "training": {"lr": 0.1}}, {"name": "y", "training": {"lr": 0.2}}],
                                  "random": {"count": 2}})");
  const Plan p = plan_of(spec, dir);
  REQUIRE(p.points.size() == 4);
  CHECK(p.points[0].draws == p.points[2].draws);
  CHECK(p.points[1].draws == p.points[3].draws);
  CHECK(p.points[0].draws != p.points[1].draws);
}

TEST_CASE("sweep.random.training draws lr and weight decay for every variant, ERM included, paired") {
  const fs::path dir = toy_datasets("random-training");
  json spec = base_spec();
  spec["backbone"]["params"]["features"] = 32;
  spec["sweep"] = json::parse(R"({"variants": [{"name": "erm"}, {"name": "reg", "regularizer": {"name": "toyreg"}},
                                               {"name": "fixed", "regularizer": {"name": "toyreg"}, "training": {"lr": 0.1}}],
                                  "random": {"count": 300, "seed": 3, "training": ["lr", "weight_decay"]}})");
  const Plan p = plan_of(spec, dir);
  REQUIRE(p.points.size() == 900);
  // ERM has no parameter of its own to draw: without training draws its 300 draws would collapse to one point.
  std::set<double> erm_lrs;
  double log_sum = 0;
  size_t wd_zero = 0;
  for (size_t r = 0; r < 300; ++r) {
    const SweepPoint& erm = p.points[r];
    const SweepPoint& reg = p.points[300 + r];
    const SweepPoint& fixed = p.points[600 + r];
    const double lr = erm.draws.at("training.lr").get<double>();
    CHECK(lr >= 1e-4);               // 10^U(-4, -2.5), settings.cpp
    CHECK(lr <= std::pow(10, -2.5));
    log_sum += std::log10(lr);
    erm_lrs.insert(lr);
    CHECK(reg.draws.at("training.lr") == erm.draws.at("training.lr"));  // the same draw r for every variant
    CHECK(reg.draws.at("training.weight_decay") == erm.draws.at("training.weight_decay"));
    CHECK(reg.draws.contains("regularizer.params.lambda"));
    CHECK_FALSE(fixed.draws.contains("training.lr"));  // set by the variant: never drawn
    const double wd = erm.draws.at("training.weight_decay").get<double>();
    if (wd == 0)
      ++wd_zero;
    else
      CHECK((wd >= 1e-6 && wd <= 1e-2));
  }
  CHECK(erm_lrs.size() == 300);
  CHECK(std::fabs(log_sum / 300 - (-3.25)) < 0.1);  // mean of U(-4, -2.5); sd of the mean 0.025
  CHECK(wd_zero > 110);                               // zero probability 0.5: 150 +- 8.7
  CHECK(wd_zero < 190);
}

TEST_CASE("sweep.random.training names only training settings with a search distribution") {
  const fs::path dir = toy_datasets("random-training-bad");
  json spec = base_spec();
  spec["backbone"]["params"]["features"] = 32;
  spec["sweep"] = json::parse(R"({"random": {"count": 2, "training": ["lr", "epochs", "lr", 3]}})");
  const auto probs = problems_of(spec, dir);
  std::map<std::string, std::string> by_path;
  for (const auto& pr : probs) by_path[pr.path] = pr.message;
  CHECK(by_path.count("sweep.random.training[1]") == 1);
  CHECK(by_path["sweep.random.training[1]"].find("lr, weight_decay") != std::string::npos);
  CHECK(by_path["sweep.random.training[2]"].find("twice") != std::string::npos);
  CHECK(by_path.count("sweep.random.training[3]") == 1);
  CHECK(by_path.count("sweep.random.training[0]") == 0);
}

TEST_CASE("variants are merge patches over the base, and null removes a key") {
  const fs::path dir = toy_datasets("patch");
  json spec = base_spec();
  spec["regularizer"] = {{"name", "toyreg"}, {"params", {{"lambda", 2.0}, {"steps", 3}}}};
  spec["sweep"] = json::parse(R"({"variants": [
      {"name": "keep"},
      {"name": "change", "regularizer": {"params": {"lambda": 0.5}}},
      {"name": "erm", "regularizer": {"name": "none", "params": null}}]})");
  const Plan p = plan_of(spec, dir);
  REQUIRE(p.points.size() == 3);
  CHECK(p.points[0].regularizer.explicit_params == json({{"lambda", 2.0}, {"steps", 3}}));
  CHECK(p.points[1].regularizer.explicit_params == json({{"lambda", 0.5}, {"steps", 3}}));
  CHECK(p.points[2].regularizer.name == "none");
  CHECK(p.points[2].regularizer.params == json::object());
  CHECK(p.points[1].regularizer.params.at("mode") == "a");  // defaults filled in
  CHECK(p.points[1].regularizer.params.at("lambda").is_number_float());
}

TEST_CASE("folds of each protocol") {
  const fs::path dir = toy_datasets("folds");
  json spec = base_spec();

  const Plan lodo = plan_of(spec, dir, {"protocol.params={\"targets\":[\"c\",\"a\"]}"});
  REQUIRE(lodo.folds.size() == 2);
  CHECK(lodo.folds[0].id == "c");
  CHECK(lodo.folds[0].train == std::vector<std::string>{"a", "b"});
  CHECK(lodo.folds[0].test == std::vector<std::string>{"c"});

  spec["protocol"] = json::parse(
      R"({"name": "hde", "params": {"pairs": [{"sources": ["c", "a"], "target": "b"}, {"sources": ["b"], "target": "a"}]}})");
  const Plan hde = plan_of(spec, dir);
  REQUIRE(hde.folds.size() == 2);
  CHECK(hde.folds[0].id == "a+c->b");
  CHECK(hde.folds[0].train == std::vector<std::string>{"a", "c"});
  CHECK(hde.folds[1].id == "b->a");

  spec["protocol"] = json::parse(R"({"name": "kfold_subject"})");
  const Plan kf = plan_of(spec, dir);
  REQUIRE(kf.folds.size() == 5);
  CHECK(kf.folds[4].id == "k4");
  CHECK(kf.folds[4].train.size() == 3);
  CHECK(kf.protocol.k == 5);

  spec["protocol"] = json::parse(R"({"name": "loso"})");
  PlanOptions opts;
  opts.subjects = [](const DatasetSpec& d) -> std::vector<std::string> {
    if (d.name == "b") return {"s2", "s1", "s2"};
    return {"s1"};
  };
  const Plan loso = plan_of(spec, dir, {}, opts);
  std::vector<std::string> ids;
  for (const auto& f : loso.folds) ids.push_back(f.id);
  CHECK(ids == std::vector<std::string>{"a/s1", "b/s1", "b/s2", "c/s1"});
  CHECK(loso.folds[1].test == std::vector<std::string>{"b"});
  CHECK(loso.folds[1].subject == "b/s1");

  opts.subjects = [](const DatasetSpec& d) -> std::vector<std::string> {
    if (d.name == "c") throw UserError("c: cannot read the index");
    return {"s1"};
  };
  try {
    plan_of(spec, dir, {}, opts);
    FAIL("expected a ValidationError");
  } catch (const ValidationError& e) {
    CHECK_PROBLEM(e.problems(), "datasets[2]", "cannot list the subjects: c: cannot read the index");
  }
}

TEST_CASE("resolved values: recipe shape, training defaults, paths against the spec folder") {
  const fs::path dir = toy_datasets("resolved");
  json spec = base_spec();
  spec["recipe"] = {{"name", "onset_apex"}, {"params", {{"size", 48}}}};
  spec["backbone"]["params"] = {{"channels", 2}, {"size", 48}};
  spec["output"] = "db/x.sqlite";
  const Plan p = plan_of(spec, dir);
  const SweepPoint& pt = p.points.at(0);
  CHECK(pt.recipe.shape == std::array<int64_t, 3>{2, 48, 48});
  CHECK(pt.recipe.params.at("normalisation") == "none");
  CHECK(pt.training.optimizer == "adam");
  CHECK(pt.training.epochs == 30);
  CHECK(pt.training_explicit == json::object());
  CHECK(pt.backbone.params.at("features") == 64);
  CHECK(pt.backbone.version == "1.0.0");
  CHECK(p.output == dir / "db" / "x.sqlite");
  CHECK(p.datasets.at(1).root == dir / "b");
  CHECK(p.datasets.at(1).annotations_sha256.size() == 64);
  CHECK(plan_of(base_spec(), dir).output == dir / "merx.sqlite");

  const json j = plan_to_json(p);
  CHECK(j.at("summary").at("cells") == 3);
  CHECK(j.at("cells").at(0).at("cell_seed").is_number_unsigned());
  CHECK(j.at("points").at(0).at("recipe").at("shape") == json({2, 48, 48}));
  CHECK(j.at("folds").size() == 3);
  CHECK(plan_summary_text(p).find("3 folds x 1 sweep point x 1 seed = 3 cells") != std::string::npos);
}

TEST_CASE("a random draw that repeats an earlier one is dropped with a warning") {
  const fs::path dir = toy_datasets("random-repeat");
  json spec = base_spec();  // only linear's `features` is searchable: choice of 4 values
  spec["sweep"] = {{"random", {{"count", 12}}}};
  const Plan p = plan_of(spec, dir);
  std::set<int64_t> features;
  for (const auto& pt : p.points) features.insert(pt.backbone.params.at("features").get<int64_t>());
  CHECK(features.size() == p.points.size());  // no two points alike
  CHECK(p.points.size() <= 4);
  CHECK(p.points.size() + p.warnings.size() == 12);
  for (const auto& w : p.warnings) CHECK(w.path == "sweep.random");
  for (size_t i = 0; i < p.points.size(); ++i) CHECK(p.points[i].index == i);
}

TEST_CASE("comparisons declare the Holm family: kept in spec order, bare words checked against the variants") {
  const fs::path dir = toy_datasets("comparisons");
  json spec = base_spec();
  spec["name"] = "study";
  spec["sweep"] = json::parse(R"({"variants": [{"name": "erm"}, {"name": "brl", "training": {"epochs": 2}},
      {"name": "coral", "training": {"epochs": 3}}]})");
  spec["comparisons"] = json::parse(R"([{"a": "brl", "b": "erm"}, {"a": "variant=coral", "b": "erm"}])");
  const Plan p = plan_of(spec, dir);
  using P = std::pair<std::string, std::string>;
  CHECK(p.comparisons == std::vector<P>{P{"brl", "erm"}, P{"variant=coral", "erm"}});
  CHECK(p.spec.at("comparisons").size() == 2);  // stored with the experiment as part of the spec

  spec["comparisons"] = json::parse(R"([{"a": "brll", "b": "erm"}, {"a": "erm", "b": "erm"},
      {"a": "brl", "b": "erm"}, {"a": "brl", "b": "erm"}, {"a": "brl"}, {"a": "brl", "b": "erm", "c": 1}, 3])");
  const auto probs = problems_of(spec, dir);
  CHECK_PROBLEM(probs, "comparisons[0].a", "names no variant");
  CHECK_PROBLEM(probs, "comparisons[0].a", "brl");  // did you mean
  CHECK_PROBLEM(probs, "comparisons[1]", "with itself");
  CHECK_PROBLEM(probs, "comparisons[3]", "listed twice (also comparisons[2])");
  const bool missing_b = has_problem(probs, "comparisons[4].b") || has_problem(probs, "comparisons[4]");
  CHECK(missing_b);
  CHECK(has_problem(probs, "comparisons[5].c"));
  CHECK(has_problem(probs, "comparisons[6]"));
  CHECK_FALSE(has_problem(probs, "comparisons[2]"));
  spec["comparisons"] = "brl vs erm";
  CHECK_PROBLEM(problems_of(spec, dir), "comparisons", "list");
}
