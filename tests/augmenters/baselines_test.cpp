// The baseline augmenters (flip, jitter, oversample, mixup) as built .so files. Expected values are built by
// hand in each test (mirrored arrays written out, counts worked out on paper, Beta probabilities from
// Boost.Math), never with the plugin's own code.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <boost/math/distributions/beta.hpp>
#include <torch/torch.h>

#include "common/plugin_fixture.h"
#include "merx/augmenter.h"

#include "common/torch_doctest.h"  // after the torch headers

namespace {

using merx::json;
using merx_test::make;
using torch::Tensor;

merx::AugmenterSetup setup_for(int n_domains, int n_classes, uint64_t seed = 5) {
  merx::AugmenterSetup s;
  for (int d = 0; d < n_domains; ++d) s.source_domains.push_back("ds" + std::to_string(d));
  for (int c = 0; c < n_classes; ++c) s.class_names.push_back("c" + std::to_string(c));
  s.seed = seed;
  return s;
}

merx::SampleSet batch_of(Tensor x, std::vector<int64_t> y, std::vector<int64_t> d) {
  merx::SampleSet s;
  s.x = std::move(x);
  s.y = torch::tensor(y, torch::kLong);
  s.domain = torch::tensor(d, torch::kLong);
  return s;
}

// Runs one transform on a copy of `s`.
merx::SampleSet transformed(merx::Augmenter& a, const merx::SampleSet& s) {
  merx::SampleSet b = s;
  b.x = s.x.clone();
  a.transform(b, 0);
  return b;
}

}  // namespace

TEST_CASE("flip with p = 1 mirrors every sample and negates only the u channel") {
  // x[c][h][w] = 100 c + 10 h + w + 1 on a [1, 3, 2, 3] sample.
  const Tensor x = (torch::arange(3).view({3, 1, 1}) * 100 + torch::arange(2).view({1, 2, 1}) * 10 +
                    torch::arange(3).view({1, 1, 3}) + 1)
                       .to(torch::kFloat)
                       .unsqueeze(0);
  auto flip = make<merx::Augmenter>("flip", {{"p", 1.0}});
  CHECK(flip->mode() == merx::AugmenterMode::Transform);
  const merx::SampleSet s = batch_of(x, {0}, {0});
  flip->fit(setup_for(1, 1), s);
  const Tensor out = transformed(*flip, s).x;
  // Written out by hand: rows reversed left-right, channel 0 (u) negated, v and strain kept.
  const Tensor expected = torch::tensor({-3.f, -2.f, -1.f, -13.f, -12.f, -11.f,  //
                                         103.f, 102.f, 101.f, 113.f, 112.f, 111.f,  //
                                         203.f, 202.f, 201.f, 213.f, 212.f, 211.f})
                              .view({1, 3, 2, 3});
  CHECK(torch::equal(out, expected));

  auto image_flip = make<merx::Augmenter>("flip", {{"p", 1.0}, {"u_channel", -1}});
  image_flip->fit(setup_for(1, 1), s);
  CHECK(torch::equal(transformed(*image_flip, s).x, x.flip({3})));

  auto never = make<merx::Augmenter>("flip", {{"p", 0.0}});
  never->fit(setup_for(1, 1), s);
  CHECK(torch::equal(transformed(*never, s).x, x));
}

TEST_CASE("flip with p = 0.5 mirrors a binomial share of samples, each either intact or exactly mirrored") {
  const int64_t n = 2000;
  const Tensor x = torch::rand({n, 2, 4, 4});
  auto flip = make<merx::Augmenter>("flip", {{"p", 0.5}});
  const merx::SampleSet s = batch_of(x, std::vector<int64_t>(n, 0), std::vector<int64_t>(n, 0));
  flip->fit(setup_for(1, 1), s);
  Tensor mirrored = x.flip({3});
  mirrored.select(1, 0).neg_();
  const Tensor out = transformed(*flip, s).x;
  int64_t flipped = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool same = torch::equal(out[i], x[i]), mir = torch::equal(out[i], mirrored[i]);
    REQUIRE(same != mir);
    flipped += mir;
  }
  // Binomial(2000, 0.5): mean 1000, sd 22.4; 5 sd.
  CHECK(std::abs(flipped - 1000) < 112);
  // Same seed -> same draws; another seed -> other draws.
  auto again = make<merx::Augmenter>("flip", {{"p", 0.5}});
  again->fit(setup_for(1, 1), s);
  CHECK(torch::equal(transformed(*again, s).x, out));
  auto other = make<merx::Augmenter>("flip", {{"p", 0.5}});
  other->fit(setup_for(1, 1, 6), s);
  CHECK_FALSE(torch::equal(transformed(*other, s).x, out));
}

