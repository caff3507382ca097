// Saved models (issue 17): every done cell of `merx run` leaves its selected model as
// <db>-models/<sha256>.mxm; reloaded, it reproduces the cell's stored predictions bit for bit. The file's
// name is checked against coreutils' sha256sum (independent of merx's hashing).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "../cli/run.h"
#include "corpus_fixture.h"
#include "merx/engine/inputs.h"
#include "merx/engine/saved_model.h"
#include "merx/errors.h"
#include "merx/hash.h"
#include "merx/store/store.h"

using namespace merx::test::engine;
using merx::test::run_merx;
using merx::test::run_shell;

namespace {

merx::PluginRegistry test_registry() {
  merx::DiscoveryOptions o;
  o.default_dirs = false;
  o.environment = false;
  o.extra_dirs = {std::string(MERX_BINARY_DIR) + "/plugins"};
  return merx::PluginRegistry::discover(o);
}

}  // namespace

TEST_CASE("saved models: one content-addressed file per done cell, reloaded it predicts the stored values") {
  const Scratch scratch("saved");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path db = dir / "results.sqlite";
  const fs::path file = write_spec(dir, "spec.json", lodo_spec(dir, db.string(), "saved_models"));
  const auto r = run_merx("run " + q(file) + " --cache " + q(dir / "cache") + " --prep-jobs 2");
  INFO(r.err);
  REQUIRE(r.code == 0);

  const merx::Plan plan = plan_of(file);
  REQUIRE(plan.cells.size() == 3);
  const merx::PluginRegistry registry = test_registry();
  merx::engine::InputOptions io;
  io.cache_dir = dir / "cache";
  const auto inputs = merx::engine::RunInputs::build(plan, {}, io);
  const merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
  for (const auto& cell : plan.cells) {
    CAPTURE(cell.fold);
    const auto res = store.read_cell(cell.identity);
    REQUIRE(res);
    REQUIRE(res->model_sha256.size() == 64);
    const fs::path model = db.string() + "-models/" + res->model_sha256 + ".mxm";
    REQUIRE(fs::is_regular_file(model));
    REQUIRE(res->model_bytes);
    CHECK(static_cast<uintmax_t>(*res->model_bytes) == fs::file_size(model));
    const auto sum = run_shell("sha256sum " + q(model));
    REQUIRE(sum.code == 0);
    CHECK(sum.out.substr(0, 64) == res->model_sha256);

    merx::engine::LoadedModel loaded = merx::engine::load_model(model, registry);
    CHECK(loaded.manifest.cell_identity == cell.identity);
    CHECK(loaded.manifest.classes == std::vector<std::string>{"negative", "positive", "surprise"});
    CHECK(loaded.manifest.recipe == "flow_strain");
    CHECK(loaded.manifest.chosen_epoch == 1);
    const merx::engine::CellData data = inputs.cell_data(plan, cell);
    const auto ev = merx::engine::evaluate(loaded.model, data.test, data.classes, 256, torch::kCPU);
    REQUIRE(ev.predictions.size() == res->predictions.size());
    for (size_t i = 0; i < ev.predictions.size(); ++i) {
      CAPTURE(ev.predictions[i].sample_key);
      CHECK(ev.predictions[i] == res->predictions[i]);  // class and every probability, exactly
    }
    // A second reload of the same file: the same bytes out again (saving is deterministic).
    merx::engine::LoadedModel again = merx::engine::load_model(model, registry);
    const std::string bytes = merx::engine::model_bytes(again.model, again.manifest);
    CHECK(merx::sha256_hex(bytes) == merx::sha256_hex(merx::engine::model_bytes(loaded.model, loaded.manifest)));
  }

  // Bad files: a truncated copy and a non-archive are user errors naming the file.
  const auto first = store.read_cell(plan.cells[0].identity);
  const fs::path good = db.string() + "-models/" + first->model_sha256 + ".mxm";
  const fs::path cut = dir / "cut.mxm";
  {
    std::ifstream in(good, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary) << all.substr(0, all.size() / 2);
    std::ofstream(dir / "text.mxm") << "not a model\n";
  }
  for (const fs::path& bad : {cut, dir / "text.mxm", dir / "missing.mxm"}) {
    CAPTURE(bad);
    std::string msg;
    try {
      merx::engine::load_model(bad, registry);
    } catch (const merx::UserError& e) {
      msg = e.what();
    }
    CHECK(msg.find(bad.string()) != std::string::npos);
  }
}

TEST_CASE("saved models: save_models false stores no file and no reference") {
  const Scratch scratch("nosave");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path db = dir / "results.sqlite";
  nlohmann::json s = lodo_spec(dir, db.string(), "saved_models");
  s["save_models"] = false;
  s["protocol"] = {{"name", "lodo"}, {"params", {{"targets", {"beta"}}}}};
  const fs::path file = write_spec(dir, "spec.json", s);
  const auto r = run_merx("run " + q(file) + " --cache " + q(dir / "cache") + " --prep-jobs 2");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
  const merx::Plan plan = plan_of(file);
  REQUIRE(plan.cells.size() == 1);
  const auto res = store.read_cell(plan.cells[0].identity);
  REQUIRE(res);
  CHECK(res->status == merx::CellStatus::Done);
  CHECK(res->model_sha256.empty());
  CHECK(!res->model_bytes);
  CHECK(!fs::exists(db.string() + "-models"));

  s["save_models"] = "yes";
  const auto v = run_merx("validate " + q(write_spec(dir, "bad.json", s)));
  CHECK(v.code == 2);
  CHECK((v.out + v.err).find("save_models") != std::string::npos);
}
