// `jitter`: a small random shift and isotropic scale of each training sample (bilinear resampling, zeros
// outside the image), flow-aware.
//
// Zooming an image by a factor s multiplies the displacements it shows by s, so the first `flow_channels`
// channels (u, v for the flow recipes) are multiplied by s; optical strain is a derivative of the flow
// field and is unchanged by an isotropic zoom. Per sample: s ~ U(1 - scale, 1 + scale), shift
// (dx, dy) ~ U(-shift, shift)^2 in pixels of the input.
// Input/output: batch.x [B, C, H, W] float32, labels and domains unchanged.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/vision.h>
#include <torch/types.h>

#include "merx/augmenter.h"
#include "merx/plugin.h"

namespace {

class Jitter final : public merx::Augmenter {
 public:
  explicit Jitter(const merx::Params& p)
      : shift_(p.real("shift")), scale_(p.real("scale")), flow_channels_(p.integer("flow_channels")) {}

  merx::AugmenterMode mode() const override { return merx::AugmenterMode::Transform; }

  void fit(const merx::AugmenterSetup& setup, const merx::SampleSet& train) override {
    if (train.x.defined() && flow_channels_ > train.x.size(1))
      throw std::invalid_argument("jitter: flow_channels " + std::to_string(flow_channels_) +
                                  " but the input has " + std::to_string(train.x.size(1)) + " channels");
    gen_ = at::make_generator<at::CPUGeneratorImpl>(setup.seed);
  }

  void transform(merx::SampleSet& batch, int64_t) override {
    namespace F = torch::nn::functional;
    const int64_t b = batch.x.size(0), h = batch.x.size(2), w = batch.x.size(3);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
    const torch::Tensor s = 1.0 + (at::rand({b}, gen_, f32) * 2 - 1) * scale_;
    const torch::Tensor dx = (at::rand({b}, gen_, f32) * 2 - 1) * shift_;
    const torch::Tensor dy = (at::rand({b}, gen_, f32) * 2 - 1) * shift_;
    // affine_grid maps output coordinates (normalised to [-1, 1], align_corners = false) to input ones:
    // out = s in + 2 d / size, so in = out / s - 2 d / (s size): the content is magnified by s about the
    // centre and then moved by d pixels.
    torch::Tensor theta = torch::zeros({b, 2, 3}, f32);
    theta.select(1, 0).select(1, 0).copy_(1.0 / s);
    theta.select(1, 1).select(1, 1).copy_(1.0 / s);
    theta.select(1, 0).select(1, 2).copy_(-2.0 * dx / (s * static_cast<double>(w)));
    theta.select(1, 1).select(1, 2).copy_(-2.0 * dy / (s * static_cast<double>(h)));
    theta = theta.to(batch.x.device());
    const torch::Tensor grid =
        F::affine_grid(theta, {b, batch.x.size(1), h, w}, /*align_corners=*/false);
    torch::Tensor out = F::grid_sample(batch.x, grid,
                                       F::GridSampleFuncOptions()
                                           .mode(torch::kBilinear)
                                           .padding_mode(torch::kZeros)
                                           .align_corners(false));
    if (flow_channels_ > 0) {
      torch::Tensor gain = torch::ones({b, batch.x.size(1), 1, 1}, f32);
      gain.narrow(1, 0, flow_channels_).copy_(s.view({b, 1, 1, 1}).expand({b, flow_channels_, 1, 1}));
      out = out * gain.to(out.device());
    }
    batch.x = out;
  }

 private:
  double shift_, scale_;
  int64_t flow_channels_;
  at::Generator gen_;
};

}  // namespace

MERX_PLUGIN(merx::Augmenter, Jitter, "jitter", "1.0.0",
            "Small random shift and isotropic scale of each training sample; flow channels scaled with the zoom",
            merx::ParamDecl::real("shift", 2.0)
                .range(0, 16)
                .search_as(merx::Search::uniform(0, 4))
                .doc_line("largest shift in pixels of the input, per axis"),
            merx::ParamDecl::real("scale", 0.1)
                .range(0, 0.5)
                .search_as(merx::Search::uniform(0, 0.2))
                .doc_line("largest relative zoom: s in [1 - scale, 1 + scale]"),
            merx::ParamDecl::integer("flow_channels", 2)
                .range(0, 64)
                .doc_line("leading channels that are displacements (u, v) and scale with the zoom; 0 for images"))
