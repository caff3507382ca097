// myaug: a small merx augmenter, as a template for your own.
//
// An augmenter is fitted once per cell on that cell's training samples (never its validation or test
// samples) and then either adds samples to the training set (mode Extend) or rewrites every training batch
// (mode Transform). This one is a Transform: it adds Gaussian noise of standard deviation `sigma` (in the
// recipe's units, e.g. pixels of flow for `flow_strain`) to each training batch x [B, C, H, W].
#include <torch/torch.h>

#include <merx/augmenter.h>  // the interface: mode(), fit(), extend() or transform()
#include <merx/plugin.h>     // MERX_PLUGIN: exports the entry point merx looks for

namespace {  // nothing but the entry point needs to be visible outside this file

class MyAug final : public merx::Augmenter {
 public:
  // merx hands over every declared parameter, already checked against its range and with defaults filled in.
  explicit MyAug(const merx::Params& p) : sigma_(p.real("sigma")) {}

  merx::AugmenterMode mode() const override { return merx::AugmenterMode::Transform; }

  // Draw only from a generator seeded with setup.seed: merx derives it from (cell seed, plugin name), so a
  // cell is reproducible and ERM and your method see the same batches.
  void fit(const merx::AugmenterSetup& setup, const merx::SampleSet&) override {
    generator_ = at::make_generator<at::CPUGeneratorImpl>(setup.seed);
  }

  // batch.x [B, C, H, W] float32; shapes must not change.
  void transform(merx::SampleSet& batch, int64_t) override {
    torch::Tensor noise = at::normal(0.0, sigma_, batch.x.sizes(), generator_, torch::kFloat32);
    batch.x = batch.x + noise.to(batch.x.device());
  }

 private:
  double sigma_;
  at::Generator generator_;
};

}  // namespace

// One MERX_PLUGIN per .so: interface, class, name (must match NAME in CMakeLists.txt's merx_add_plugin, as
// [a-z0-9_]+), version (bump it whenever results may change: it is recorded with every result), a one-line
// description, then the parameter declarations (default, allowed range, how a random search draws it).
MERX_PLUGIN(merx::Augmenter, MyAug, "myaug", "1.0.0", "Example: Gaussian noise on every training batch",
            merx::ParamDecl::real("sigma", 0.05)
                .range(0, 1)
                .search_as(merx::Search::uniform(0, 0.2))
                .doc_line("standard deviation of the added noise, in the recipe's units"))