TEST_CASE("flip refuses a u channel the input does not have") {
  auto flip = make<merx::Augmenter>("flip", {{"u_channel", 3}});
  CHECK_THROWS_WITH_AS(flip->fit(setup_for(1, 1), batch_of(torch::zeros({1, 3, 4, 4}), {0}, {0})),
                       doctest::Contains("u_channel 3"), std::invalid_argument);
}

TEST_CASE("jitter with no shift and no scale is the identity") {
  const Tensor x = torch::rand({4, 3, 8, 8});
  auto j = make<merx::Augmenter>("jitter", {{"shift", 0.0}, {"scale", 0.0}});
  const merx::SampleSet s = batch_of(x, {0, 0, 0, 0}, {0, 0, 0, 0});
  j->fit(setup_for(1, 1), s);
  CHECK(torch::allclose(transformed(*j, s).x, x, 0, 1e-5));
}

TEST_CASE("jitter zooms the image and multiplies the flow channels by the same factor") {
  // Channel 0 (u) and 2 (strain) constant 1; channel 1 a Gaussian blob of sd 3 px at the centre. The zoom
  // factor measured from the blob's spread must equal the gain on u; strain keeps 1; shift stays in bounds.
  const int64_t n = 64, side = 40;
  const auto grid = torch::arange(side, torch::kFloat) - (side - 1) / 2.0;
  const Tensor r2 = grid.view({side, 1}).pow(2) + grid.view({1, side}).pow(2);
  const Tensor blob = torch::exp(-r2 / (2 * 9.0));
  const Tensor one = torch::ones({side, side});
  const Tensor x = torch::stack({one, blob, one}).unsqueeze(0).expand({n, 3, side, side}).contiguous();
  auto j = make<merx::Augmenter>("jitter", {{"shift", 2.0}, {"scale", 0.2}, {"flow_channels", 1}});
  const merx::SampleSet s = batch_of(x, std::vector<int64_t>(n, 0), std::vector<int64_t>(n, 0));
  j->fit(setup_for(1, 1), s);
  const Tensor out = transformed(*j, s).x;
  std::set<int> distinct_gains;
  for (int64_t i = 0; i < n; ++i) {
    const double gain = out[i][0][side / 2][side / 2].item<double>();
    CHECK(out[i][2][side / 2][side / 2].item<double>() == doctest::Approx(1.0).epsilon(1e-5));
    CHECK(gain >= 0.8 - 1e-6);
    CHECK(gain <= 1.2 + 1e-6);
    const Tensor b = out[i][1];
    const double mass = b.sum().item<double>();
    const double cx = (b.sum(0) * grid).sum().item<double>() / mass;
    const double cy = (b.sum(1) * grid).sum().item<double>() / mass;
    const double var = ((b.sum(0) * (grid - cx).pow(2)).sum().item<double>() +
                        (b.sum(1) * (grid - cy).pow(2)).sum().item<double>()) /
                       (2 * mass);
    // Spread of a zoomed Gaussian: sd 3 s (plus bilinear smoothing, a few per cent).
    CHECK(std::sqrt(var) / 3.0 == doctest::Approx(gain).epsilon(0.04));
    CHECK(std::abs(cx) <= 2.0 + 0.05);
    CHECK(std::abs(cy) <= 2.0 + 0.05);
    distinct_gains.insert(static_cast<int>(std::lround(gain * 1000)));
  }
  CHECK(distinct_gains.size() > 32);  // drawn per sample, not once per batch
}

