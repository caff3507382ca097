// The plugin host: discovery, descriptor checks, loading (Boost.DLL, rtld_now) and object lifetime.
//
// Discovery order (first folder first; see PluginRegistry::default_dirs()):
//   1. the build's plugin folder  <dir of the merx executable>/../plugins
//   2. the install folder         <dir of the merx executable>/../lib/merx/plugins
//   3. $MERX_PLUGIN_PATH          ':'-separated folders (empty entries ignored, missing ones warned about)
//   4. the spec's `plugin_paths`  (DiscoveryOptions::extra_dirs; a missing one is a UserError)
// A folder listed twice is scanned once. Every regular file named *.so (or *.so.N) in those folders (not
// recursive; sorted by name) is opened with rtld_now | rtld_local, so a missing symbol is a load error
// here, never a crash at first call. A file that cannot be loaded, lacks the entry point, or whose
// descriptor is refused (see inspect_file) is skipped with a spdlog warning naming the file (and both
// versions for a mismatch); it is remembered in refused() so that a spec naming it gets an explanation
// instead of "unknown plugin". Two loadable plugins with the same (kind, name) -> UserError naming both
// files.
//
// Every error message that concerns one file has the shape "plugin <absolute file>: <reason>", e.g.
//   plugin /opt/merx/lib/merx/plugins/merx_backbone_x.so: plugin ABI 2.0, this merx expects 1.x
//
// Lifetime: a library stays loaded while the registry or any object created from it lives; objects may
// outlive the registry (each object's deleter holds its library). Libraries are never unloaded while an
// object from them lives. (glibc may keep a library mapped until exit anyway once one of its STB_GNU_UNIQUE
// symbols, which g++ emits for inline statics, has been bound; the host only promises not to unload early.)
// Only the object itself holds the library: things the object hands out whose code lives in the plugin
// (its child modules as shared_ptr, a custom autograd node in an output's graph) must not outlive it.
//
// Thread safety: discover()/inspect_file() may run concurrently with each other; a registry is immutable
// after discover(), so const members (create_raw, create, plugins, find) may be called from many threads.
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

const char* to_string(PluginKind k);  // "backbone", "regularizer", "augmenter"
/// nullopt for anything but the three names above (case-sensitive).
std::optional<PluginKind> plugin_kind_from_string(const std::string& s);

/// What this host accepts. A plugin is accepted when abi_major is equal, abi_minor is not greater, the
/// LibTorch version string and the C++ ABI flag are equal, and its api_version is not greater than
/// api_version(kind).
struct HostAbi {
  uint32_t abi_major = 0;     // MERX_PLUGIN_ABI_MAJOR
  uint32_t abi_minor = 0;     // MERX_PLUGIN_ABI_MINOR
  std::string torch_version;  // TORCH_VERSION of the LibTorch headers merx was built with
  int32_t cxx11_abi = -1;     // _GLIBCXX_USE_CXX11_ABI of merx's build
  /// Version of the kind's C++ interface (Backbone/Regularizer/Augmenter::kApiVersion).
  uint32_t api_version(PluginKind k) const;
  std::string abi() const;  // "<major>.<minor>", e.g. "1.0"
};
HostAbi host_abi();

/// A plugin's checked descriptor, copied out of its library.
struct PluginInfo {
  PluginKind kind = PluginKind::Backbone;
  std::string name;
  std::string version;
  std::string description;  // "" when the plugin gave none
  std::vector<ParamDecl> params;
  uint32_t abi_major = 0, abi_minor = 0, api_version = 0;
  std::string torch_version;
  int32_t cxx11_abi = -1;
  std::filesystem::path file;  // absolute, normalised path of the .so

  std::string abi() const;  // "<abi_major>.<abi_minor>", e.g. "1.0" (what `merx plugins` prints as "abi")
};

/// A file that was found but not accepted, with the reason (also logged as a warning).
struct RefusedPlugin {
  std::filesystem::path file;      // absolute, normalised
  std::string reason;              // without the "plugin <file>: " prefix
  std::optional<PluginKind> kind;  // known when the descriptor could be read that far
  std::string name;                // "" when unknown
};

