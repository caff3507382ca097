// Cell identity: what is in it (and changes it), what is out of it (and does not), and its pinned form.
#include <algorithm>
#include <set>

#include "helpers.h"
#include "merx/hash.h"

using namespace merx;
using namespace merx::test;

namespace {

std::vector<std::string> identities(const Plan& p) {
  std::vector<std::string> ids;
  for (const auto& c : p.cells) ids.push_back(c.identity);
  return ids;
}

std::set<std::string> id_set(const Plan& p) {
  auto v = identities(p);
  return {v.begin(), v.end()};
}

bool subset(const std::set<std::string>& a, const std::set<std::string>& b) {
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

}  // namespace

TEST_CASE("the identity of a tiny cell is the SHA-256 of this exact canonical JSON") {
  const fs::path dir = temp_dir("pinned");
  fs::create_directories(dir / "x");
  fs::create_directories(dir / "y");
  // smic_hs takes no annotations file, so the identity holds no file hash and can be written out here.
  const json spec = json::parse(R"({
    "name": "pinned", "seeds": [7],
    "datasets": [{"name": "y", "adapter": "smic_hs", "root": "y"}, {"name": "x", "adapter": "smic_hs", "root": "x"}],
    "protocol": {"name": "lodo"},
    "backbone": {"name": "linear", "params": {"features": 16}},
    "regularizer": {"name": "toyreg", "params": {"lambda": 1.0}},
    "recipe": {"params": {"flow": "farneback"}},
    "training": {"lr": 0.0005, "epochs": 3.0, "threads_per_cell": 2, "device": "cpu"}
  })");
  const Plan plan = plan_of(spec, dir);
  const Cell* cell = nullptr;
  for (const auto& c : plan.cells)
    if (c.fold == "x") cell = &c;
  REQUIRE(cell);
  const std::string expected_document =
      R"({"datasets":[{"adapter":"smic_hs","name":"x","options":{}},{"adapter":"smic_hs","name":"y","options":{}}],)"
      R"("fold":{"fold":"x","protocol":"lodo"},"labels":{"name":"native"},)"
      R"("plugins":{"augmenter":{"name":"none","params":{},"version":"1.0.0"},)"
      R"("backbone":{"name":"linear","params":{"features":16},"version":"1.0.0"},)"
      R"("regularizer":{"name":"toyreg","params":{"lambda":1},"version":"2.1.0"}},)"
      R"("recipe":{"name":"flow_strain","params":{"flow":"farneback"}},"seed":7,"training":{"epochs":3,"lr":0.0005},"v":1})";
  CHECK(cell_identity_document(plan, *cell) == expected_document);
  CHECK(cell->identity == sha256_hex(expected_document));
  // Computed outside merx (Python hashlib) from the same text:
  CHECK(cell->identity == "79d7d5cb05f4cc8ac60f99a62f4c8a135946861d701e4c67f29db03141ea651e");
  // Cell seed = first 8 bytes (big-endian) of SHA-256 of {"fold":"x","seed":7}, also computed with hashlib.
  CHECK(cell->cell_seed == 337271911285453601ULL);
}

TEST_CASE(
    "identities ignore key order, whitespace, name, description, output, roots, plugin_paths, threads, "
    "device") {
  const fs::path dir = toy_datasets("stable");
  json spec = base_spec();
  spec["seeds"] = 2;
  spec["training"] = {{"lr", 0.01}};
  const auto reference = identities(plan_of(spec, dir));
  REQUIRE(reference.size() == 6);

  SUBCASE("key order and whitespace of the file") {
    write_file(dir / "a.json", spec.dump());
    // The same document written by hand with other key order and whitespace.
    write_file(dir / "b.json", R"({
      "training" : { "lr" : 0.01 },   "seeds": 2,
      "backbone": {"params": {"size": 28, "channels": 3}, "name": "linear"},
      "protocol": {"name": "lodo"},
      "datasets": [
        {"annotations": "a/annotations.csv", "root": "a", "adapter": "manifest", "name": "a"},
        {"root": "b", "name": "b", "annotations": "b/annotations.csv", "adapter": "manifest"},
        {"adapter": "manifest", "name": "c", "root": "c", "annotations": "c/annotations.csv"}
      ],
      "name": "t"
    })");
    const PluginCatalog cat = fake_catalog();
    CHECK(identities(make_plan(load_spec(dir / "a.json", {}, env_of({})), cat)) == reference);
    CHECK(identities(make_plan(load_spec(dir / "b.json", {}, env_of({})), cat)) == reference);
  }
  SUBCASE("name, description, output, plugin_paths, threads_per_cell, device") {
    fs::create_directories(dir / "plugins");
    CHECK(identities(plan_of(spec, dir,
                             {"name=other", "description=\"words\"", "output=/elsewhere/x.sqlite",
                              "plugin_paths=[\"plugins\"]", "training.threads_per_cell=4",
                              "training.device=cpu"})) == reference);
  }
  SUBCASE("dataset roots and annotation paths (same content elsewhere)") {
    const fs::path moved = temp_dir("stable-moved");
    for (const char* n : {"a", "b", "c"}) {
      fs::create_directories(moved / n);
      fs::copy_file(dir / n / "annotations.csv", moved / n / "copy.csv");
    }
    json s2 = spec;
    for (size_t i = 0; i < 3; ++i) {
      const std::string n = s2["datasets"][i]["name"];
      s2["datasets"][i]["root"] = (moved / n).string();
      s2["datasets"][i]["annotations"] = (moved / n / "copy.csv").string();
    }
    CHECK(identities(plan_of(s2, dir)) == reference);
  }
  SUBCASE("the order of the dataset list") {
    json s2 = spec;
    std::swap(s2["datasets"][0], s2["datasets"][2]);
    CHECK(id_set(plan_of(s2, dir)) == std::set<std::string>(reference.begin(), reference.end()));
  }
  SUBCASE("1 and 1.0 for a float, 3 and 3.0 for an int") {
    json s1 = spec, s2 = spec;
    s1["training"] = {{"lr", 0.01}, {"grad_clip", 1}, {"epochs", 3}};
    s2["training"] = {{"lr", 0.01}, {"grad_clip", 1.0}, {"epochs", 3.0}};
    CHECK(identities(plan_of(s1, dir)) == identities(plan_of(s2, dir)));
  }
}

