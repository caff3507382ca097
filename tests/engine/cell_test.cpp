// run_cell on in-memory tensors: a separable synthetic task (one fixed random pattern per class, a constant
// shift per source, Gaussian noise), the build's real plugins (linear, ststnet, none) and the test-only
// regularizer `test_nan`. Checks determinism, that test labels and test inputs cannot reach training or
// selection, evaluation independent of batching, each selection rule, failures, schedules and clipping.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "merx/engine/cell.h"
#include "merx/engine/sampler.h"
#include "merx/plugins/registry.h"

#include "common/torch_doctest.h"  // after the torch headers

using namespace merx;
using namespace merx::engine;

namespace {

const PluginRegistry& registry() {
  static const PluginRegistry r = [] {
    DiscoveryOptions o;
    o.default_dirs = false;
    o.environment = false;
    o.extra_dirs = {std::string(MERX_BINARY_DIR) + "/plugins", std::string(MERX_TEST_PLUGIN_DIR) + "/engine"};
    return PluginRegistry::discover(o);
  }();
  return r;
}

const std::vector<std::string> kClasses = {"negative", "positive", "surprise"};

// The parts of a synthetic cell, kept so tests can rebuild the test split in other ways.
struct Synthetic {
  CellData data;
  torch::Tensor test_x;
  std::vector<int64_t> test_y;
  std::vector<std::string> test_keys;
};

// Sources named in `sources` (3 subjects x 3 classes x 2 clips each), test target of 4 clips per class.
// Sample = pattern[class] + shift(source) + 0.8 noise, [channels, 28, 28].
Synthetic make_data(const std::vector<std::string>& sources = {"alpha", "beta", "gamma"},
                    int64_t channels = 3) {
  torch::manual_seed(20240601);
  const torch::Tensor patterns = torch::randn({3, channels, 28, 28});
  Synthetic s;
  s.data.classes = kClasses;
  s.data.source_domains = sources;
  std::sort(s.data.source_domains.begin(), s.data.source_domains.end());
  std::vector<torch::Tensor> xs;
  for (size_t d = 0; d < s.data.source_domains.size(); ++d)
    for (int subj = 0; subj < 3; ++subj)
      for (int64_t c = 0; c < 3; ++c)
        for (int k = 0; k < 2; ++k) {
          const std::string src = s.data.source_domains[d];
          xs.push_back(patterns[c] + 0.3 * static_cast<double>(d) + 0.8 * torch::randn({channels, 28, 28}));
          s.data.train.y.push_back(c);
          s.data.train.domain.push_back(static_cast<int64_t>(d));
          s.data.train.subjects.push_back(src + "/s" + std::to_string(subj));
          s.data.train.keys.push_back(src + "/s" + std::to_string(subj) + "/c" + std::to_string(c) + "_" +
                                      std::to_string(k));
        }
  s.data.train.x = torch::stack(xs);
  std::vector<torch::Tensor> ts;
  for (int64_t c = 0; c < 3; ++c)
    for (int k = 0; k < 4; ++k) {
      ts.push_back(patterns[c] + 0.5 + 0.8 * torch::randn({channels, 28, 28}));
      s.test_y.push_back(c);
      s.test_keys.push_back("target/t" + std::to_string(k) + "/c" + std::to_string(c));
    }
  s.test_x = torch::stack(ts);
  s.data.test = TestSplit(s.test_x, s.test_y, s.test_keys);
  return s;
}

CellConfig config(const std::string& backbone = "linear", const std::string& selection = "last",
                  int64_t epochs = 4) {
  CellConfig c;
  c.training.optimizer = "adam";
  c.training.lr = 1e-2;
  c.training.epochs = epochs;
  c.training.batch = 4;
  c.training.sampler = "domain_balanced";
  c.training.selection = selection;
  c.cell_seed = 987654321;
  if (backbone == "linear")
    c.backbone = {"linear", {{"channels", 3}, {"size", 28}, {"features", 16}}};
  else
    c.backbone = {"ststnet", {{"channels", 3}, {"size", 28}, {"dropout", 0.5}}};
  c.regularizer = {"none", nlohmann::json::object()};
  c.augmenter = {"none", nlohmann::json::object()};
  c.device = torch::kCPU;
  return c;
}

std::vector<torch::Tensor> weights(Model& m) {
  std::vector<torch::Tensor> out;
  for (torch::nn::Module* mod :
       {static_cast<torch::nn::Module*>(m.backbone.get()), static_cast<torch::nn::Module*>(m.head.get())}) {
    for (const auto& p : mod->parameters()) out.push_back(p.detach().clone());
    for (const auto& b : mod->buffers()) out.push_back(b.detach().clone());
  }
  return out;
}

bool identical(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

std::optional<double> fold_metric(const CellResult& r, const std::string& name) {
  for (const auto& m : r.metrics)
    if (m.name == name && !m.class_name) return m.value;
  return std::nullopt;
}

std::vector<double> curve(const CellResult& r, const std::string& name) {
  std::vector<double> v;
  for (const auto& p : r.curves)
    if (p.name == name) v.push_back(p.value);
  return v;
}

// First epoch with the largest defined value.
int64_t first_argmax(const std::vector<double>& v) {
  int64_t best = -1;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isnan(v[i]) && (best < 0 || v[i] > v[static_cast<size_t>(best)]))
      best = static_cast<int64_t>(i);
  return best;
}

const nlohmann::json& artifact(const CellResult& r, const std::string& name) {
  for (const auto& a : r.artifacts)
    if (a.name == name) return a.data;
  static const nlohmann::json none;
  return none;
}

struct OneThread {
  OneThread() { torch::set_num_threads(1); }
};

}  // namespace