TEST_CASE("oversample balances classes within each source domain with copies of that source's samples") {
  // Domain 0: class 0 x5, class 1 x2; domain 1: class 0 x1, class 1 x3, class 2 x3. By hand: domain 0 needs
  // 3 more of class 1; domain 1 needs 2 more of class 0; class 2 is absent in domain 0 and stays absent.
  std::vector<int64_t> y = {0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 2, 2, 2};
  std::vector<int64_t> d = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
  const int64_t n = static_cast<int64_t>(y.size());
  const Tensor x = torch::arange(n, torch::kFloat).view({n, 1, 1, 1}).expand({n, 2, 3, 3}).contiguous();
  merx::SampleSet train = batch_of(x, y, d);
  train.au = torch::arange(n, torch::kFloat).view({n, 1});
  train.au_ids = {12};

  auto os = make<merx::Augmenter>("oversample");
  CHECK(os->mode() == merx::AugmenterMode::Extend);
  os->fit(setup_for(2, 3), train);
  const merx::SampleSet more = os->extend(train);
  REQUIRE(more.x.size(0) == 5);
  std::map<std::pair<int64_t, int64_t>, int> added;
  for (int64_t i = 0; i < 5; ++i) {
    const int64_t row = static_cast<int64_t>(more.x[i][0][0][0].item<float>());
    CHECK(more.x[i].equal(x[row]));               // an exact copy of a training row
    CHECK(more.y[i].item<int64_t>() == y[static_cast<size_t>(row)]);  // of that row's class
    CHECK(more.domain[i].item<int64_t>() == d[static_cast<size_t>(row)]);
    CHECK(more.au[i][0].item<float>() == static_cast<float>(row));
    ++added[{more.domain[i].item<int64_t>(), more.y[i].item<int64_t>()}];
  }
  CHECK(added == std::map<std::pair<int64_t, int64_t>, int>{{{0, 1}, 3}, {{1, 0}, 2}});

  auto pooled = make<merx::Augmenter>("oversample", {{"balance", "pooled"}});
  pooled->fit(setup_for(2, 3), train);
  const merx::SampleSet pm = pooled->extend(train);
  // Pooled counts 6 / 5 / 3 -> one more of class 1 and three more of class 2.
  REQUIRE(pm.x.size(0) == 4);
  CHECK((pm.y == 1).sum().item<int64_t>() == 1);
  CHECK((pm.y == 2).sum().item<int64_t>() == 3);
}

TEST_CASE("oversample target median, max and a count bring each source's present classes to that count") {
  // Domain 0: class 0 x6, class 1 x1, class 2 x3; domain 1: class 0 x2, class 1 x5 (class 2 absent).
  // By hand: median: domain 0 sorted counts 1 3 6 -> 3, so +2 of class 1; domain 1 counts 2 5 -> upper middle
  // 5, so +3 of class 0. max: domain 0 -> 6: +5 of class 1, +3 of class 2; domain 1 -> 5: +3 of class 0.
  // count 4: domain 0 +3 of class 1, +1 of class 2 (class 0 kept at 6); domain 1 +2 of class 0 (class 1 kept
  // at 5); the absent class 2 of domain 1 stays absent in every case.
  std::vector<int64_t> y = {0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 0, 0, 1, 1, 1, 1, 1};
  std::vector<int64_t> d = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
  const int64_t n = static_cast<int64_t>(y.size());
  const Tensor x = torch::arange(n, torch::kFloat).view({n, 1, 1, 1}).expand({n, 1, 2, 2}).contiguous();
  const merx::SampleSet train = batch_of(x, y, d);
  using Counts = std::map<std::pair<int64_t, int64_t>, int>;
  auto added = [&](const json& params) {
    auto os = make<merx::Augmenter>("oversample", params);
    os->fit(setup_for(2, 3), train);
    const merx::SampleSet more = os->extend(train);
    Counts c;
    for (int64_t i = 0; i < more.y.numel(); ++i) {
      const int64_t row = static_cast<int64_t>(more.x[i][0][0][0].item<float>());
      CHECK(more.y[i].item<int64_t>() == y[static_cast<size_t>(row)]);  // a copy of its own class and source
      CHECK(more.domain[i].item<int64_t>() == d[static_cast<size_t>(row)]);
      ++c[{more.domain[i].item<int64_t>(), more.y[i].item<int64_t>()}];
    }
    return c;
  };
  CHECK(added({{"target", "median"}}) == Counts{{{0, 1}, 2}, {{1, 0}, 3}});
  CHECK(added({{"target", "max"}}) == Counts{{{0, 1}, 5}, {{0, 2}, 3}, {{1, 0}, 3}});
  CHECK(added(json::object()) == added({{"target", "max"}}));  // the default is max (balance to the largest)
  CHECK(added({{"target", "4"}}) == Counts{{{0, 1}, 3}, {{0, 2}, 1}, {{1, 0}, 2}});
  CHECK_THROWS(make<merx::Augmenter>("oversample", {{"target", "mean"}}));
  CHECK_THROWS(make<merx::Augmenter>("oversample", {{"target", "0"}}));
}