TEST_CASE("identities change with a parameter, a seed, the fold, annotation content and a plugin version") {
  const fs::path dir = toy_datasets("changes");
  json spec = base_spec();
  const Plan p = plan_of(spec, dir);
  const auto reference = id_set(p);
  REQUIRE(reference.size() == 3);  // three folds -> three different cells

  CHECK(id_set(plan_of(spec, dir, {"backbone.params.features=32"})) != reference);
  CHECK(id_set(plan_of(spec, dir, {"training.lr=0.01"})) != reference);
  CHECK(id_set(plan_of(spec, dir, {"recipe.params.flow=\"farneback\""})) != reference);
  CHECK(id_set(plan_of(spec, dir, {"seeds=[1]"})) != reference);
  CHECK(id_set(plan_of(spec, dir, {"datasets[0].options={\"fps\":100}"})) != reference);
  CHECK(id_set(plan_of(spec, dir, {"labels.name=megc3"})) != reference);

  // A parameter set explicitly to its default is still a different (explicit) setting.
  CHECK(id_set(plan_of(spec, dir, {"training.epochs=30"})) != reference);
  // training.steps: a budget in steps is another setting, and each step count its own.
  const auto steps100 = id_set(plan_of(spec, dir, {"training.steps=100"}));
  CHECK(steps100 != reference);
  CHECK(id_set(plan_of(spec, dir, {"training.steps=200"})) != steps100);
  CHECK(id_set(plan_of(spec, dir, {"training.steps=100", "training.eval_every=10"})) != steps100);

  spec["regularizer"] = {{"name", "toyreg"}};
  const auto with_toy = id_set(plan_of(spec, dir));
  CHECK(with_toy != reference);
  CHECK(id_set(plan_of(spec, dir, {}, {}, fake_catalog("2.2.0"))) != with_toy);

  write_file(dir / "b" / "annotations.csv", "clips of b, corrected\n");
  const auto edited = id_set(plan_of(base_spec(), dir));
  // Every fold uses b (as source or target), so every cell is renamed.
  for (const auto& id : edited) CHECK(reference.count(id) == 0);
}

TEST_CASE("hde cells only depend on the datasets of their own pair") {
  const fs::path dir = toy_datasets("hde");
  json spec = base_spec();
  spec["protocol"] =
      json::parse(R"({"name": "hde", "params": {"pairs": [{"sources": ["a"], "target": "b"}]}})");
  const Plan before = plan_of(spec, dir);
  write_file(dir / "c" / "annotations.csv", "clips of c, edited\n");
  const Plan after = plan_of(spec, dir);
  CHECK(identities(before) == identities(after));
  CHECK(before.folds.at(0).id == "a->b");
}

