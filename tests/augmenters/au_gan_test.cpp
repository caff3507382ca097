// The au_gan augmenter as the built .so, loaded through the plugin host with its parameters resolved as a
// spec's would be: exact balancing per source (and pooled, in the synthetic domain), AU-less clips left out
// and counted, the in-process fit cache, and — through the engine's run_cell — that the GAN never sees a
// test-fold sample. Expected counts are worked out by hand in each test. Small GAN settings keep it fast.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "merx/augmenter.h"
#include "merx/engine/cell.h"
#include "merx/preprocessing/stages.h"
#include "merx/plugins/registry.h"
#include "merx/spec/params_check.h"

#include "common/plugin_fixture.h"
#include "common/torch_doctest.h"  // after the torch headers

namespace {

using merx::json;

using merx_test::registry;  // the build tree's plugins (tests/common/plugin_fixture.h)

// Fast GAN settings: a handful of steps on a narrow network. These tests pin the balancing counts and the
// domain ids, so they balance to the largest class (target max) with the quality gate opened (every candidate
// accepted); the gate itself is not exercised here.
const json kFast = {{"steps", 3},         {"n_critic", 1},           {"width", 4},
                    {"batch", 8},         {"z_dim", 8},              {"target", "max"},
                    {"gate_confidence", 0}, {"gate_min_acceptance", 0}, {"gate_min_diversity", 0}};

// kFast with some parameters changed.
json fast_with(const json& changes) {
  json j = kFast;
  j.update(changes);
  return j;
}

json resolve(const json& given) {
  const merx::PluginInfo* info = registry().find(merx::PluginKind::Augmenter, "au_gan");
  REQUIRE_MESSAGE(info != nullptr, "augmenter plugin au_gan not found");
  std::vector<merx::Problem> problems;
  const json r = merx::check_params(info->params, given, "augmenter.params", "augmenter `au_gan`", problems);
  REQUIRE(problems.empty());
  return r;
}

std::shared_ptr<merx::Augmenter> make(json given = kFast) {
  return registry().create<merx::Augmenter>("au_gan", resolve(given));
}

// counts[d][c] clips of source d and class c, each with AUs (class pattern + noise) unless listed in
// `no_au` (sample positions). x [N, 3, 8, 8].
merx::SampleSet samples(const std::vector<std::vector<int64_t>>& counts,
                        const std::vector<int64_t>& no_au = {}, uint64_t seed = 3) {
  torch::manual_seed(seed);
  merx::SampleSet s;
  std::vector<int64_t> y, d;
  for (size_t di = 0; di < counts.size(); ++di)
    for (size_t c = 0; c < counts[di].size(); ++c)
      for (int64_t i = 0; i < counts[di][c]; ++i) {
        y.push_back(static_cast<int64_t>(c));
        d.push_back(static_cast<int64_t>(di));
      }
  const int64_t n = static_cast<int64_t>(y.size());
  s.y = torch::tensor(y, torch::kLong);
  s.domain = torch::tensor(d, torch::kLong);
  s.x = torch::randn({n, 3, 8, 8}) + s.y.to(torch::kFloat).view({n, 1, 1, 1});
  s.au_ids = {1, 2, 4, 12};
  s.au = (torch::rand({n, 4}) + s.y.to(torch::kFloat).view({n, 1})).clamp(0, 5);
  for (int64_t i : no_au) s.au[i].fill_(std::numeric_limits<float>::quiet_NaN());
  return s;
}

merx::AugmenterSetup setup(size_t sources, uint64_t seed = 5) {
  merx::AugmenterSetup st;
  for (size_t i = 0; i < sources; ++i) st.source_domains.push_back("src" + std::to_string(i));
  st.class_names = {"negative", "positive", "surprise"};
  st.seed = seed;
  return st;
}

// (domain, class) -> count over real + generated samples.
std::map<std::pair<int64_t, int64_t>, int64_t> tally(const merx::SampleSet& a, const merx::SampleSet& b) {
  std::map<std::pair<int64_t, int64_t>, int64_t> t;
  for (const merx::SampleSet* s : {&a, &b})
    for (int64_t i = 0; i < s->y.numel(); ++i) ++t[{s->domain[i].item<int64_t>(), s->y[i].item<int64_t>()}];
  return t;
}

}  // namespace

