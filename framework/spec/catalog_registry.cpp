// Kept apart from plan.cpp so that code which builds a PluginCatalog by hand (tests) links without the
// plugin host.
#include "merx/spec/plan.h"

namespace merx {

PluginCatalog PluginCatalog::from(const PluginRegistry& registry) {
  PluginCatalog c;
  c.plugins = registry.plugins();
  c.refused = registry.refused();
  return c;
}

Plan make_plan(const SpecSource& spec, const PluginRegistry& registry, const PlanOptions& options) {
  return make_plan(spec, PluginCatalog::from(registry), options);
}

}  // namespace merx
