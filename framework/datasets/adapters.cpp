// The adapter registry (DomainBed style: one list, by name). Each adapter lives in datasets/<name>/ with
// its errata.json beside it; its AdapterInfo says what it needs and how it reads.
#include "merx/datasets/adapters.h"

#include <algorithm>

#include "datasets/pipeline.h"

namespace merx {

const std::vector<AdapterInfo>& dataset_adapters() {
  static const std::vector<AdapterInfo> adapters = [] {
    std::vector<AdapterInfo> a = {
        ds::casme_adapter(),    ds::casme2_adapter(), ds::casme_squared_adapter(), ds::casme3a_adapter(),
        ds::casme3c_adapter(),  ds::samm_adapter(),   ds::smic_hs_adapter(),       ds::smic_vis_adapter(),
        ds::smic_nir_adapter(), ds::mmew_adapter(),   ds::fourdme_adapter(),       ds::manifest_adapter(),
        ds::flow_images_adapter(),
    };
    std::sort(a.begin(), a.end(), [](const AdapterInfo& x, const AdapterInfo& y) { return x.name < y.name; });
    return a;
  }();
  return adapters;
}

const AdapterInfo* find_adapter(const std::string& name) {
  for (const auto& a : dataset_adapters())
    if (a.name == name) return &a;
  return nullptr;
}

}  // namespace merx