TEST_CASE("au_gan balances the classes of every source exactly and keeps the source's domain id") {
  // Source 0: 6/2/1 -> generates 0/4/5; source 1: 2/5/3 -> 3/0/2 (26 clips, 14 generated).
  const merx::SampleSet train = samples({{6, 2, 1}, {2, 5, 3}});
  auto aug = make();
  REQUIRE(aug->mode() == merx::AugmenterMode::Extend);
  aug->fit(setup(2), train);
  const merx::SampleSet more = aug->extend(train);
  REQUIRE(more.x.defined());
  CHECK(more.x.sizes() == torch::IntArrayRef({14, 3, 8, 8}));
  CHECK(torch::isfinite(more.x).all().item<bool>());
  const auto t = tally(train, more);
  for (int64_t c = 0; c < 3; ++c) {
    CHECK(t.at({0, c}) == 6);
    CHECK(t.at({1, c}) == 5);
  }
  const json a = aug->artifacts();
  CHECK(a["generated"]["counts"]["src0"]["surprise"]["generated"] == 5);
  CHECK(a["generated"]["counts"]["src1"]["negative"]["generated"] == 3);
  CHECK(a["fit"]["clips_without_au"] == 0);
  for (const char* key : {"accuracy_generated", "au_rmse_generated", "diversity_generated"})
    CHECK(a["quality"].contains(key));
}

TEST_CASE("au_gan pooled balancing puts generated samples in the synthetic domain") {
  // Pooled over sources: classes 8/7/4 -> generates 0/1/4, all with domain id 2 (= number of sources).
  const merx::SampleSet train = samples({{6, 2, 1}, {2, 5, 3}});
  auto aug = make(fast_with({{"balance", "pooled"}}));
  aug->fit(setup(2), train);
  const merx::SampleSet more = aug->extend(train);
  REQUIRE(more.y.numel() == 5);
  CHECK((more.domain == 2).all().item<bool>());
  CHECK((more.y == 1).sum().item<int64_t>() == 1);
  CHECK((more.y == 2).sum().item<int64_t>() == 4);
}

TEST_CASE(
    "au_gan leaves clips without AUs out of the fit and counts them and still balances on class counts") {
  // Source 0: 4/2/2 with clips 0 and 5 AU-less; source 1: 3/3/1. Counts use every clip: 0/2/2 and 0/0/2.
  const merx::SampleSet train = samples({{4, 2, 2}, {3, 3, 1}}, {0, 5});
  auto aug = make();
  aug->fit(setup(2), train);
  const merx::SampleSet more = aug->extend(train);
  CHECK(more.y.numel() == 6);
  const json a = aug->artifacts();
  CHECK(a["fit"]["clips_without_au"] == 2);
  CHECK(a["fit"]["clips_with_au"] == 13);
  // src0/positive has 1 clip with AUs < k = 3: prototypes come from the source's own clips only (no pooled
  // fallback since the prototype-anchored generator), so k' = min(k, n) = 1 cluster of that one vector.
  bool one = false;
  for (const auto& c : a["generated"]["clusters"])
    if (c["domain"] == "src0" && c["class"] == "positive") one = c["k"] == 1 && c["vectors"] == 1;
  CHECK(one);
}