TEST_CASE("a cell learns the separable task and reports every fold metric") {
  OneThread t;
  Synthetic s = make_data();
  CellOutcome o = run_cell(config("linear", "last", 6), registry(), s.data);
  INFO(o.result.error);
  REQUIRE(o.result.status == CellStatus::Done);
  // Class patterns are 2352-dimensional random vectors (norm ~48) against noise of 0.8 per pixel: a linear
  // model separates them, so every test clip should be right.
  REQUIRE(fold_metric(o.result, "uf1"));
  CHECK(*fold_metric(o.result, "uf1") >= 0.9);
  CHECK(o.result.predictions.size() == 12);
  CHECK(o.result.chosen_epoch == 5);
  CHECK(o.result.selection == "last");
  CHECK(curve(o.result, "loss").size() == 6);
  CHECK(curve(o.result, "loss/erm").size() == 6);
  // domain_balanced: 3 sources of 18 clips, b = 4: ceil(18 / 4) = 5 steps per epoch.
  CHECK(artifact(o.result, "engine.training")["steps_per_epoch"] == 5);
  CHECK(artifact(o.result, "engine.training")["sources"] == nlohmann::json({"alpha", "beta", "gamma"}));
}

TEST_CASE("the same cell on CPU with the same seed and threads gives bit-identical results") {
  OneThread t;
  Synthetic s = make_data();
  CellOutcome a = run_cell(config("ststnet"), registry(), s.data);
  CellOutcome b = run_cell(config("ststnet"), registry(), s.data);
  REQUIRE(a.result.status == CellStatus::Done);
  REQUIRE(b.result.status == CellStatus::Done);
  CHECK(a.model.backbone->feature_dim() == 400);  // STSTNet at 28 x 28: 16 maps of 5 x 5
  CHECK((a.result.metrics == b.result.metrics));
  CHECK((a.result.predictions == b.result.predictions));
  CHECK((a.result.curves == b.result.curves));
  CHECK(identical(weights(a.model), weights(b.model)));
  // Another cell seed gives other weights.
  CellConfig other = config("ststnet");
  other.cell_seed = 1;
  CellOutcome c = run_cell(other, registry(), s.data);
  CHECK(!identical(weights(a.model), weights(c.model)));
}

TEST_CASE("permuted test labels leave the chosen epoch and every prediction unchanged") {
  OneThread t;
  Synthetic s = make_data();
  CellOutcome a = run_cell(config("ststnet", "source_val", 5), registry(), s.data);
  std::vector<int64_t> permuted = s.test_y;
  std::rotate(permuted.begin(), permuted.begin() + 4, permuted.end());  // every label changes
  s.data.test = TestSplit(s.test_x, permuted, s.test_keys);
  CellOutcome b = run_cell(config("ststnet", "source_val", 5), registry(), s.data);
  REQUIRE(a.result.status == CellStatus::Done);
  REQUIRE(b.result.status == CellStatus::Done);
  CHECK(a.result.chosen_epoch == b.result.chosen_epoch);
  CHECK((a.result.validation_split == b.result.validation_split));
  CHECK((a.result.curves == b.result.curves));
  REQUIRE(a.result.predictions.size() == b.result.predictions.size());
  size_t true_class_changed = 0;
  for (size_t i = 0; i < a.result.predictions.size(); ++i) {
    CHECK(a.result.predictions[i].sample_key == b.result.predictions[i].sample_key);
    CHECK(a.result.predictions[i].predicted_class == b.result.predictions[i].predicted_class);
    CHECK(a.result.predictions[i].probabilities == b.result.predictions[i].probabilities);
    true_class_changed += a.result.predictions[i].true_class != b.result.predictions[i].true_class;
  }
  CHECK(true_class_changed == 12);  // the permutation really reached evaluation
}

