// Loads built plugins from the build tree with parameters resolved against their declarations, exactly as a
// spec's would be (shared by the augmenter tests).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "merx/errors.h"
#include "merx/plugins/registry.h"
#include "merx/spec/params_check.h"

namespace merx_test {

inline const merx::PluginRegistry& registry() {
  static const merx::PluginRegistry reg = [] {
    merx::DiscoveryOptions o;
    o.default_dirs = false;
    o.environment = false;
    o.extra_dirs = {std::filesystem::path(MERX_BINARY_DIR) / "plugins"};
    return merx::PluginRegistry::discover(o);
  }();
  return reg;
}

/// Plugin `name` of Interface's kind (merx::Backbone, merx::Augmenter, ...) with `given` params checked and
/// defaults filled in; throws std::runtime_error on an unknown plugin or bad params (the first problem).
template <class Interface>
std::shared_ptr<Interface> make(const std::string& name, const merx::json& given = merx::json::object()) {
  const merx::PluginInfo* info = registry().find(*merx::plugin_kind_from_string(Interface::kKind), name);
  if (info == nullptr) throw std::runtime_error("plugin " + name + " not found");
  std::vector<merx::Problem> problems;
  const merx::json resolved = merx::check_params(info->params, given, "params", name, problems);
  if (!problems.empty()) throw std::runtime_error(problems[0].format());
  return registry().create<Interface>(name, resolved);
}

}  // namespace merx_test
