// Which samples each fold trains and tests on (merx/spec/folds.h): exact class counts on experiments/toy
// (counted by hand from its three annotations.csv files, written out below) and on the MEGC2019 composite
// (published counts: 442 clips, negative 250 / positive 109 / surprise 83; CASME II 88/32/25, SAMM 92/26/15,
// SMIC-HS 70/51/43; 68 subjects).
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "datasets/fixtures/fixtures.h"
#include "helpers.h"
#include "merx/datasets/load.h"
#include "merx/spec/folds.h"

using namespace merx;
using namespace merx::test;
namespace fx = merx::fixtures;

namespace {

// experiments/toy (subject: clips with their megc3 class):
//   alpha  a01: positive, negative     a02: surprise, negative
//   beta   b01: negative               b02: positive, surprise
//   gamma  g01: surprise, positive     g02: negative
json toy_spec(const std::string& protocol) {
  json s = json::parse(R"({
    "name": "toy",
    "datasets": [
      {"name": "alpha", "adapter": "manifest", "root": "toy/alpha", "annotations": "toy/alpha/annotations.csv"},
      {"name": "beta", "adapter": "manifest", "root": "toy/beta", "annotations": "toy/beta/annotations.csv"},
      {"name": "gamma", "adapter": "manifest", "root": "toy/gamma", "annotations": "toy/gamma/annotations.csv"}
    ],
    "labels": {"name": "megc3"},
    "backbone": {"name": "linear", "params": {"channels": 3, "size": 28}},
    "output": "/tmp/merx-folds-test.sqlite"
  })");
  s["protocol"] = json::parse(protocol);
  return s;
}

PlanOptions with_subjects() {
  PlanOptions o;
  o.subjects = [](const DatasetSpec& d) {
    return dataset_subjects(DatasetSource{d.name, d.adapter, d.root, d.annotations, d.annotations_sha256, d.options});
  };
  return o;
}

Plan toy_plan(const std::string& protocol) {
  return plan_of(toy_spec(protocol), MERX_SOURCE_DIR "/experiments", {}, with_subjects());
}

SampleLoadOptions sheets_only() {
  SampleLoadOptions o;
  o.frames = false;  // the toy frame folders are empty
  return o;
}

using Counts = std::vector<int64_t>;  // negative, positive, surprise

// Every labelled sample is in exactly one of train/test, and the two sides share no subject.
void check_partition(const FoldSplit& s, size_t labelled) {
  INFO("fold " << s.fold);
  CHECK(s.train.size() + s.test.size() == labelled);
  std::set<const SampleRecord*> seen;
  for (const auto* side : {&s.train, &s.test})
    for (const auto& f : *side) CHECK(seen.insert(f.sample).second);
  for (const auto& t : s.test_subjects)
    CHECK(std::find(s.train_subjects.begin(), s.train_subjects.end(), t) == s.train_subjects.end());
}

}  // namespace

TEST_CASE("lodo folds of the toy experiment have the hand-counted train and test classes") {
  const Plan plan = toy_plan(R"({"name": "lodo"})");
  const LabelledSamples samples = load_samples(plan, plan.points[0], sheets_only());
  CHECK(samples.classes == std::vector<std::string>{"negative", "positive", "surprise"});
  CHECK(samples.unlabelled.empty());
  const auto splits = fold_samples(plan, samples);
  REQUIRE(splits.size() == 3);
  CHECK(splits[0].fold == "alpha");
  CHECK(splits[0].test_counts == Counts{2, 1, 1});
  CHECK(splits[0].train_counts == Counts{2, 2, 2});  // beta + gamma
  CHECK(splits[1].fold == "beta");
  CHECK(splits[1].test_counts == Counts{1, 1, 1});
  CHECK(splits[1].train_counts == Counts{3, 2, 2});  // alpha + gamma
  CHECK(splits[2].test_counts == Counts{1, 1, 1});
  CHECK(splits[2].train_counts == Counts{3, 2, 2});  // alpha + beta
  for (const auto& s : splits) check_partition(s, 10);
  // Class index = position in classes = the sample's mapped label; order = datasets, then sheet rows.
  for (const auto& f : splits[0].test) CHECK(samples.classes[static_cast<size_t>(f.class_index)] == *f.sample->label);
  CHECK(splits[0].test.front().sample->key == "alpha/a01/a01_c1");
  CHECK(splits[0].train.front().sample->key == "beta/b01/b01_c1");
  // the sheets-only load opened no frame folder
  CHECK(splits[0].test.front().sample->frames.empty());
}