TEST_CASE("test inputs replaced by NaN leave the trained weights identical") {
  OneThread t;
  for (const char* selection : {"last", "source_val"}) {
    CAPTURE(selection);
    Synthetic s = make_data();
    CellOutcome a = run_cell(config("ststnet", selection, 3), registry(), s.data);
    s.data.test =
        TestSplit(torch::full_like(s.test_x, std::numeric_limits<float>::quiet_NaN()), s.test_y, s.test_keys);
    CellOutcome b = run_cell(config("ststnet", selection, 3), registry(), s.data);
    REQUIRE(a.result.status == CellStatus::Done);
    REQUIRE(b.result.status == CellStatus::Done);
    CHECK(a.result.chosen_epoch == b.result.chosen_epoch);
    CHECK(identical(weights(a.model), weights(b.model)));
    CHECK(std::isnan(b.result.predictions[0].probabilities["negative"].get<double>()));
  }
}

TEST_CASE("predictions do not depend on the evaluation batch size or the order of test samples") {
  OneThread t;
  Synthetic s = make_data();
  CellOutcome o = run_cell(config("ststnet"), registry(), s.data);
  REQUIRE(o.result.status == CellStatus::Done);
  std::map<std::string, Prediction> reference;
  for (const auto& p : o.result.predictions) reference[p.sample_key] = p;
  auto compare = [&](const Evaluation& ev) {
    REQUIRE(ev.predictions.size() == reference.size());
    for (const auto& p : ev.predictions) {
      const Prediction& r = reference.at(p.sample_key);
      CHECK(p.predicted_class == r.predicted_class);
      CHECK(p.true_class == r.true_class);
      for (const auto& c : kClasses)
        CHECK(std::abs(p.probabilities[c].get<double>() - r.probabilities[c].get<double>()) < 1e-6);
    }
  };
  for (int64_t batch : {1, 5, 1000}) compare(evaluate(o.model, s.data.test, kClasses, batch, torch::kCPU));
  std::vector<int64_t> order = {11, 3, 7, 0, 9, 1, 10, 2, 8, 4, 6, 5};
  std::vector<int64_t> y;
  std::vector<std::string> keys;
  for (int64_t i : order) {
    y.push_back(s.test_y[static_cast<size_t>(i)]);
    keys.push_back(s.test_keys[static_cast<size_t>(i)]);
  }
  const TestSplit shuffled(s.test_x.index_select(0, torch::tensor(order, torch::kLong)), y, keys);
  compare(evaluate(o.model, shuffled, kClasses, 5, torch::kCPU));
}

TEST_CASE("a non-finite loss fails the cell with the step and the loss components") {
  OneThread t;
  Synthetic s = make_data();
  s.data.train.x = s.data.train.x * 3e38;  // logits overflow to +-inf at the first step
  CellOutcome o = run_cell(config(), registry(), s.data);
  CHECK(o.result.status == CellStatus::Failed);
  CHECK(o.result.error.find("non-finite loss at step 0 (epoch 0, batch 0 of 5)") != std::string::npos);
  CHECK(o.result.error.find("erm=") != std::string::npos);
  CHECK(o.result.metrics.empty());
  CHECK(o.result.predictions.empty());

  // The same through a regularizer that turns NaN at step 7: epoch 1 (5 steps per epoch), batch 2.
  Synthetic clean = make_data();
  CellConfig c = config();
  c.regularizer = {"test_nan", {{"at_step", 7}}};
  CellOutcome n = run_cell(c, registry(), clean.data);
  CHECK(n.result.status == CellStatus::Failed);
  CHECK(n.result.error.find("non-finite loss at step 7 (epoch 1, batch 2 of 5): loss=nan") !=
        std::string::npos);
  CHECK(n.result.error.find("nan_term=nan") != std::string::npos);
  CHECK(curve(n.result, "loss").size() == 1);  // epoch 0 finished before the failure
}