TEST_CASE("au_gan refuses non-finite inputs and a cell without AU intensities") {
  merx::SampleSet train = samples({{3, 3, 3}});
  train.x[4][1][2][3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(make()->fit(setup(1), train), doctest::Contains("1 of the 9 training inputs"),
                       std::invalid_argument);
  merx::SampleSet no_au = samples({{3, 3, 3}});
  no_au.au = torch::Tensor();
  no_au.au_ids.clear();
  CHECK_THROWS_AS(make()->fit(setup(1), no_au), std::invalid_argument);
}

TEST_CASE("au_gan caches a fit by data and seed and parameters within the process") {
  const merx::SampleSet train = samples({{5, 2, 2}, {2, 2, 4}}, {}, 11);
  auto first = make(), second = make();
  first->fit(setup(2, 77), train);
  second->fit(setup(2, 77), train);  // e.g. the same fold and seed with another regularizer
  CHECK(first->artifacts()["fit"]["cache"] == "miss");
  CHECK(second->artifacts()["fit"]["cache"] == "hit");
  CHECK(torch::equal(first->extend(train).x, second->extend(train).x));
  auto other_seed = make();
  other_seed->fit(setup(2, 78), train);
  CHECK(other_seed->artifacts()["fit"]["cache"] == "miss");
  auto other_params = make(fast_with({{"sigma_a", 0.5}}));
  other_params->fit(setup(2, 77), train);
  CHECK(other_params->artifacts()["fit"]["cache"] == "miss");
}

TEST_CASE("au_gan in a cell never sees a test-fold sample: test inputs poisoned with NaN do not reach it") {
  using namespace merx::engine;
  torch::manual_seed(8);
  CellData data;
  data.classes = {"negative", "positive", "surprise"};
  data.source_domains = {"alpha", "beta"};
  std::vector<int64_t> counts = {5, 3, 2};
  for (int64_t d = 0; d < 2; ++d)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < counts[static_cast<size_t>(c)]; ++i) {
        data.train.y.push_back(c);
        data.train.domain.push_back(d);
        data.train.subjects.push_back(data.source_domains[static_cast<size_t>(d)] + "/s" +
                                      std::to_string(i % 2));
        data.train.keys.push_back(data.source_domains[static_cast<size_t>(d)] + "/s/" + std::to_string(c) +
                                  "_" + std::to_string(i));
      }
  const int64_t n = static_cast<int64_t>(data.train.y.size());
  data.train.x = torch::randn({n, 3, 28, 28});
  data.train.au = torch::rand({n, 12}) * 5;
  data.train.au_ids = {1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17};
  const torch::Tensor poisoned = torch::full({6, 3, 28, 28}, std::numeric_limits<float>::quiet_NaN());
  data.test = TestSplit(poisoned, {0, 1, 2, 0, 1, 2}, {"t/a/1", "t/a/2", "t/a/3", "t/a/4", "t/a/5", "t/a/6"});

  CellConfig config;
  config.training.epochs = 1;
  config.training.batch = 4;
  config.training.sampler = "domain_balanced";
  config.training.selection = "last";
  config.cell_seed = 4242;
  config.backbone = {"linear", {{"channels", 3}, {"size", 28}, {"features", 8}}};
  config.regularizer = {"none", json::object()};
  config.augmenter = {"au_gan", resolve(kFast)};
  const CellOutcome o = run_cell(config, registry(), data);
  REQUIRE_MESSAGE(o.result.status == merx::CellStatus::Done, o.result.error);
  bool found = false;
  for (const auto& a : o.result.artifacts)
    if (a.name == "au_gan.generated") {
      found = true;
      CHECK(a.data["counts"]["alpha"]["surprise"]["generated"] == 3);
      CHECK(a.data["counts"]["beta"]["positive"]["generated"] == 2);
    }
  CHECK(found);

  // Control: the same NaN in one training clip does reach the plugin, which refuses it (the check can fail).
  data.train.x[2].fill_(std::numeric_limits<float>::quiet_NaN());
  const CellOutcome bad = run_cell(config, registry(), data);
  CHECK(bad.result.status == merx::CellStatus::Failed);
  CHECK(bad.result.error.find("au_gan: 1 of the 20 training inputs hold NaN") != std::string::npos);
}

