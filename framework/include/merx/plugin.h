// Plugin authoring: one macro that exports the C entry point of merx/plugin_abi.h for a C++ class.
//
//   #include <merx/backbone.h>
//   #include <merx/plugin.h>
//   struct MyNet : merx::Backbone { explicit MyNet(const merx::Params& p); ... };
//   MERX_PLUGIN(merx::Backbone, MyNet, "mynet", "1.0.0", "one-line description",
//               merx::ParamDecl::integer("width", 16).range(1, 1024).doc_line("channels of the first conv"))
// (arguments after the version: the description, then zero or more parameter declarations)
//
// The class needs a constructor taking `const merx::Params&` (parameters resolved and validated by the host).
// Exceptions thrown by the constructor are caught here and reported by the host as
// "plugin <file>: factory failed: <what()>"; they never cross the .so boundary.
// One MERX_PLUGIN per shared object.
#pragma once

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <torch/version.h>

#include "merx/params.h"
#include "merx/plugin_abi.h"

namespace merx::detail {
inline void write_error(char* buf, size_t len, const char* msg) {
  if (buf == nullptr || len == 0) return;
  std::snprintf(buf, len, "%s", msg ? msg : "unknown error");
}
/// Description and parameter declarations of one plugin, serialised once.
struct PluginText {
  std::string description;
  std::string params_json;
  template <class... Decls>
  explicit PluginText(const char* desc, Decls&&... decls)
      : description(desc), params_json(decls_to_json(std::vector<ParamDecl>{std::forward<Decls>(decls)...}).dump()) {}
};
#ifdef _GLIBCXX_USE_CXX11_ABI
inline constexpr int32_t kCxx11Abi = _GLIBCXX_USE_CXX11_ABI;
#else
inline constexpr int32_t kCxx11Abi = -1;
#endif
}  // namespace merx::detail

#define MERX_PLUGIN(Interface, Impl, NAME, VERSION, ...)                                                   \
  namespace {                                                                                          \
  void* merx_plugin_create_(const char* params_json, char* error, size_t error_len) {                 \
    try {                                                                                              \
      const ::merx::Params merx_params_ = ::merx::Params::parse(params_json);                         \
      Interface* object = new Impl(merx_params_);                                                      \
      return static_cast<void*>(object);                                                               \
    } catch (const std::exception& e) {                                                                \
      ::merx::detail::write_error(error, error_len, e.what());                                         \
    } catch (...) {                                                                                    \
      ::merx::detail::write_error(error, error_len, "non-standard exception");                         \
    }                                                                                                  \
    return nullptr;                                                                                    \
  }                                                                                                    \
  void merx_plugin_destroy_(void* object) { delete static_cast<Interface*>(object); }                  \
  }                                                                                                    \
  extern "C" __attribute__((visibility("default"))) const merx_plugin_descriptor* merx_plugin_entry(      \
      void) {                                                                                          \
    static const ::merx::detail::PluginText text(__VA_ARGS__);                                         \
    static const merx_plugin_descriptor d = {MERX_PLUGIN_ABI_MAJOR,                                    \
                                             MERX_PLUGIN_ABI_MINOR,                                    \
                                             static_cast<uint32_t>(sizeof(merx_plugin_descriptor)),    \
                                             0u,                                                       \
                                             Interface::kKind,                                         \
                                             NAME,                                                     \
                                             VERSION,                                                  \
                                             text.description.c_str(),                                 \
                                             text.params_json.c_str(),                                 \
                                             TORCH_VERSION,                                            \
                                             ::merx::detail::kCxx11Abi,                                \
                                             Interface::kApiVersion,                                   \
                                             &merx_plugin_create_,                                     \
                                             &merx_plugin_destroy_};                                   \
    return &d;                                                                                         \
  }