TEST_CASE("a regularizer with its own seed leaves initialisation and batch order alone") {
  OneThread t;
  Synthetic s = make_data();
  CellOutcome erm = run_cell(config(), registry(), s.data);
  CellConfig c = config();
  c.regularizer = {"test_nan", {{"at_step", 1000000}}};  // ERM throughout
  CellOutcome same = run_cell(c, registry(), s.data);
  REQUIRE(erm.result.status == CellStatus::Done);
  REQUIRE(same.result.status == CellStatus::Done);
  CHECK(identical(weights(erm.model), weights(same.model)));
}

TEST_CASE("a backbone built for other inputs is refused naming both shapes") {
  OneThread t;
  Synthetic s = make_data({"alpha", "beta"}, 2);
  CellOutcome o = run_cell(config(), registry(), s.data);
  CHECK(o.result.status == CellStatus::Failed);
  CHECK(o.result.error == "backbone `linear` expects inputs [3, 28, 28], the recipe makes [2, 28, 28]");
}

TEST_CASE("source_val holds out whole subjects and reports the epoch of best validation UF1") {
  OneThread t;
  Synthetic s = make_data();
  CellOutcome o = run_cell(config("linear", "source_val", 5), registry(), s.data);
  REQUIRE(o.result.status == CellStatus::Done);
  const auto& split = o.result.validation_split;
  CHECK(split["method"] == "source_val");
  std::set<std::string> held_subjects, held_keys;
  for (const auto& k : split["samples"]) held_keys.insert(k.get<std::string>());
  for (size_t i = 0; i < s.data.train.size(); ++i)
    if (held_keys.count(s.data.train.keys[i])) held_subjects.insert(s.data.train.subjects[i]);
  for (size_t i = 0; i < s.data.train.size(); ++i)  // subject-disjoint
    CHECK(held_keys.count(s.data.train.keys[i]) == held_subjects.count(s.data.train.subjects[i]));
  // Each source: 3 subjects of 6 clips, t = round(0.2 x 18) = 4 -> one subject (6 clips, every class).
  CHECK(held_keys.size() == 18);
  CHECK(artifact(o.result, "engine.training")["validation_clips"] == 18);
  const auto uf1 = curve(o.result, "source_val_uf1");
  REQUIRE(uf1.size() == 5);
  CHECK(o.result.chosen_epoch == first_argmax(uf1));
}

TEST_CASE("oracle selection scores every epoch on the test split and is stored as oracle") {
  OneThread t;
  Synthetic s = make_data();
  CellOutcome o = run_cell(config("linear", "oracle", 4), registry(), s.data);
  REQUIRE(o.result.status == CellStatus::Done);
  CHECK(o.result.selection == "oracle");
  const auto uf1 = curve(o.result, "oracle_test_uf1");
  REQUIRE(uf1.size() == 4);
  CHECK(o.result.chosen_epoch == first_argmax(uf1));
  CHECK(*fold_metric(o.result, "uf1") ==
        doctest::Approx(uf1[static_cast<size_t>(*o.result.chosen_epoch)]).epsilon(1e-12));
}

TEST_CASE("loo_source needs three sources, and stops the all-source run at the best mean held-out epoch") {
  OneThread t;
  Synthetic two = make_data({"alpha", "beta"});
  CellOutcome f = run_cell(config("linear", "loo_source", 3), registry(), two.data);
  CHECK(f.result.status == CellStatus::Failed);
  CHECK(f.result.error == "selection loo_source needs at least 3 source datasets; this fold trains on 2");

  Synthetic s = make_data();
  CellOutcome o = run_cell(config("linear", "loo_source", 4), registry(), s.data);
  REQUIRE(o.result.status == CellStatus::Done);
  const auto mean = curve(o.result, "loo_source_uf1");
  REQUIRE(mean.size() == 4);
  for (const char* src : {"alpha", "beta", "gamma"})
    CHECK(curve(o.result, std::string("loo_source_uf1/") + src).size() == 4);
  // The mean curve is the mean of the three held-out curves.
  for (size_t e = 0; e < 4; ++e)
    CHECK(mean[e] == doctest::Approx((curve(o.result, "loo_source_uf1/alpha")[e] +
                                      curve(o.result, "loo_source_uf1/beta")[e] +
                                      curve(o.result, "loo_source_uf1/gamma")[e]) /
                                     3));
  CHECK(o.result.chosen_epoch == first_argmax(mean));
  CHECK(artifact(o.result, "engine.training")["epochs_run"] == *o.result.chosen_epoch + 1);
  CHECK(o.result.validation_split["method"] == "loo_source");
}

