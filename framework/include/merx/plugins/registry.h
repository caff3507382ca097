// The plugin host: discovery, descriptor checks, loading (Boost.DLL, rtld_now) and object lifetime.
//
// Discovery order (first folder first; see PluginRegistry::default_dirs()):
//   1. the build's plugin folder  <dir of the merx executable>/../plugins
//   2. the install folder         <dir of the merx executable>/../lib/merx/plugins
//   3. $MERX_PLUGIN_PATH          ':'-separated folders
//   4. the spec's `plugin_paths`  (DiscoveryOptions::extra_dirs)
// Every regular file named *.so (or *.so.N) in those folders (not recursive) is opened with rtld_now.
// A file that cannot be loaded, lacks the entry point, or whose descriptor is refused (ABI major differs,
// newer ABI minor, LibTorch version or C++ ABI flag differs, unknown kind, bad parameter declarations) is
// skipped with a warning naming the file (and both versions for a mismatch); it is remembered in
// refused() so that a spec naming it gets an explanation instead of "unknown plugin".
// Two loadable plugins with the same (kind, name) -> UserError naming both files.
//
// Lifetime: a library stays loaded while the registry or any object created from it lives; objects may
// outlive the registry (each object's deleter holds its library).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "merx/params.h"

namespace merx {

enum class PluginKind { Backbone, Regularizer, Augmenter };

const char* to_string(PluginKind k);                                 // "backbone", ...
std::optional<PluginKind> plugin_kind_from_string(const std::string& s);

/// A plugin's checked descriptor, copied out of its library.
struct PluginInfo {
  PluginKind kind = PluginKind::Backbone;
  std::string name;
  std::string version;
  std::string description;
  std::vector<ParamDecl> params;
  uint32_t abi_major = 0, abi_minor = 0, api_version = 0;
  std::string torch_version;
  int32_t cxx11_abi = -1;
  std::filesystem::path file;  // absolute path of the .so
};

/// A file that was found but not accepted, with the reason (also logged as a warning).
struct RefusedPlugin {
  std::filesystem::path file;
  std::string reason;
};

struct DiscoveryOptions {
  bool default_dirs = true;                      // build + install folders next to the executable
  bool environment = true;                       // $MERX_PLUGIN_PATH
  std::vector<std::filesystem::path> extra_dirs;  // e.g. the spec's plugin_paths (missing folder -> UserError)
};

/// An object constructed by a plugin, not yet typed; use PluginRegistry::create<T>().
struct RawPluginObject {
  void* object = nullptr;
  void (*destroy)(void*) = nullptr;
  std::shared_ptr<void> library;  // keeps the .so loaded
};

namespace detail {
struct LoadedPlugin;
}

class PluginRegistry {
 public:
  /// Scans the folders of `opts`. Throws UserError on duplicate (kind, name) naming both files, or on a
  /// missing extra folder.
  static PluginRegistry discover(const DiscoveryOptions& opts = {});

  /// Loads exactly one file (no folder scan). Throws UserError naming the file and the reason when it
  /// cannot be loaded or its descriptor is refused (used by tests and `merx plugins --file`).
  static PluginInfo inspect_file(const std::filesystem::path& file);

  /// The folders discover() would scan with default options, in order (existing or not).
  static std::vector<std::filesystem::path> default_dirs();

  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(PluginRegistry&&) noexcept;
  PluginRegistry& operator=(PluginRegistry&&) noexcept;

  /// Accepted plugins sorted by (kind, name).
  std::vector<PluginInfo> plugins(std::optional<PluginKind> kind = std::nullopt) const;
  const PluginInfo* find(PluginKind kind, const std::string& name) const;
  const std::vector<RefusedPlugin>& refused() const;
  const std::vector<std::filesystem::path>& scanned_dirs() const;

  /// Constructs an object. `resolved_params` must already be validated with defaults filled (see
  /// spec/params_check.h); it is passed verbatim. Throws UserError for an unknown plugin, and
  /// UserError "plugin <file>: factory failed: <message>" when the plugin's constructor throws.
  RawPluginObject create_raw(PluginKind kind, const std::string& name, const json& resolved_params) const;

  /// Typed construction: T is merx::Backbone, merx::Regularizer or merx::Augmenter (include its header).
  template <class T>
  std::shared_ptr<T> create(const std::string& name, const json& resolved_params) const {
    RawPluginObject raw = create_raw(*plugin_kind_from_string(T::kKind), name, resolved_params);
    auto destroy = raw.destroy;
    auto lib = raw.library;
    // Typed from the start so that enable_shared_from_this (torch::nn::Module) is wired up.
    return std::shared_ptr<T>(static_cast<T*>(raw.object), [destroy, lib](T* p) { destroy(static_cast<void*>(p)); });
  }

 private:
  std::vector<std::shared_ptr<detail::LoadedPlugin>> loaded_;
  std::vector<RefusedPlugin> refused_;
  std::vector<std::filesystem::path> dirs_;
};

}  // namespace merx
