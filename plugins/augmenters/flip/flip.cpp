// `flip`: horizontal mirroring of training batches, aware of optical flow.
//
// Mirroring a face left-right maps a pixel (x, y) to (W-1-x, y); a displacement (u, v) there becomes
// (-u, v). So for flow recipes (`flow_strain` = [u, v, strain], `flow_uv` = [u, v]) the u channel is
// negated as well as mirrored; v and optical strain (a magnitude) are only mirrored. For image recipes
// (`apex_gray`, `onset_apex`) set `u_channel` to -1: nothing is negated.
// Input/output: batch.x [B, C, H, W] float32, labels and domains unchanged.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include "merx/augmenter.h"
#include "merx/plugin.h"

namespace {

class Flip final : public merx::Augmenter {
 public:
  explicit Flip(const merx::Params& p) : p_(p.real("p")), u_channel_(p.integer("u_channel")) {}

  merx::AugmenterMode mode() const override { return merx::AugmenterMode::Transform; }

  void fit(const merx::AugmenterSetup& setup, const merx::SampleSet& train) override {
    if (train.x.defined() && u_channel_ >= train.x.size(1))
      throw std::invalid_argument("flip: u_channel " + std::to_string(u_channel_) + " but the input has " +
                                  std::to_string(train.x.size(1)) + " channels");
    gen_ = at::make_generator<at::CPUGeneratorImpl>(setup.seed);
  }

  void transform(merx::SampleSet& batch, int64_t) override {
    const int64_t b = batch.x.size(0);
    // One Bernoulli(p) draw per sample, on the CPU generator (device independent).
    const torch::Tensor u01 = at::rand({b}, gen_, torch::TensorOptions().dtype(torch::kFloat));
    const torch::Tensor mask = (u01 < p_).to(batch.x.device()).view({b, 1, 1, 1});
    torch::Tensor mirrored = batch.x.flip({3});
    if (u_channel_ >= 0) {
      torch::Tensor sign = torch::ones({1, batch.x.size(1), 1, 1}, batch.x.options());
      sign.index_put_({0, u_channel_}, -1.0);
      mirrored = mirrored * sign;
    }
    batch.x = torch::where(mask, mirrored, batch.x);
  }

 private:
  double p_;
  int64_t u_channel_;
  at::Generator gen_;
};

}  // namespace

MERX_PLUGIN(merx::Augmenter, Flip, "flip", "1.0.0",
            "Horizontal flip of training batches; negates the flow's u channel (flow-aware mirroring)",
            merx::ParamDecl::real("p", 0.5).range(0, 1).doc_line("probability that a sample is mirrored"),
            merx::ParamDecl::integer("u_channel", 0)
                .range(-1, 63)
                .doc_line("channel holding the horizontal flow u, negated when mirrored; -1 for image recipes"))