TEST_CASE("schedule step with gamma 0 freezes the weights after the first epoch") {
  OneThread t;
  Synthetic s = make_data();
  CellConfig c = config("linear", "last", 1);
  c.training.optimizer = "sgd";
  c.training.lr = 0.05;
  c.training.momentum = 0.9;
  c.training.schedule = "step";
  c.training.step_size = 1;
  c.training.gamma = 0;  // lr = 0.05 in epoch 0, 0 afterwards
  CellOutcome one = run_cell(c, registry(), s.data);
  c.training.epochs = 3;
  CellOutcome three = run_cell(c, registry(), s.data);
  REQUIRE(one.result.status == CellStatus::Done);
  REQUIRE(three.result.status == CellStatus::Done);
  CHECK(identical(weights(one.model), weights(three.model)));
  // Without the schedule the later epochs move the weights.
  c.training.schedule = "none";
  CellOutcome moving = run_cell(c, registry(), s.data);
  CHECK(!identical(weights(one.model), weights(moving.model)));
  // adamw and cosine run too.
  c.training.optimizer = "adamw";
  c.training.weight_decay = 0.01;
  c.training.schedule = "cosine";
  CHECK(run_cell(c, registry(), s.data).result.status == CellStatus::Done);
}

TEST_CASE("gradient clipping bounds every update, and initialisation comes from the documented seed") {
  OneThread t;
  Synthetic s = make_data();
  CellConfig c = config("linear", "last", 2);
  c.training.optimizer = "sgd";
  c.training.lr = 1.0;
  c.training.momentum = 0.9;
  c.training.grad_clip = 1e-12;  // each step moves a weight by at most lr * 1e-12 / (1 - 0.9)
  CellOutcome o = run_cell(c, registry(), s.data);
  REQUIRE(o.result.status == CellStatus::Done);
  // The initial model, built as run_cell documents: backbone then head after seeding with "init".
  torch::manual_seed(derive_seed(c.cell_seed, "init"));
  Model init;
  init.backbone = registry().create<Backbone>("linear", c.backbone.params);
  init.head = torch::nn::Linear(16, 3);
  const auto w0 = weights(init), w1 = weights(o.model);
  REQUIRE(w0.size() == w1.size());
  double max_diff = 0;
  for (size_t i = 0; i < w0.size(); ++i)
    max_diff = std::max(max_diff, (w0[i] - w1[i]).abs().max().item<double>());
  CHECK(max_diff < 1e-9);  // 10 steps x 1e-11
  // Without clipping the same run moves them by far more.
  c.training.grad_clip = 0;
  CellOutcome free = run_cell(c, registry(), s.data);
  double moved = 0;
  const auto w2 = weights(free.model);
  for (size_t i = 0; i < w0.size(); ++i) moved = std::max(moved, (w0[i] - w2[i]).abs().max().item<double>());
  CHECK(moved > 1e-3);
}

TEST_CASE("a regularizer's diagnostics() are stored as curves <plugin>/<name> after every epoch") {
  OneThread t;
  Synthetic s = make_data();
  CellConfig c = config("linear", "last", 3);
  c.regularizer = {"brl",
                   {{"alpha", 1.0}, {"lambda_js", 1.0}, {"lambda_w", 1e-3}, {"beta", 0.1}, {"tau", 1.0},
                    {"domains", "true"}}};
  CellOutcome o = run_cell(c, registry(), s.data);
  INFO(o.result.error);
  REQUIRE(o.result.status == CellStatus::Done);
  const auto mean = curve(o.result, "brl/w_dist/mean");
  REQUIRE(mean.size() == 3);
  for (size_t e = 0; e < 3; ++e) {
    // brl's ||W_d - W||_F per source (sources named alpha, beta, gamma) and their mean.
    const double a = curve(o.result, "brl/w_dist/alpha").at(e), b = curve(o.result, "brl/w_dist/beta").at(e),
                 g = curve(o.result, "brl/w_dist/gamma").at(e);
    CHECK(a > 0);
    CHECK(mean[e] == doctest::Approx((a + b + g) / 3).epsilon(1e-12));
  }
  // ERM reports none.
  CellOutcome n = run_cell(config("linear", "last", 1), registry(), s.data);
  for (const auto& p : n.result.curves) CHECK(p.name.rfind("none/", 0) == std::string::npos);
}

// ---- training.steps (equal budgets) and the host side of augmenter API 3 ----