struct DiscoveryOptions {
  bool default_dirs = true;  // build + install folders next to the executable
  bool environment = true;   // $MERX_PLUGIN_PATH
  // E.g. the spec's plugin_paths; a missing folder -> UserError.
  std::vector<std::filesystem::path> extra_dirs;
};

/// An object constructed by a plugin, not yet typed; use PluginRegistry::create<T>().
/// `object` must be released with `destroy` while `library` is still held.
struct RawPluginObject {
  void* object = nullptr;
  void (*destroy)(void*) = nullptr;
  std::shared_ptr<void> library;  // keeps the .so loaded
};

/// Self-consistency problems of parameter declarations, one message per problem, each naming the parameter
/// ("parameter 'width': default 0 is below min 1"). Checks: name non-empty, [A-Za-z0-9_]+ and unique;
/// default of the declared type; min <= max, only on int/float; default within [min, max]; choices only on
/// strings and the default among them; search distribution fits the type and stays within min/max/choices.
/// Empty = consistent. Used on every plugin's declarations; usable for the framework's own ones.
std::vector<std::string> param_decl_problems(const std::vector<ParamDecl>& decls);

namespace detail {
struct LoadedPlugin;
}

class PluginRegistry {
 public:
  /// Scans the folders of `opts` (see the top of this file). Throws UserError on duplicate (kind, name),
  /// naming both files, and on an extra folder that does not exist or is not a folder. Unloadable or
  /// refused files never throw: they are warned about and listed in refused().
  static PluginRegistry discover(const DiscoveryOptions& opts = {});

  /// Loads and checks exactly one file (no folder scan), then releases it. Throws UserError
  /// "plugin <file>: <reason>" when the file is missing, cannot be loaded (e.g. an undefined symbol),
  /// has no entry point, or its descriptor is refused (used by tests and `merx plugins --file`).
  static PluginInfo inspect_file(const std::filesystem::path& file);

  /// The folders discover() scans with default options and $MERX_PLUGIN_PATH unset, in order (existing or
  /// not): <exe dir>/../plugins, <exe dir>/../lib/merx/plugins (normalised, absolute).
  static std::vector<std::filesystem::path> default_dirs();

  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(PluginRegistry&&) noexcept;
  PluginRegistry& operator=(PluginRegistry&&) noexcept;

  /// Accepted plugins sorted by (kind, name).
  std::vector<PluginInfo> plugins(std::optional<PluginKind> kind = std::nullopt) const;
  /// nullptr when absent; the pointer lives as long as the registry.
  const PluginInfo* find(PluginKind kind, const std::string& name) const;
  /// Files skipped during discovery, in scan order.
  const std::vector<RefusedPlugin>& refused() const;
  /// The folders discover() looked at, in order, after de-duplication (existing or not).
  const std::vector<std::filesystem::path>& scanned_dirs() const;

  /// Constructs an object. `resolved_params` must already be validated with defaults filled (see
  /// spec/params_check.h); it is passed verbatim as JSON text. Throws UserError for an unknown plugin
  /// (listing the available names of that kind, with a did-you-mean, or the refusal reason when a file of
  /// that name was refused), and UserError "plugin <file>: factory failed: <message>" when the plugin's
  /// factory returns NULL (its constructor threw).
  RawPluginObject create_raw(PluginKind kind, const std::string& name, const json& resolved_params) const;

  /// Typed construction: T is merx::Backbone, merx::Regularizer or merx::Augmenter (include its header).
  /// The returned object keeps its library loaded; it may outlive the registry. Throws as create_raw().
  template <class T>
  std::shared_ptr<T> create(const std::string& name, const json& resolved_params) const {
    RawPluginObject raw = create_raw(*plugin_kind_from_string(T::kKind), name, resolved_params);
    auto destroy = raw.destroy;
    auto lib = raw.library;
    // Typed from the start so that enable_shared_from_this (torch::nn::Module) is wired up. The deleter
    // destroys the object before its copy of `lib` goes, so the vtable is still mapped.
    return std::shared_ptr<T>(static_cast<T*>(raw.object),
                              [destroy, lib](T* p) { destroy(static_cast<void*>(p)); });
  }

 private:
  std::vector<std::shared_ptr<detail::LoadedPlugin>> loaded_;  // sorted by (kind, name)
  std::vector<RefusedPlugin> refused_;
  std::vector<std::filesystem::path> dirs_;
};

}  // namespace merx