TEST_CASE("mixup mixes each sample with a same-class partner from another domain, lambda ~ Beta") {
  // Samples are random 8-value images: domain 0 rows 0..3, domain 1 rows 4..7, all class 0; row 8 (class 1)
  // has no partner and must stay exact. For each output, lambda is recovered by least squares against every
  // candidate partner; the true partner fits exactly (residual ~ 0), and it must be in the other domain.
  const std::vector<int64_t> y = {0, 0, 0, 0, 0, 0, 0, 0, 1};
  const std::vector<int64_t> d = {0, 0, 0, 0, 1, 1, 1, 1, 0};
  const int64_t n = 9;
  torch::manual_seed(12);
  const Tensor x = torch::randn({n, 2, 2, 2});
  auto mix = make<merx::Augmenter>("mixup", {{"alpha", 0.2}, {"p", 1.0}});
  const merx::SampleSet s = batch_of(x, y, d);
  mix->fit(setup_for(2, 2), s);
  const double lo = 0.1, hi = 0.9;
  int64_t middle = 0, draws = 0;
  const Tensor flat = x.reshape({n, -1}).to(torch::kDouble);
  for (int rep = 0; rep < 500; ++rep) {
    const merx::SampleSet out = transformed(*mix, s);
    CHECK(torch::equal(out.y, s.y));
    CHECK(out.x[8].equal(x[8]));
    for (int64_t i = 0; i < 8; ++i) {
      const Tensor o = out.x[i].reshape({-1}).to(torch::kDouble);
      double lam = -1;
      bool same_domain_fit = false;
      for (int64_t j = 0; j < 8; ++j) {
        if (j == i) continue;
        const Tensor diff = flat[i] - flat[j];
        const double l = ((o - flat[j]) * diff).sum().item<double>() / diff.pow(2).sum().item<double>();
        const double residual = (o - (l * flat[i] + (1 - l) * flat[j])).abs().max().item<double>();
        if (residual > 1e-4 || l < -1e-5 || l > 1 + 1e-5) continue;
        if (d[static_cast<size_t>(j)] == d[static_cast<size_t>(i)]) {
          same_domain_fit = same_domain_fit || l < 1 - 1e-3;  // lambda = 1 fits every candidate
        } else {
          lam = l;
        }
      }
      REQUIRE(lam >= 0);
      CHECK_FALSE(same_domain_fit);
      ++draws;
      middle += (lam > lo && lam < hi);
    }
  }
  // P(0.1 < lambda < 0.9) for Beta(0.2, 0.2), from Boost.Math; binomial tolerance of 4 sd over 4000 draws.
  const boost::math::beta_distribution<double> beta(0.2, 0.2);
  const double p = boost::math::cdf(beta, hi) - boost::math::cdf(beta, lo);
  const double share = static_cast<double>(middle) / static_cast<double>(draws);
  CHECK(std::abs(share - p) < 4 * std::sqrt(p * (1 - p) / static_cast<double>(draws)));
}