TEST_CASE("hde folds train on the listed sources only") {
  const Plan plan = toy_plan(R"({"name": "hde", "params": {"pairs": [{"sources": ["alpha"], "target": "gamma"}]}})");
  const auto splits = fold_samples(plan, load_samples(plan, plan.points[0], sheets_only()));
  REQUIRE(splits.size() == 1);
  CHECK(splits[0].fold == "alpha->gamma");
  CHECK(splits[0].train_counts == Counts{2, 1, 1});  // alpha only, beta left out
  CHECK(splits[0].test_counts == Counts{1, 1, 1});
}

TEST_CASE("loso folds test one global subject each and train on every other clip") {
  const Plan plan = toy_plan(R"({"name": "loso"})");
  const LabelledSamples samples = load_samples(plan, plan.points[0], sheets_only());
  const auto splits = fold_samples(plan, samples);
  REQUIRE(splits.size() == 6);
  std::map<std::string, Counts> test;
  for (const auto& s : splits) {
    test[s.fold] = s.test_counts;
    check_partition(s, 10);
    CHECK(s.test_subjects == std::vector<std::string>{s.fold});
  }
  CHECK(test["alpha/a01"] == Counts{1, 1, 0});
  CHECK(test["alpha/a02"] == Counts{1, 0, 1});
  CHECK(test["beta/b01"] == Counts{1, 0, 0});
  CHECK(test["beta/b02"] == Counts{0, 1, 1});
  CHECK(test["gamma/g01"] == Counts{0, 1, 1});
  CHECK(test["gamma/g02"] == Counts{1, 0, 0});
  CHECK(splits[2].train_counts == Counts{3, 3, 3});  // beta/b01 held out of 4/3/3
}

TEST_CASE("kfold_subject deals subjects by size deterministically and the folds are subject-disjoint") {
  // Subject sizes: a01 2, a02 2, b02 2, g01 2, b01 1, g02 1 (largest first, ties by id).
  // k = 2: a01 -> 0, a02 -> 1, b02 -> 0 (2 vs 2: lowest index), g01 -> 1, b01 -> 0, g02 -> 1.
  const Plan plan = toy_plan(R"({"name": "kfold_subject", "params": {"k": 2}})");
  const LabelledSamples samples = load_samples(plan, plan.points[0], sheets_only());
  const auto a = kfold_subject_assignment(samples, 2);
  CHECK(a == std::map<std::string, int64_t>{{"alpha/a01", 0}, {"alpha/a02", 1}, {"beta/b01", 0},
                                            {"beta/b02", 0}, {"gamma/g01", 1}, {"gamma/g02", 1}});
  const auto splits = fold_samples(plan, samples);
  REQUIRE(splits.size() == 2);
  CHECK(splits[0].test_counts == Counts{2, 2, 1});  // a01 (pos, neg), b01 (neg), b02 (pos, sur)
  CHECK(splits[1].test_counts == Counts{2, 1, 2});  // a02 (sur, neg), g01 (sur, pos), g02 (neg)
  CHECK(splits[0].train_counts == splits[1].test_counts);
  for (const auto& s : splits) check_partition(s, 10);
  // k = 3: a01 -> 0, a02 -> 1, b02 -> 2, g01 -> 0 (2, 2, 2), b01 -> 1, g02 -> 2.
  const auto b = kfold_subject_assignment(samples, 3);
  CHECK(b.at("gamma/g01") == 0);
  CHECK(b.at("beta/b01") == 1);
  CHECK(b.at("gamma/g02") == 2);
  // More folds than subjects: the extra folds test on nothing.
  const Plan many = toy_plan(R"({"name": "kfold_subject", "params": {"k": 8}})");
  const auto m = fold_samples(many, load_samples(many, many.points[0], sheets_only()));
  CHECK(m[6].test.empty());
  CHECK(m[6].train.size() == 10);
  CHECK_THROWS_AS(kfold_subject_assignment(samples, 0), std::invalid_argument);
}

