// The plugin host. Order of trust: a file is dlopen'ed (rtld_now, so unresolved symbols fail here), its C
// entry point returns a plain descriptor, and only a descriptor that passes every check below is kept;
// nothing C++ from the plugin is touched before that.
#include "merx/plugins/registry.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>
#include <torch/version.h>  // TORCH_VERSION only: merx_plugins gets torch's include dirs, not libtorch
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "merx/errors.h"
#include "merx/plugin_abi.h"

#ifndef MERX_INSTALL_PLUGIN_REL
#error "MERX_INSTALL_PLUGIN_REL (e.g. \"lib/merx/plugins\") must be defined by the build"
#endif

namespace merx {

namespace detail {
/// An accepted plugin: its checked descriptor and the library that keeps `create`/`destroy` valid.
struct LoadedPlugin {
  PluginInfo info;
  std::shared_ptr<boost::dll::shared_library> library;
  merx_plugin_create_fn create = nullptr;
  merx_plugin_destroy_fn destroy = nullptr;
};
}  // namespace detail

namespace {

namespace fs = std::filesystem;

// Versions of the kinds' C++ interfaces this host was built with. They must equal kApiVersion in
// merx/backbone.h, merx/regularizer.h and merx/augmenter.h (pinned by tests/plugins); they are repeated
// here so that the host library does not include torch headers.
constexpr uint32_t kBackboneApi = 1;
constexpr uint32_t kRegularizerApi = 2;  // 2: diagnostics()
constexpr uint32_t kAugmenterApi = 3;  // 2: artifacts(), synthetic domain; 3: channels, synthetic_loss_weight(), warnings()

// Fields of ABI 1.0 end with `destroy`; a shorter struct_size means a broken or foreign descriptor.
constexpr size_t kAbi10Size = offsetof(merx_plugin_descriptor, destroy) + sizeof(merx_plugin_destroy_fn);

/// A file that is not acceptable; what() is the reason, without the file.
struct Refusal : std::runtime_error {
  explicit Refusal(const std::string& why, std::optional<PluginKind> k = std::nullopt, std::string n = {})
      : std::runtime_error(why), kind(k), name(std::move(n)) {}
  std::optional<PluginKind> kind;
  std::string name;
};

std::string file_message(const fs::path& file, const std::string& what) {
  return "plugin " + file.string() + ": " + what;
}

fs::path normalise(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return (ec ? p : a).lexically_normal();
}

// Identity of a folder or file for de-duplication: resolves symlinks as far as the path exists.
std::string identity(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return (ec ? p : c).string();
}

bool valid_plugin_name(const char* s) {
  if (s == nullptr || *s == '\0') return false;
  for (; *s; ++s) {
    const char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// *.so or *.so.N[.N...]
bool looks_like_shared_object(const std::string& name) {
  const auto pos = name.rfind(".so");
  if (pos == std::string::npos || pos == 0) return false;
  const std::string rest = name.substr(pos + 3);
  if (rest.empty()) return true;
  if (rest[0] != '.' || rest.size() == 1) return false;
  return std::all_of(rest.begin() + 1, rest.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

std::string abi_text(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

/// Reads and checks one descriptor. Throws Refusal.
PluginInfo check_descriptor(const merx_plugin_descriptor* d, const fs::path& file) {
  const HostAbi host = host_abi();
  if (d == nullptr) throw Refusal("entry point returned no descriptor");
  // Header first: beyond it nothing can be read safely if the major differs.
  if (d->abi_major != host.abi_major)
    throw Refusal("plugin ABI " + abi_text(d->abi_major, d->abi_minor) + ", this merx expects " +
                  std::to_string(host.abi_major) + ".x");
  if (d->abi_minor > host.abi_minor)
    throw Refusal("plugin ABI " + abi_text(d->abi_major, d->abi_minor) + " is newer than this merx's " +
                  host.abi() + " (rebuild the plugin against this merx, or update merx)");
  if (d->struct_size < kAbi10Size)
    throw Refusal("descriptor of " + std::to_string(d->struct_size) + " bytes is smaller than ABI 1.0's " +
                  std::to_string(kAbi10Size));

  PluginInfo info;
  info.abi_major = d->abi_major;
  info.abi_minor = d->abi_minor;
  info.file = file;

  const auto kind = plugin_kind_from_string(d->kind ? d->kind : "");
  if (!kind)
    throw Refusal(std::string("unknown kind '") + (d->kind ? d->kind : "(null)") +
                  "' (expected backbone, regularizer or augmenter)");
  info.kind = *kind;
  if (!valid_plugin_name(d->name))
    throw Refusal(std::string("name '") + (d->name ? d->name : "(null)") + "' must match [a-z0-9_]+", kind);
  info.name = d->name;
  auto refuse = [&](const std::string& why) { return Refusal(why, kind, info.name); };

  info.torch_version = d->torch_version ? d->torch_version : "";
  if (info.torch_version != host.torch_version)
    throw refuse("built against LibTorch " + (d->torch_version ? info.torch_version : "(null)") +
                 ", this merx uses LibTorch " + host.torch_version);
  info.cxx11_abi = d->cxx11_abi;
  if (info.cxx11_abi != host.cxx11_abi)
    throw refuse("built with _GLIBCXX_USE_CXX11_ABI=" + std::to_string(info.cxx11_abi) +
                 ", this merx uses _GLIBCXX_USE_CXX11_ABI=" + std::to_string(host.cxx11_abi));
  info.api_version = d->api_version;
  if (info.api_version > host.api_version(info.kind))
    throw refuse(std::string(to_string(info.kind)) + " interface version " +
                 std::to_string(info.api_version) + " is newer than this merx's " +
                 std::to_string(host.api_version(info.kind)));
  if (d->version == nullptr || *d->version == '\0') throw refuse("empty version");
  info.version = d->version;
  info.description = d->description ? d->description : "";
  if (d->create == nullptr || d->destroy == nullptr)
    throw refuse("descriptor has no create/destroy function");

  if (d->params_json == nullptr) throw refuse("no parameter declarations (params_json is NULL; use \"[]\")");
  json decls;
  try {
    decls = json::parse(d->params_json);
  } catch (const std::exception& e) {
    throw refuse(std::string("parameter declarations are not valid JSON: ") + e.what());
  }
  if (!decls.is_array()) throw refuse("parameter declarations must be a JSON array");
  for (const auto& decl : decls) {
    const std::string pname = decl.is_object() && decl.contains("name") && decl["name"].is_string()
                                  ? decl["name"].get<std::string>()
                                  : std::string("?");
    try {
      info.params.push_back(decl_from_json(decl));
    } catch (const std::exception& e) {
      throw refuse("parameter '" + pname + "': malformed declaration: " + e.what());
    }
  }
  const auto problems = param_decl_problems(info.params);
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw refuse("inconsistent parameter declarations: " + all);
  }
  return info;
}

/// dlopen + entry point + checks. Throws Refusal; the library is released again on refusal.
std::shared_ptr<detail::LoadedPlugin> load_plugin(const fs::path& file) {
  auto lib = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  (void)dlerror();  // clear a stale message so that the one below belongs to this load
  lib->load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec || !lib->is_loaded()) {
    const char* why = dlerror();
    throw Refusal(std::string("cannot be loaded: ") + (why ? why : ec.message()));
  }
  if (!lib->has(MERX_PLUGIN_ENTRY_POINT))
    throw Refusal("no entry point `" MERX_PLUGIN_ENTRY_POINT "` (not a merx plugin)");
  auto& entry = lib->get<const merx_plugin_descriptor*()>(MERX_PLUGIN_ENTRY_POINT);
  const merx_plugin_descriptor* d = nullptr;
  try {
    d = entry();
  } catch (const std::exception& e) {
    throw Refusal(std::string("entry point threw: ") + e.what());
  } catch (...) {
    throw Refusal("entry point threw a non-standard exception");
  }
  auto p = std::make_shared<detail::LoadedPlugin>();
  p->info = check_descriptor(d, file);
  p->create = d->create;
  p->destroy = d->destroy;
  p->library = std::move(lib);
  return p;
}

// Optimal-string-alignment distance, for the did-you-mean of an unknown plugin name.
size_t osa_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> t(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) t[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) t[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      t[i][j] = std::min({t[i - 1][j] + 1, t[i][j - 1] + 1, t[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        t[i][j] = std::min(t[i][j], t[i - 2][j - 2] + 1);
    }
  return t[a.size()][b.size()];
}

enum class DirSource { Default, Environment, Extra };

}  // namespace

uint32_t HostAbi::api_version(PluginKind k) const {
  switch (k) {
    case PluginKind::Backbone:
      return kBackboneApi;
    case PluginKind::Regularizer:
      return kRegularizerApi;
    case PluginKind::Augmenter:
      return kAugmenterApi;
  }
  return 0;
}

std::string HostAbi::abi() const {
  return abi_text(abi_major, abi_minor);
}
std::string PluginInfo::abi() const {
  return abi_text(abi_major, abi_minor);
}

HostAbi host_abi() {
  HostAbi h;
  h.abi_major = MERX_PLUGIN_ABI_MAJOR;
  h.abi_minor = MERX_PLUGIN_ABI_MINOR;
  h.torch_version = TORCH_VERSION;
#ifdef _GLIBCXX_USE_CXX11_ABI
  h.cxx11_abi = _GLIBCXX_USE_CXX11_ABI;
#else
  h.cxx11_abi = -1;
#endif
  return h;
}

PluginRegistry::PluginRegistry() = default;
PluginRegistry::~PluginRegistry() = default;
PluginRegistry::PluginRegistry(PluginRegistry&&) noexcept = default;
PluginRegistry& PluginRegistry::operator=(PluginRegistry&&) noexcept = default;

std::vector<fs::path> PluginRegistry::default_dirs() {
  boost::dll::fs::error_code ec;
  const fs::path exe = boost::dll::program_location(ec);
  if (ec || exe.empty()) {
    spdlog::warn("cannot locate the merx executable ({}); default plugin folders are not searched",
                 ec.message());
    return {};
  }
  const fs::path prefix = exe.parent_path().parent_path();
  return {(prefix / "plugins").lexically_normal(), (prefix / MERX_INSTALL_PLUGIN_REL).lexically_normal()};
}

PluginInfo PluginRegistry::inspect_file(const fs::path& file) {
  const fs::path f = normalise(file);
  std::error_code ec;
  if (!fs::is_regular_file(f, ec)) throw UserError(file_message(f, "no such file"));
  try {
    return load_plugin(f)->info;
  } catch (const Refusal& r) {
    throw UserError(file_message(f, r.what()));
  }
}

PluginRegistry PluginRegistry::discover(const DiscoveryOptions& opts) {
  std::vector<std::pair<fs::path, DirSource>> wanted;
  if (opts.default_dirs)
    for (auto& d : default_dirs()) wanted.emplace_back(d, DirSource::Default);
  if (opts.environment) {
    if (const char* env = std::getenv("MERX_PLUGIN_PATH")) {
      std::stringstream ss(env);
      std::string item;
      while (std::getline(ss, item, ':'))
        if (!item.empty()) wanted.emplace_back(normalise(item), DirSource::Environment);
    }
  }
  for (const auto& d : opts.extra_dirs) {
    const fs::path p = normalise(d);
    std::error_code ec;
    if (!fs::exists(p, ec)) throw UserError("plugin folder " + p.string() + " does not exist");
    if (!fs::is_directory(p, ec))
      throw UserError("plugin folder " + p.string() + " is not a folder");
    wanted.emplace_back(p, DirSource::Extra);
  }

  PluginRegistry reg;
  std::set<std::string> seen_dirs, seen_files;
  for (const auto& [dir, source] : wanted) {
    if (!seen_dirs.insert(identity(dir)).second) continue;
    reg.dirs_.push_back(dir);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      if (source == DirSource::Environment)
        spdlog::warn("MERX_PLUGIN_PATH: {} is not a folder; skipped", dir.string());
      continue;
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code fec;
      if (looks_like_shared_object(it->path().filename().string()) && it->is_regular_file(fec))
        files.push_back(it->path().lexically_normal());
    }
    if (ec) spdlog::warn("cannot list plugin folder {}: {}", dir.string(), ec.message());
    std::sort(files.begin(), files.end());
    spdlog::debug("plugin folder {}: {} candidate file(s)", dir.string(), files.size());

    for (const auto& file : files) {
      if (!seen_files.insert(identity(file)).second) continue;  // same file reached through a symlink
      std::shared_ptr<detail::LoadedPlugin> p;
      try {
        p = load_plugin(file);
      } catch (const Refusal& r) {
        spdlog::warn("{}; skipped", file_message(file, r.what()));
        reg.refused_.push_back({file, r.what(), r.kind, r.name});
        continue;
      }
      for (const auto& q : reg.loaded_)
        if (q->info.kind == p->info.kind && q->info.name == p->info.name)
          throw UserError(std::string("two plugins are named ") + to_string(p->info.kind) + " '" +
                          p->info.name + "': " + q->info.file.string() + " and " + file.string() +
                          "; remove one of them or its folder from the plugin path");
      reg.loaded_.push_back(std::move(p));
    }
  }
  std::sort(reg.loaded_.begin(), reg.loaded_.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a->info.kind, a->info.name) < std::make_pair(b->info.kind, b->info.name);
  });
  return reg;
}

std::vector<PluginInfo> PluginRegistry::plugins(std::optional<PluginKind> kind) const {
  std::vector<PluginInfo> out;
  for (const auto& p : loaded_)
    if (!kind || p->info.kind == *kind) out.push_back(p->info);
  return out;
}

const PluginInfo* PluginRegistry::find(PluginKind kind, const std::string& name) const {
  for (const auto& p : loaded_)
    if (p->info.kind == kind && p->info.name == name) return &p->info;
  return nullptr;
}

const std::vector<RefusedPlugin>& PluginRegistry::refused() const {
  return refused_;
}
const std::vector<fs::path>& PluginRegistry::scanned_dirs() const {
  return dirs_;
}

RawPluginObject PluginRegistry::create_raw(PluginKind kind, const std::string& name,
                                           const json& resolved_params) const {
  const detail::LoadedPlugin* plugin = nullptr;
  for (const auto& p : loaded_)
    if (p->info.kind == kind && p->info.name == name) plugin = p.get();

  if (plugin == nullptr) {
    const std::string what = std::string(to_string(kind)) + " '" + name + "'";
    // A refused file of that name explains itself better than "unknown".
    const std::string stem = std::string("merx_") + to_string(kind) + "_" + name;
    for (const auto& r : refused_)
      if ((r.kind == kind && r.name == name) || r.file.stem().string() == stem)
        throw UserError(what + " was found but refused: " + file_message(r.file, r.reason));
    std::vector<std::string> names;
    for (const auto& p : loaded_)
      if (p->info.kind == kind) names.push_back(p->info.name);
    std::string msg = "unknown " + what;
    if (names.empty()) {
      msg += std::string("; no ") + to_string(kind) + " plugins were found in";
      for (const auto& d : dirs_) msg += " " + d.string();
      if (dirs_.empty()) msg += " (no folder)";
      throw UserError(msg);
    }
    std::string best;
    size_t best_d = 0;
    for (const auto& n : names) {
      const size_t dist = osa_distance(name, n);
      const size_t limit = std::max<size_t>(1, std::max(name.size(), n.size()) / 3);
      if (dist <= limit && (best.empty() || dist < best_d)) best = n, best_d = dist;
    }
    if (!best.empty()) msg += "; did you mean '" + best + "'?";
    msg += std::string(" (available ") + to_string(kind) + "s:";
    for (const auto& n : names) msg += " " + n;
    throw UserError(msg + ")");
  }

  const std::string text = resolved_params.dump(-1, ' ', false, json::error_handler_t::replace);
  std::vector<char> error(4096, '\0');
  void* object = plugin->create(text.c_str(), error.data(), error.size());
  if (object == nullptr) {
    error.back() = '\0';
    const std::string why = error[0] ? error.data() : "no message";
    throw UserError(file_message(plugin->info.file, "factory failed: " + why));
  }
  return {object, plugin->destroy, std::shared_ptr<void>(plugin->library)};
}

}  // namespace merx