TEST_CASE("adding a seed, a grid value or a variant leaves existing identities unchanged") {
  const fs::path dir = toy_datasets("additive");
  json spec = base_spec();
  spec["seeds"] = 2;
  spec["sweep"] = json::parse(R"({"grid": {"backbone.params.features": [32]},
                                  "variants": [{"name": "x", "training": {"lr": 0.01}}]})");
  const Plan small = plan_of(spec, dir);
  const auto ids = id_set(small);
  REQUIRE(ids.size() == 6);

  json more_seeds = spec;
  more_seeds["seeds"] = 3;
  CHECK(subset(ids, id_set(plan_of(more_seeds, dir))));

  json more_grid = spec;
  more_grid["sweep"]["grid"]["backbone.params.features"] = {64, 32};
  CHECK(subset(ids, id_set(plan_of(more_grid, dir))));

  json more_variants = spec;
  more_variants["sweep"]["variants"].insert(more_variants["sweep"]["variants"].begin(),
                                            json{{"name", "w"}, {"training", {{"lr", 0.02}}}});
  CHECK(subset(ids, id_set(plan_of(more_variants, dir))));

  // Renaming a variant does not rename its cells (the variant name is not part of the identity).
  json renamed = spec;
  renamed["sweep"]["variants"][0]["name"] = "renamed";
  CHECK(id_set(plan_of(renamed, dir)) == ids);

  // A display label (sweep.variants[].label) is only a name: cells, groups and sweep-point hashes stay.
  json labelled = spec;
  labelled["sweep"]["variants"][0]["label"] = "Ours (lr 0.01)";
  const Plan with_label = plan_of(labelled, dir);
  CHECK(id_set(with_label) == ids);
  REQUIRE(with_label.groups.size() == small.groups.size());
  for (size_t g = 0; g < small.groups.size(); ++g)
    CHECK(with_label.groups[g].identity == small.groups[g].identity);
  REQUIRE(with_label.points.size() == small.points.size());
  for (size_t i = 0; i < small.points.size(); ++i) {
    CHECK(with_label.points[i].variant == "x");  // the name stays the variant
    CHECK(with_label.points[i].hash == small.points[i].hash);
  }
  labelled["sweep"]["variants"][0]["label"] = "another label";
  CHECK(id_set(plan_of(labelled, dir)) == ids);

  // Adding a random draw keeps the first draws' cells.
  json random = base_spec();
  random["regularizer"] = {{"name", "toyreg"}};
  random["backbone"]["params"]["features"] = 32;
  random["sweep"] = {{"random", {{"count", 2}, {"seed", 5}}}};
  const auto two = id_set(plan_of(random, dir));
  random["sweep"]["random"]["count"] = 3;
  CHECK(subset(two, id_set(plan_of(random, dir))));
}

TEST_CASE("the cell seed depends on fold and seed value only, and groups cover every fold of a point and seed") {
  const fs::path dir = toy_datasets("crn");
  json spec = base_spec();
  spec["seeds"] = {3, 4};
  spec["sweep"] = {{"grid", {{"backbone.params.features", {16, 32}}}}};
  const Plan p = plan_of(spec, dir);
  REQUIRE(p.cells.size() == 12);
  REQUIRE(p.groups.size() == 4);
  for (const auto& c : p.cells) {
    CHECK(c.cell_seed == hash64(canonical_json({{"fold", c.fold}, {"seed", c.seed}})));
    for (const auto& d : p.cells)
      if (d.fold == c.fold && d.seed == c.seed) CHECK(d.cell_seed == c.cell_seed);
  }
  std::set<std::string> groups;
  for (const auto& g : p.groups) {
    groups.insert(g.identity);
    size_t n = 0;
    for (const auto& c : p.cells) n += c.group == g.identity;
    CHECK(n == p.folds.size());
    CHECK(group_identity_document(p, g).find("\"folds\":[\"a\",\"b\",\"c\"]") != std::string::npos);
  }
  CHECK(groups.size() == 4);
  CHECK(id_set(p).size() == 12);
}

TEST_CASE("the membership file enters the identity by content, not by path") {
  const fs::path dir = toy_datasets("membership");
  write_file(dir / "m1.csv", "dataset,clip\na,a1\n");
  write_file(dir / "copy" / "m.csv", "dataset,clip\na,a1\n");
  json spec = base_spec();
  spec["labels"] = {{"name", "megc3"}, {"membership", "m1.csv"}};
  const auto a = identities(plan_of(spec, dir));
  spec["labels"]["membership"] = (dir / "copy" / "m.csv").string();
  CHECK(identities(plan_of(spec, dir)) == a);
  write_file(dir / "copy" / "m.csv", "dataset,clip\na,a2\n");
  CHECK(identities(plan_of(spec, dir)) != a);
  const Plan p = plan_of(spec, dir);
  CHECK(p.points[0].labels.membership_sha256 == sha256_hex("dataset,clip\na,a2\n"));
}

TEST_CASE("a counterfactual twin enters the identity of the cells that test on its original only") {
  const fs::path dir = toy_datasets("twin_identity");
  json spec = base_spec();
  const Plan before = plan_of(spec, dir);
  spec["datasets"].push_back({{"name", "b_cf"},
                              {"adapter", "manifest"},
                              {"root", "b"},
                              {"annotations", "b/annotations.csv"},
                              {"counterfactual_of", "b"}});
  const Plan after = plan_of(spec, dir);
  REQUIRE(before.cells.size() == 3);
  REQUIRE(after.cells.size() == 3);  // no fold for the twin
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(after.cells[i].fold);
    CHECK((before.cells[i].identity == after.cells[i].identity) == (after.cells[i].fold != "b"));
    CHECK(before.cells[i].cell_seed == after.cells[i].cell_seed);
  }
  const Cell& b = after.cells[1];
  REQUIRE(b.fold == "b");
  CHECK(cell_identity_document(after, b).find(R"("counterfactual_of":"b","name":"b_cf")") !=
        std::string::npos);
}
