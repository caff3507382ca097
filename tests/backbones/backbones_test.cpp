// The backbone plugins as built .so files: feature widths, parameter counts worked out by hand (and, for
// ResNet-18, the published torchvision count), stream separation and batch independence in eval mode.
#include <cstdint>

#include <torch/torch.h>

#include "common/plugin_fixture.h"
#include "merx/backbone.h"

#include "common/torch_doctest.h"  // after the torch headers

namespace {

using merx::json;
using merx_test::make;
using torch::Tensor;

int64_t n_params(const merx::Backbone& b) {
  int64_t n = 0;
  for (const auto& p : b.parameters()) n += p.numel();
  return n;
}

// Eval-mode output of one sample must not depend on the rest of the batch (merx/backbone.h contract).
void check_batch_independent(merx::Backbone& b, const Tensor& x) {
  b.eval();
  torch::NoGradGuard ng;
  const Tensor all = b.forward(x);
  for (int64_t i = 0; i < x.size(0); ++i)
    CHECK(torch::allclose(all[i], b.forward(x.narrow(0, i, 1))[0], 1e-4, 1e-5));
}

}  // namespace

TEST_CASE("offapexnet: two streams on u and v, parameter count and feature width by hand") {
  torch::manual_seed(3);
  auto net = make<merx::Backbone>("offapexnet");
  CHECK(net->input_shape().channels == 3);
  CHECK(net->input_shape().height == 28);
  CHECK(net->feature_dim() == 1024);
  // Per stream: conv1 1*6*5*5 + 6, conv2 6*16*5*5 + 16; 28 -> 14 -> 7 so fc1 takes 2 * 16 * 7 * 7 = 1568.
  const int64_t stream = (1 * 6 * 25 + 6) + (6 * 16 * 25 + 16);
  const int64_t expected = 2 * stream + (1568 * 1024 + 1024) + (1024 * 1024 + 1024);
  CHECK(n_params(*net) == expected);
  CHECK(expected == 2661400);

  net->eval();
  torch::NoGradGuard ng;
  const Tensor x = torch::randn({4, 3, 28, 28});
  const Tensor f = net->forward(x);
  CHECK(f.sizes() == torch::IntArrayRef({4, 1024}));
  Tensor strain_changed = x.clone();
  strain_changed.select(1, 2).normal_();
  CHECK(torch::equal(net->forward(strain_changed), f));  // channel 2 feeds no stream
  Tensor v_changed = x.clone();
  v_changed.select(1, 1).normal_();
  CHECK_FALSE(torch::allclose(net->forward(v_changed), f));
  check_batch_independent(*net, x);
}

TEST_CASE("offapexnet refuses u and v on one channel") {
  CHECK_THROWS_WITH(make<merx::Backbone>("offapexnet", {{"u_channel", 1}, {"v_channel", 1}}),
                    doctest::Contains("two different channels"));
}

TEST_CASE("resnet18 at width 64 with the ImageNet stem has torchvision's 11176512 weights before the fc") {
  // torchvision's resnet18 has 11,689,512 parameters including its 512 x 1000 + 1000 fc layer.
  auto net = make<merx::Backbone>("resnet18", {{"size", 64}, {"stem", "imagenet"}});
  CHECK(n_params(*net) == 11689512 - (512 * 1000 + 1000));
  CHECK(net->feature_dim() == 512);
  net->eval();
  torch::NoGradGuard ng;
  CHECK(net->forward(torch::randn({2, 3, 64, 64})).sizes() == torch::IntArrayRef({2, 512}));
}

TEST_CASE("resnet18 small stem on 28x28 flow images: width parameter, features 8w, batch independence") {
  torch::manual_seed(4);
  auto net = make<merx::Backbone>("resnet18", {{"width", 8}});
  CHECK(net->feature_dim() == 64);
  // Hand count for w = 8, C = 3, 3x3 stem without bias: stem 3*8*9 + BN 16; each basic block
  // 9 in out + 9 out out + 4 out (two BNs), plus a 1x1 shortcut + BN (in out + 2 out) where the width changes.
  auto block = [](int64_t in, int64_t out) {
    int64_t n = 9 * in * out + 9 * out * out + 4 * out;
    if (in != out) n += in * out + 2 * out;
    return n;
  };
  const int64_t expected = 3 * 8 * 9 + 16 + block(8, 8) + block(8, 8) + block(8, 16) + block(16, 16) +
                           block(16, 32) + block(32, 32) + block(32, 64) + block(64, 64);
  CHECK(n_params(*net) == expected);
  const Tensor x = torch::randn({3, 3, 28, 28});
  net->train();
  CHECK(net->forward(x).sizes() == torch::IntArrayRef({3, 64}));
  check_batch_independent(*net, x);
}

TEST_CASE("resnet18 refuses the ImageNet stem on inputs too small for it") {
  CHECK_THROWS_WITH(make<merx::Backbone>("resnet18", {{"stem", "imagenet"}}), doctest::Contains(">= 32"));
}