TEST_CASE("native labels keep every label as a class and a fold of another plan is refused") {
  json spec = toy_spec(R"({"name": "lodo"})");
  spec.erase("labels");
  const Plan plan = plan_of(spec, MERX_SOURCE_DIR "/experiments");
  const LabelledSamples samples = load_samples(plan, plan.points[0], sheets_only());
  CHECK(samples.classes == std::vector<std::string>{"negative", "positive", "surprise"});
  CHECK(samples.class_index("surprise") == 2);
  CHECK(samples.class_index("fear") == -1);
  Fold stranger;
  stranger.id = "delta";
  CHECK_THROWS_AS(fold_samples(plan, stranger, samples), std::invalid_argument);
}

TEST_CASE("MEGC2019 composite: loso and lodo folds add up to the published class counts") {
  const auto corpora = fx::megc2019_corpora(fx::fresh_dir("folds_megc2019"));
  json spec = {
      {"name", "megc"},
      {"datasets",
       {{{"name", "casme2"}, {"adapter", "casme2"}, {"root", corpora.casme2.root.string()},
         {"annotations", corpora.casme2.annotations.string()}},
        {{"name", "samm"}, {"adapter", "samm"}, {"root", corpora.samm.root.string()},
         {"annotations", corpora.samm.annotations.string()}},
        {{"name", "smic_hs"}, {"adapter", "smic_hs"}, {"root", corpora.smic_hs.root.string()}}}},
      {"labels", {{"name", "megc3"}, {"membership", fx::megc2019_list().string()}}},
      {"protocol", {{"name", "loso"}}},
      {"backbone", {{"name", "linear"}, {"params", {{"channels", 3}, {"size", 28}}}}},
      {"output", "/tmp/merx-folds-test.sqlite"}};
  const Plan loso = plan_of(spec, fx::fresh_dir("folds_megc2019_spec"), {}, with_subjects());
  const LabelledSamples samples = load_samples(loso, loso.points[0]);  // full load: frames listed
  CHECK(samples.classes == std::vector<std::string>{"negative", "positive", "surprise"});
  const auto splits = fold_samples(loso, samples);
  Counts pooled{0, 0, 0};
  size_t tested = 0;
  std::vector<std::string> empty;
  for (const auto& s : splits) {
    for (size_t c = 0; c < 3; ++c) {
      pooled[c] += s.test_counts[c];
      CHECK(s.test_counts[c] + s.train_counts[c] == Counts{250, 109, 83}[c]);
    }
    if (s.test.empty())
      empty.push_back(s.fold);
    else
      ++tested;
  }
  CHECK(pooled == Counts{250, 109, 83});
  CHECK(tested == 68);
  // SMIC-HS subject s7 has a clip on disk but none in the MEGC2019 list: a fold with nothing to test.
  CHECK(empty == std::vector<std::string>{"smic_hs/s7"});

  spec["protocol"] = {{"name", "lodo"}};
  const Plan lodo = plan_of(spec, fx::fresh_dir("folds_megc2019_spec"));
  SampleLoadOptions o;
  o.frames = false;  // sheets only gives the same clips here
  const auto l = fold_samples(lodo, load_samples(lodo, lodo.points[0], o));
  REQUIRE(l.size() == 3);
  CHECK(l[0].test_counts == Counts{88, 32, 25});
  CHECK(l[0].train_counts == Counts{92 + 70, 26 + 51, 15 + 43});
  CHECK(l[1].test_counts == Counts{92, 26, 15});
  CHECK(l[2].test_counts == Counts{70, 51, 43});
  CHECK(l[2].test_subjects.size() == 16);
}