TEST_CASE("au_gan with 0 generator steps and k = 1 emits the hand-computed mean of the class's clips") {
  // Source 0: 4/2/1; channels named (not flow_strain), so no channel is recomputed: every generated sample of
  // (src0, c) is the prototype = the mean real tensor of that class's clips, computed here by hand.
  const merx::SampleSet train = samples({{4, 2, 1}});
  auto aug = make(fast_with({{"steps", 0}, {"k", 1}}));
  merx::AugmenterSetup st = setup(1);
  st.channels = {"a", "b", "c"};
  aug->fit(st, train);
  const merx::SampleSet more = aug->extend(train);
  REQUIRE(more.y.numel() == 5);  // target max = 4: 2 positive, 3 surprise
  for (int64_t c : {1, 2}) {
    torch::Tensor sum = torch::zeros({3, 8, 8});
    int64_t cnt = 0;
    for (int64_t i = 0; i < train.y.numel(); ++i)
      if (train.y[i].item<int64_t>() == c) {
        sum += train.x[i];
        ++cnt;
      }
    const torch::Tensor mean = sum / static_cast<double>(cnt);
    for (int64_t i = 0; i < more.y.numel(); ++i)
      if (more.y[i].item<int64_t>() == c) CHECK(torch::allclose(more.x[i], mean, 1e-5, 1e-5));
  }
}

TEST_CASE("au_gan target median brings each source's classes to its median count, larger classes kept") {
  // Source 0: 6/2/1 -> median of {1, 2, 6} = 2: generates 0/0/1; source 1: 2/5/3 -> median 3: 1/0/0.
  const merx::SampleSet train = samples({{6, 2, 1}, {2, 5, 3}});
  auto aug = make(fast_with({{"target", "median"}}));
  aug->fit(setup(2), train);
  const auto t = tally(train, aug->extend(train));
  CHECK(t.at({0, 0}) == 6);
  CHECK(t.at({0, 1}) == 2);
  CHECK(t.at({0, 2}) == 2);
  CHECK(t.at({1, 0}) == 3);
  CHECK(t.at({1, 1}) == 5);
  CHECK(t.at({1, 2}) == 3);
}

TEST_CASE("au_gan gate rejects a collapsed generator and warnings() names the source and the class") {
  // 0 steps and k = 1: every candidate of a (source, class) is the same prototype, diversity 0 < 0.25 x real.
  const merx::SampleSet train = samples({{4, 2, 1}});
  auto aug = make(fast_with({{"steps", 0}, {"k", 1}, {"gate_min_diversity", 0.25}}));
  merx::AugmenterSetup st = setup(1);
  st.channels = {"a", "b", "c"};
  aug->fit(st, train);
  // positive (2 real clips) fails; surprise has 1 real clip, so its real diversity is undefined (0) and the
  // diversity gate cannot judge it: its 3 samples pass (a known limit, reported).
  const merx::SampleSet more = aug->extend(train);
  CHECK(more.y.numel() == 3);
  CHECK((more.y == 2).all().item<bool>());
  const std::vector<std::string> w = aug->warnings();
  REQUIRE(w.size() == 1);
  CHECK(w[0].find("'src0'") != std::string::npos);
  CHECK(w[0].find("'positive'") != std::string::npos);
  CHECK(aug->artifacts()["quality"]["gate"][0]["passed"] == false);
}

namespace {

// Optical strain by hand (methods.md §4): eps = sqrt(u_x² + v_y² + ½(u_y + v_x)²), each derivative the
// central difference (f[i+1] − f[i−1]) / 2 with the border pixel repeated (so (f[1] − f[0]) / 2 at an edge).
std::vector<std::vector<double>> hand_strain(const std::vector<std::vector<double>>& u,
                                             const std::vector<std::vector<double>>& v) {
  const int h = static_cast<int>(u.size()), w = static_cast<int>(u[0].size());
  auto at = [](const std::vector<std::vector<double>>& f, int i, int j) {
    const int hh = static_cast<int>(f.size()), ww = static_cast<int>(f[0].size());
    return f[static_cast<size_t>(std::clamp(i, 0, hh - 1))][static_cast<size_t>(std::clamp(j, 0, ww - 1))];
  };
  std::vector<std::vector<double>> e(static_cast<size_t>(h), std::vector<double>(static_cast<size_t>(w)));
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) {
      const double ux = (at(u, i, j + 1) - at(u, i, j - 1)) / 2, uy = (at(u, i + 1, j) - at(u, i - 1, j)) / 2;
      const double vx = (at(v, i, j + 1) - at(v, i, j - 1)) / 2, vy = (at(v, i + 1, j) - at(v, i - 1, j)) / 2;
      e[static_cast<size_t>(i)][static_cast<size_t>(j)] = std::sqrt(ux * ux + vy * vy + 0.5 * (uy + vx) * (uy + vx));
    }
  return e;
}