namespace {

// Every batch of every training run, as rows of the run's training set (CellConfig::on_batch).
struct BatchLog {
  std::vector<std::vector<size_t>> batches;
  void attach(CellConfig& c) {
    c.on_batch = [this](int64_t step, const std::vector<size_t>& b) {
      CHECK(step == static_cast<int64_t>(batches.size()));
      batches.push_back(b);
    };
  }
};

CellConfig steps_config(int64_t steps, const std::string& selection = "last") {
  CellConfig c = config("linear", selection);
  c.training.steps = steps;
  c.recipe = "flow_strain";
  return c;
}

nlohmann::json extend_params(int64_t count, double weight = 1.0, bool own_domain = true) {
  return {{"count", count},           {"label", 1}, {"weight", weight},
          {"own_domain", own_domain}, {"warn", ""}, {"record_au", false}};
}

}  // namespace

TEST_CASE("steps: ERM and an augmented cell train the same steps, and the real clips keep ERM's batch order") {
  OneThread t;
  Synthetic s = make_data();  // 54 training clips: rows 0..53; generated samples are rows 54..
  const size_t n_real = 54;
  BatchLog erm_log, aug_log, reg_log;
  CellConfig erm = steps_config(12);
  erm_log.attach(erm);
  CellConfig aug = steps_config(12);
  aug.augmenter = {"test_extend", extend_params(40)};
  aug_log.attach(aug);
  CellConfig reg = steps_config(12);
  reg.regularizer = {"test_nan", {{"at_step", 1000000}}};  // ERM with its own seed draw
  reg_log.attach(reg);
  const CellOutcome a = run_cell(erm, registry(), s.data);
  const CellOutcome b = run_cell(aug, registry(), s.data);
  const CellOutcome r = run_cell(reg, registry(), s.data);
  for (const CellOutcome* o : {&a, &b, &r}) {
    INFO(o->result.error);
    REQUIRE(o->result.status == CellStatus::Done);
    CHECK(artifact(o->result, "engine.training")["steps_run"] == 12);
    CHECK(artifact(o->result, "engine.training")["steps"] == 12);
    // One pass over the real clips: 3 sources of 18, b = 4 -> ceil(18 / 4) = 5 steps; 12 = 5 + 5 + 2.
    CHECK(artifact(o->result, "engine.training")["eval_every"] == 5);
    CHECK(curve(o->result, "step") == std::vector<double>{5, 10, 12});
    CHECK(curve(o->result, "loss").size() == 3);
    CHECK(o->result.chosen_epoch == 2);
  }
  REQUIRE(erm_log.batches.size() == 12);
  REQUIRE(aug_log.batches.size() == 12);
  CHECK(reg_log.batches == erm_log.batches);  // same training set: bit-identical batch sequence
  for (size_t i = 0; i < 12; ++i) {
    std::vector<size_t> real, generated;
    for (size_t row : aug_log.batches[i]) (row < n_real ? real : generated).push_back(row);
    CHECK(real == erm_log.batches[i]);
    // domain_balanced: the `synthetic` domain gets b = 4 per step like each source.
    CHECK(generated.size() == 4);
    for (size_t g : generated) CHECK((g >= n_real && g < n_real + 40));
  }
  // 12 steps x 4 = 48 draws from a pool of 40: every generated sample is drawn, 8 of them twice.
  std::map<size_t, int> drawn;
  for (const auto& batch : aug_log.batches)
    for (size_t row : batch)
      if (row >= n_real) ++drawn[row];
  CHECK(drawn.size() == 40);
  // Under epochs the same augmenter lengthens the epoch (the synthetic domain has 40 > 18 clips):
  // ceil(40 / 4) = 10 steps instead of 5.
  CellConfig by_epochs = config("linear", "last", 1);
  by_epochs.augmenter = {"test_extend", extend_params(40)};
  const CellOutcome e = run_cell(by_epochs, registry(), s.data);
  REQUIRE(e.result.status == CellStatus::Done);
  CHECK(artifact(e.result, "engine.training")["steps_run"] == 10);
}