TEST_CASE(
    "a counterfactual twin is no domain: folds skip it and pair its clips with the original's test clips") {
  // beta_cf reads beta's own folder: the same subjects and clip names, so every beta test clip finds its
  // twin.
  auto with_twin = [](const std::string& protocol, const std::string& twin_root) {
    json s = toy_spec(protocol);
    s["datasets"].push_back({{"name", "beta_cf"},
                             {"adapter", "manifest"},
                             {"root", "toy/" + twin_root},
                             {"annotations", "toy/" + twin_root + "/annotations.csv"},
                             {"counterfactual_of", "beta"}});
    return plan_of(s, MERX_SOURCE_DIR "/experiments", {}, with_subjects());
  };
  const Plan lodo = with_twin(R"({"name": "lodo"})", "beta");
  CHECK(lodo.domains() == std::vector<std::string>{"alpha", "beta", "gamma"});
  CHECK(lodo.protocol.targets == std::vector<std::string>{"alpha", "beta", "gamma"});
  REQUIRE(lodo.folds.size() == 3);
  for (const auto& f : lodo.folds) {
    CHECK(std::find(f.train.begin(), f.train.end(), "beta_cf") == f.train.end());
    CHECK(f.test.size() == 1);
  }
  REQUIRE(lodo.twin_of("beta"));
  CHECK(lodo.twin_of("beta")->name == "beta_cf");
  CHECK(lodo.twin_of("alpha") == nullptr);
  const LabelledSamples samples = load_samples(lodo, lodo.points[0], sheets_only());
  CHECK(samples.twins == std::map<std::string, std::string>{{"beta_cf", "beta"}});
  const auto splits = fold_samples(lodo, samples);
  REQUIRE(splits.size() == 3);
  CHECK(splits[0].train_counts == Counts{2, 2, 2});  // beta + gamma, as without the twin
  for (const auto& s : splits) check_partition(s, 10);
  CHECK(splits[0].counterfactual.empty());  // alpha has no twin
  REQUIRE(splits[1].counterfactual.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(splits[1].counterfactual[i].original == splits[1].test[i].sample);
    CHECK(splits[1].counterfactual[i].twin.sample->key ==
          "beta_cf/" + splits[1].test[i].sample->key.substr(5));
    CHECK(splits[1].counterfactual[i].twin.class_index == splits[1].test[i].class_index);
  }
  CHECK(splits[1].counterfactual_unmatched.empty());

  // kfold_subject and loso: the twin's subjects are dealt to no fold; its clips pair with the tested
  // subjects.
  const Plan kfold = with_twin(R"({"name": "kfold_subject", "params": {"k": 2}})", "beta");
  const LabelledSamples ks = load_samples(kfold, kfold.points[0], sheets_only());
  CHECK(kfold_subject_assignment(ks, 2).size() == 6);
  const auto kf = fold_samples(kfold, ks);
  for (const auto& s : kf) check_partition(s, 10);
  CHECK(kf[0].counterfactual.size() == 3);  // b01, b02 are in fold 0
  CHECK(kf[1].counterfactual.empty());
  const Plan loso = with_twin(R"({"name": "loso"})", "beta");
  CHECK(loso.folds.size() == 6);
  const auto lf = fold_samples(loso, load_samples(loso, loso.points[0], sheets_only()));
  CHECK(lf[2].fold == "beta/b01");
  CHECK(lf[2].counterfactual.size() == 1);
  CHECK(lf[2].train_counts == Counts{3, 3, 3});

  // A twin whose clips are gamma's: no beta test clip finds a partner, and gamma's subjects are not tested.
  const Plan wrong = with_twin(R"({"name": "lodo"})", "gamma");
  const auto ws = fold_samples(wrong, load_samples(wrong, wrong.points[0], sheets_only()));
  CHECK(ws[1].counterfactual.empty());
  CHECK(ws[1].counterfactual_unmatched ==
        std::vector<std::string>{"beta/b01/b01_c1", "beta/b02/b02_c1", "beta/b02/b02_c2"});
}