using Field = std::vector<std::vector<double>>;
Field field(int n, double (*f)(int, int)) {
  Field r(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(n)));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) r[static_cast<size_t>(i)][static_cast<size_t>(j)] = f(i, j);
  return r;
}

}  // namespace

TEST_CASE("au_gan computes a generated sample's strain from its u, v as the recipe's optical strain, scaled") {
  // flow_strain channels; k = 1 and 0 steps, so the one generated `positive` sample has (u, v) = the mean of
  // the two positive clips' hand-built fields. Every real clip's strain channel is 2 x its hand strain, so the
  // fitted strain scale is exactly 2 and the generated strain must be 2 x hand_strain(mean u, mean v) — not
  // the mean of the real strains. Interior: the fields' derivatives are exact under central differences and
  // cv::Sobel /8 alike (x-derivatives linear in the row, y-derivatives linear in the column), so the recipe's
  // own optical_strain (framework/preprocessing) and the analytic derivatives give the same value there.
  const int n = 8;
  const Field u1 = field(n, [](int i, int j) { return 0.1 * j + 0.05 * i * j; });
  const Field v1 = field(n, [](int i, int) { return 0.02 * i * i; });
  const Field u2 = field(n, [](int, int j) { return -0.1 * j; });
  const Field v2 = field(n, [](int i, int j) { return 0.3 * i + 0.01 * j * j; });
  torch::manual_seed(21);
  std::vector<Field> us = {u1, u2}, vs = {v1, v2};
  for (int r = 0; r < 3; ++r) {  // three negative clips: random fields
    const torch::Tensor t = torch::randn({2, n, n}).to(torch::kDouble);
    Field a(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(n))), b = a;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        a[static_cast<size_t>(i)][static_cast<size_t>(j)] = t[0][i][j].item<double>();
        b[static_cast<size_t>(i)][static_cast<size_t>(j)] = t[1][i][j].item<double>();
      }
    us.push_back(a);
    vs.push_back(b);
  }
  merx::SampleSet train;
  train.x = torch::zeros({5, 3, n, n});
  for (int s = 0; s < 5; ++s) {
    const Field e = hand_strain(us[static_cast<size_t>(s)], vs[static_cast<size_t>(s)]);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        train.x[s][0][i][j] = us[static_cast<size_t>(s)][static_cast<size_t>(i)][static_cast<size_t>(j)];
        train.x[s][1][i][j] = vs[static_cast<size_t>(s)][static_cast<size_t>(i)][static_cast<size_t>(j)];
        train.x[s][2][i][j] = 2 * e[static_cast<size_t>(i)][static_cast<size_t>(j)];
      }
  }
  train.y = torch::tensor(std::vector<int64_t>{1, 1, 0, 0, 0}, torch::kLong);
  train.domain = torch::zeros({5}, torch::kLong);
  train.au_ids = {12};
  train.au = torch::tensor(std::vector<float>{3, 3, 1, 1, 1}).view({5, 1});
  merx::AugmenterSetup st = setup(1);
  st.channels = {"u", "v", "strain"};
  auto aug = make(fast_with({{"steps", 0}, {"k", 1}}));
  aug->fit(st, train);
  const merx::SampleSet more = aug->extend(train);
  REQUIRE(more.y.numel() == 1);  // target max = 3: one more positive
  CHECK(more.y[0].item<int64_t>() == 1);
  CHECK(aug->artifacts()["fit"]["strain_scale"].get<double>() == doctest::Approx(2.0).epsilon(1e-6));
  Field um(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(n))), vm = um;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      um[static_cast<size_t>(i)][static_cast<size_t>(j)] = (u1[static_cast<size_t>(i)][static_cast<size_t>(j)] + u2[static_cast<size_t>(i)][static_cast<size_t>(j)]) / 2;
      vm[static_cast<size_t>(i)][static_cast<size_t>(j)] = (v1[static_cast<size_t>(i)][static_cast<size_t>(j)] + v2[static_cast<size_t>(i)][static_cast<size_t>(j)]) / 2;
    }
  const Field e = hand_strain(um, vm);
  cv::Mat flow(n, n, CV_32FC2);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      flow.at<cv::Vec2f>(i, j) = cv::Vec2f(static_cast<float>(um[static_cast<size_t>(i)][static_cast<size_t>(j)]),
                                           static_cast<float>(vm[static_cast<size_t>(i)][static_cast<size_t>(j)]));
  const cv::Mat recipe = merx::prep::optical_strain(flow);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const double g = more.x[0][2][i][j].item<double>();
      CHECK(more.x[0][0][i][j].item<double>() == doctest::Approx(um[static_cast<size_t>(i)][static_cast<size_t>(j)]).epsilon(1e-5));
      CHECK(g == doctest::Approx(2 * e[static_cast<size_t>(i)][static_cast<size_t>(j)]).epsilon(1e-5));
      if (i > 0 && j > 0 && i < n - 1 && j < n - 1) {
        // mean field: u = 0.025 i j, v = 0.01 i² + 0.15 i + 0.005 j² -> u_x = 0.025 i, u_y = 0.025 j,
        // v_x = 0.01 j, v_y = 0.02 i + 0.15.
        const double ux = 0.025 * i, uy = 0.025 * j, vx = 0.01 * j, vy = 0.02 * i + 0.15;
        const double analytic = std::sqrt(ux * ux + vy * vy + 0.5 * (uy + vx) * (uy + vx));
        CHECK(g == doctest::Approx(2 * analytic).epsilon(1e-5));
        CHECK(g == doctest::Approx(2 * recipe.at<float>(i, j)).epsilon(1e-4));
      }
    }
}