TEST_CASE(
    "steps: generated samples in a source's domain come at that source's share, from their own stream") {
  OneThread t;
  Synthetic s = make_data();
  BatchLog erm_log, aug_log;
  CellConfig erm = steps_config(10);
  erm_log.attach(erm);
  CellConfig aug = steps_config(10);
  // 9 copies of rows 0..8, all in domain 0 (alpha, 18 real clips): 4 * 9 / 18 = 2 generated per step.
  aug.augmenter = {"test_extend", extend_params(9, 1.0, false)};
  aug_log.attach(aug);
  REQUIRE(run_cell(erm, registry(), s.data).result.status == CellStatus::Done);
  REQUIRE(run_cell(aug, registry(), s.data).result.status == CellStatus::Done);
  REQUIRE(aug_log.batches.size() == 10);
  for (size_t i = 0; i < 10; ++i) {
    std::vector<size_t> real;
    size_t generated = 0;
    for (size_t row : aug_log.batches[i]) row < 54 ? real.push_back(row) : void(++generated);
    CHECK(real == erm_log.batches[i]);
    CHECK(generated == 2);
  }
}

TEST_CASE("steps: source_val evaluates at the same step numbers for every method") {
  OneThread t;
  Synthetic s = make_data();
  CellConfig erm = steps_config(11, "source_val");
  erm.training.eval_every = 3;
  CellConfig aug = erm;
  aug.augmenter = {"test_extend", extend_params(30)};
  const CellOutcome a = run_cell(erm, registry(), s.data), b = run_cell(aug, registry(), s.data);
  REQUIRE(a.result.status == CellStatus::Done);
  REQUIRE(b.result.status == CellStatus::Done);
  // eval_every 3 over 11 steps: points after steps 3, 6, 9, 11.
  CHECK(curve(a.result, "step") == std::vector<double>{3, 6, 9, 11});
  CHECK(curve(b.result, "step") == std::vector<double>{3, 6, 9, 11});
  CHECK(curve(a.result, "source_val_uf1").size() == 4);
  CHECK(curve(b.result, "source_val_uf1").size() == 4);
  REQUIRE(a.result.chosen_epoch);
  const int64_t chosen = *a.result.chosen_epoch;
  CHECK(artifact(a.result, "engine.training")["chosen_step"] == std::min<int64_t>(11, (chosen + 1) * 3));
}

TEST_CASE("steps: the step schedule counts optimiser steps") {
  OneThread t;
  Synthetic s = make_data();
  // step_size 3, gamma 0: lr * 0^floor(step / 3) is lr for steps 0..2 and 0 from step 3 on, so 7 steps
  // leave the weights where 3 steps without a schedule leave them (Adam, no weight decay: lr 0 = no move).
  CellConfig scheduled = steps_config(7);
  scheduled.training.schedule = "step";
  scheduled.training.step_size = 3;
  scheduled.training.gamma = 0;
  CellOutcome a = run_cell(scheduled, registry(), s.data);
  CellOutcome b = run_cell(steps_config(3), registry(), s.data);
  CellOutcome c = run_cell(steps_config(4), registry(), s.data);
  REQUIRE(a.result.status == CellStatus::Done);
  REQUIRE(b.result.status == CellStatus::Done);
  REQUIRE(c.result.status == CellStatus::Done);
  CHECK(identical(weights(a.model), weights(b.model)));
  CHECK_FALSE(identical(weights(b.model), weights(c.model)));  // the 4th step does move them
}

TEST_CASE("API 3: the loss weight scales generated samples inside their domain's mean, and warnings are stored") {
  OneThread t;
  Synthetic s = make_data();
  // lr 0: the model never changes, so each step's loss is a fixed function of the weight. ERM (`none`) is
  // the mean over the 4 domains (3 sources + synthetic) of each domain's mean CE, and the synthetic domain's
  // mean is w * CE_syn: loss(w) = (L_real + w * L_syn) / 4, linear in w, and loss(0) = 3/4 of the loss of
  // the same real batches without the augmenter.
  auto losses = [&](std::optional<double> w) {
    CellConfig c = steps_config(6);
    c.training.lr = 0;
    c.training.eval_every = 1;
    if (w) c.augmenter = {"test_extend", extend_params(20, *w)};
    const CellOutcome o = run_cell(c, registry(), s.data);
    INFO(o.result.error);
    REQUIRE(o.result.status == CellStatus::Done);
    return curve(o.result, "loss");
  };
  const auto none = losses(std::nullopt), w0 = losses(0.0), w1 = losses(1.0), w05 = losses(0.5);
  REQUIRE(none.size() == 6);
  for (size_t i = 0; i < 6; ++i) {
    CHECK(w0[i] == doctest::Approx(none[i] * 3.0 / 4.0).epsilon(1e-5));
    CHECK(w05[i] == doctest::Approx((w0[i] + w1[i]) / 2.0).epsilon(1e-5));
    CHECK(w1[i] > w0[i]);
  }
  CellConfig c = steps_config(2);
  c.augmenter = {"test_extend",
                 {{"count", 4},
                  {"label", 1},
                  {"weight", 1.0},
                  {"own_domain", true},
                  {"warn", "class positive failed the gate"},
                  {"record_au", false}}};
  c.label = "cell abc (fold target)";
  const CellOutcome o = run_cell(c, registry(), s.data);
  REQUIRE(o.result.status == CellStatus::Done);
  CHECK(artifact(o.result, "engine.augmenter_warnings") ==
        nlohmann::json({"channels=u,v,strain", "class positive failed the gate"}));
  c.recipe = "apex_gray";  // the channel names follow the recipe
  CHECK(artifact(run_cell(c, registry(), s.data).result, "engine.augmenter_warnings")[0] == "channels=gray");
}

