// `none`: no augmentation.
#include "merx/augmenter.h"
#include "merx/plugin.h"

namespace {

class None final : public merx::Augmenter {
 public:
  explicit None(const merx::Params&) {}
  merx::AugmenterMode mode() const override { return merx::AugmenterMode::Identity; }
  void fit(const merx::AugmenterSetup&, const merx::SampleSet&) override {}
};

}  // namespace

MERX_PLUGIN(merx::Augmenter, None, "none", "1.0.0", "No augmentation")