TEST_CASE("au_gan generator proto_noise draws prototype + the cluster's per-pixel noise, balanced to a count") {
  // One source, 30 / 4 / 3 clips, target 12: by hand 0 / 8 / 9 generated (the 30 kept). k = 1, so each class
  // is one cluster: prototype = mean of its clips, declared noise = their per-pixel (unbiased) standard
  // deviation. Every generated pixel's z = (x − prototype) / sd must be a standard normal draw: |z| < 5.5
  // everywhere and, over the 17 x 192 values, mean within 0.1 of 0 and standard deviation within 0.1 of 1.
  const merx::SampleSet train = samples({{30, 4, 3}});
  auto aug = make(fast_with({{"generator", "proto_noise"}, {"k", 1}, {"target", "12"}}));
  merx::AugmenterSetup st = setup(1);
  st.channels = {"a", "b", "c"};
  aug->fit(st, train);
  const merx::SampleSet more = aug->extend(train);
  const auto t = tally(train, more);
  CHECK(t.at({0, 0}) == 30);
  CHECK(t.at({0, 1}) == 12);
  CHECK(t.at({0, 2}) == 12);
  REQUIRE(more.y.numel() == 17);
  std::vector<torch::Tensor> zs;
  for (int64_t c : {1, 2}) {
    const torch::Tensor real = train.x.index_select(0, (train.y == c).nonzero().squeeze(1)).to(torch::kDouble);
    const torch::Tensor proto = real.sum(0) / static_cast<double>(real.size(0));
    const torch::Tensor sd = ((real - proto).pow(2).sum(0) / static_cast<double>(real.size(0) - 1)).sqrt();
    const torch::Tensor gen = more.x.index_select(0, (more.y == c).nonzero().squeeze(1)).to(torch::kDouble);
    zs.push_back(((gen - proto) / sd).flatten());
  }
  const torch::Tensor z = torch::cat(zs);
  CHECK(z.abs().max().item<double>() < 5.5);
  CHECK(std::abs(z.mean().item<double>()) < 0.1);
  CHECK(std::abs(z.std().item<double>() - 1.0) < 0.1);
}