TEST_CASE(
    "flow_roi AU intensities are scaled by the 95th percentile of the fit rows, not the validation rows") {
  OneThread t;
  Synthetic s = make_data();  // 54 training clips
  CellConfig c = config("linear", "source_val", 1);
  // The split depends on keys, subjects, labels and the seed only: a run without AUs shows the held-out
  // clips.
  const CellOutcome probe = run_cell(c, registry(), s.data);
  REQUIRE(probe.result.status == CellStatus::Done);
  std::set<std::string> held;
  for (const auto& k : probe.result.validation_split.at("samples")) held.insert(k.get<std::string>());
  const size_t n_val = held.size(), n_fit = 54 - n_val;
  REQUIRE(n_val > 0);
  // Raw flow_roi magnitudes over 12 AU columns: a fit clip [1, 2, NaN...], a validation clip [100, 100,
  // NaN...].
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> au;
  for (const auto& key : s.data.train.keys) {
    std::vector<float> row(12, nan);
    row[0] = held.count(key) ? 100.0f : 1.0f;
    row[1] = held.count(key) ? 100.0f : 2.0f;
    au.insert(au.end(), row.begin(), row.end());
  }
  s.data.train.au = torch::tensor(au, torch::kFloat).reshape({54, 12});
  s.data.train.au_ids = {1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17};
  s.data.train.au_flow_roi_raw = true;
  c.augmenter = {"test_extend", extend_params(1)};
  c.augmenter.params["record_au"] = true;
  const CellOutcome o = run_cell(c, registry(), s.data);
  INFO(o.result.error);
  REQUIRE(o.result.status == CellStatus::Done);
  // By hand, over the fit rows only: n_fit ones and n_fit twos; the 95th percentile sits at position
  // 0.95 * (2 n_fit - 1) > n_fit - 1 of the sorted values, among the twos: q = 2, so 1 -> 2.5 and 2 -> 5.
  // (With the validation rows it would be 100: their 2 n_val values fill sorted positions 108 - 2 n_val ..
  // 107, and 0.95 * (2 * 54 - 1) = 101.65 lies among them whenever 2 n_val >= 7.)
  CHECK(artifact(o.result, "engine.training")["au_flow_roi_q95"] == 2.0);
  // The augmenter's artifacts() are stored as "test_extend.<key>".
  const nlohmann::json& keys = artifact(o.result, "test_extend.keys");
  const nlohmann::json& rows = artifact(o.result, "test_extend.au");
  REQUIRE(keys.size() == n_fit);
  REQUIRE(rows.size() == n_fit);
  for (size_t i = 0; i < n_fit; ++i) {
    CHECK(held.count(keys[i].get<std::string>()) == 0);
    CHECK(rows[i][0].get<double>() == 2.5);
    CHECK(rows[i][1].get<double>() == 5.0);
    for (size_t j = 2; j < 12; ++j) CHECK(rows[i][j].is_null());
  }

  // selection `last` fits on all 54 clips, the former validation clips included: by hand q = 100 (see
  // above), so 1 -> 0.05 and 100 -> 5.
  REQUIRE(2 * n_val >= 7);
  c.training.selection = "last";
  const CellOutcome all = run_cell(c, registry(), s.data);
  REQUIRE(all.result.status == CellStatus::Done);
  CHECK(artifact(all.result, "engine.training")["au_flow_roi_q95"] == 100.0);
  const nlohmann::json& all_rows = artifact(all.result, "test_extend.au");
  REQUIRE(all_rows.size() == 54);
  CHECK(all_rows[0][0].get<double>() == doctest::Approx(held.count(s.data.train.keys[0]) ? 5.0 : 0.05));
}
