#include "merx/plugins/registry.h"

namespace merx {

const char* to_string(PluginKind k) {
  switch (k) {
    case PluginKind::Backbone:
      return "backbone";
    case PluginKind::Regularizer:
      return "regularizer";
    case PluginKind::Augmenter:
      return "augmenter";
  }
  return "?";
}

std::optional<PluginKind> plugin_kind_from_string(const std::string& s) {
  if (s == "backbone") return PluginKind::Backbone;
  if (s == "regularizer") return PluginKind::Regularizer;
  if (s == "augmenter") return PluginKind::Augmenter;
  return std::nullopt;
}

}  // namespace merx
