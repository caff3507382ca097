// `merx plugins [--kind K] [--json] [--path DIR]...`: what the plugin host found, with parameters.
// `merx plugins new --kind K --name N DIR`: a plugin project of one's own, from the examples in docs/examples/.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/plugin_templates.h"
#include "cli/table.h"
#include "merx/errors.h"
#include "merx/plugins/registry.h"

namespace merx::cli {
namespace {

std::string range_text(const ParamDecl& d) {
  if (!d.choices.empty()) {
    std::string s = "{";
    for (size_t i = 0; i < d.choices.size(); ++i) s += (i ? ", " : "") + d.choices[i];
    return s + "}";
  }
  if (!d.min && !d.max) return "";
  std::ostringstream o;
  auto num = [&](double v) {
    return d.type == ParamType::Int ? std::to_string(static_cast<int64_t>(v)) : json(v).dump();
  };
  o << "[" << (d.min ? num(*d.min) : "-inf") << ", " << (d.max ? num(*d.max) : "inf") << "]";
  return o.str();
}

std::string search_text(const Search& s) {
  std::ostringstream o;
  switch (s.kind) {
    case Search::Kind::None: return "";
    case Search::Kind::Uniform: o << "U(" << s.lo << ", " << s.hi << ")"; break;
    case Search::Kind::Log10Uniform:
      o << "10^U(" << s.lo << ", " << s.hi << ")";
      if (s.zero_prob > 0) o << " or 0 (p=" << s.zero_prob << ")";
      break;
    case Search::Kind::IntUniform: o << "U{" << s.lo << ".." << s.hi << "}"; break;
    case Search::Kind::Choice: o << "choice" << json(s.values).dump(); break;
  }
  return o.str();
}

json plugin_json(const PluginInfo& p) {
  json params = json::array();
  for (const auto& d : p.params) params.push_back(decl_to_json(d));
  return {{"name", p.name},
          {"kind", to_string(p.kind)},
          {"version", p.version},
          {"abi", std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor)},
          {"api_version", p.api_version},
          {"torch_version", p.torch_version},
          {"cxx11_abi", p.cxx11_abi},
          {"file", p.file.string()},
          {"description", p.description},
          {"params", params}};
}

int run(const std::string& kind_text, bool as_json, const std::vector<std::string>& paths) {
  std::optional<PluginKind> kind;
  if (!kind_text.empty()) {
    kind = plugin_kind_from_string(kind_text);
    if (!kind) throw UserError("--kind: '" + kind_text + "' is not a plugin kind (backbone, regularizer, augmenter)");
  }
  DiscoveryOptions opts;
  for (const auto& p : paths) opts.extra_dirs.emplace_back(p);
  for (const auto& p : paths)
    if (!std::filesystem::is_directory(p)) throw UserError("--path: '" + p + "' is not a folder");
  const PluginRegistry reg = PluginRegistry::discover(opts);
  const auto found = reg.plugins(kind);
  const auto all = reg.plugins();
  for (const auto& p : paths) {  // a folder that gave nothing is usually the wrong folder (build/ vs build/plugins)
    const auto dir = std::filesystem::weakly_canonical(p);
    const bool any = std::any_of(all.begin(), all.end(), [&](const PluginInfo& i) {
      return std::filesystem::weakly_canonical(i.file).parent_path() == dir;
    });
    if (!any) spdlog::warn("--path {}: no merx plugin there (merx_<kind>_<name>.so files, as merx_add_plugin builds them)", p);
  }

  if (as_json) {
    json out = json::array();
    for (const auto& p : found) out.push_back(plugin_json(p));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (found.empty()) {
    std::cout << "no plugins found; searched:\n";
    for (const auto& d : reg.scanned_dirs()) std::cout << "  " << d.string() << "\n";
    return 0;
  }
  // The folder once below the table, the file name per row: full paths made rows 300 characters wide.
  Table t({"KIND", "NAME", "VERSION", "ABI", "DESCRIPTION", "FILE"});
  t.wrap(4, 40);
  std::vector<std::string> folders;
  for (const auto& p : found) {
    t.add({to_string(p.kind), p.name, p.version, std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor),
           p.description, p.file.filename().string()});
    const std::string folder = p.file.parent_path().string();
    if (std::find(folders.begin(), folders.end(), folder) == folders.end()) folders.push_back(folder);
  }
  t.print(std::cout);
  std::cout << "\nloaded from " << (folders.size() == 1 ? "" : "the folders ");
  for (size_t i = 0; i < folders.size(); ++i) std::cout << (i ? ", " : "") << folders[i];
  std::cout << "\n";
  for (const auto& p : found) {
    if (p.params.empty()) continue;
    std::cout << "\n" << to_string(p.kind) << " " << p.name << " parameters:\n";
    Table pt({"NAME", "TYPE", "DEFAULT", "RANGE", "SEARCH", "DOC"});
    pt.wrap(5, 36);  // 36: rows stay within 125 columns with au_gan's longer parameter names
    for (const auto& d : p.params)
      pt.add({d.name, to_string(d.type), d.default_value.dump(), range_text(d), search_text(d.search), d.doc});
    pt.print(std::cout, "  ");
  }
  return 0;
}


// ---- merx plugins new ----

// Replaces every occurrence of `from` in one left-to-right pass (text already inserted is not rescanned).
std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string_view::npos; pos = hit + from.size())
    out.append(text.substr(pos, hit - pos)).append(to);
  return out.append(text.substr(pos));
}

std::string_view template_text(const std::string& path) {
  for (const auto& f : plugin_template_files())
    if (f.path == path) return f.text;
  throw std::logic_error("plugin template missing: " + path);
}

// "my_net" -> "MyNet": the C++ class name of a plugin called `name`.
std::string class_name(const std::string& name) {
  std::string out;
  bool up = true;
  for (char c : name) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

// Where the CMake package of this merx is, for the printed build command: an install tree
// (<prefix>/bin/merx) or a build tree (<build>/bin/merx next to <build>/merxConfig.cmake).
std::string cmake_hint() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "-DCMAKE_PREFIX_PATH=<merx install prefix>";
  const auto root = exe.parent_path().parent_path();
  if (std::filesystem::exists(root / "merxConfig.cmake")) return "-Dmerx_DIR=" + root.string();
  return "-DCMAKE_PREFIX_PATH=" + root.string();
}

int scaffold(const std::string& kind_text, const std::string& name, const std::string& dir_text) {
  const auto kind = plugin_kind_from_string(kind_text);
  if (!kind) throw UserError("--kind: '" + kind_text + "' is not a plugin kind (backbone, regularizer, augmenter)");
  const bool name_ok = !name.empty() && std::islower(static_cast<unsigned char>(name[0])) &&
                       name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
  if (!name_ok)
    throw UserError("--name: '" + name + "' is not a plugin name (a lower-case letter, then [a-z0-9_])");
  const std::filesystem::path dir(dir_text);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) &&
      (!std::filesystem::is_directory(dir, ec) || !std::filesystem::is_empty(dir, ec)))
    throw UserError(dir_text + ": exists and is not an empty folder (merx plugins new never overwrites files)");

  // The examples: mynet (backbone), myreg (regularizer), myaug (augmenter); the build files come from mynet.
  const std::string kind_name = to_string(*kind);
  const std::string example = *kind == PluginKind::Backbone ? "mynet" : *kind == PluginKind::Regularizer ? "myreg" : "myaug";
  const std::string example_class = *kind == PluginKind::Backbone ? "MyNet" : *kind == PluginKind::Regularizer ? "MyReg" : "MyAug";
  auto project_file = [&](const std::string& path) {
    return replace_all(replace_all(template_text(path), "backbone", kind_name), "mynet", name);
  };
  const std::vector<std::pair<std::string, std::string>> files = {
      {"CMakeLists.txt", project_file("mynet/CMakeLists.txt")},
      {"README.md", project_file("mynet/README.md")},
      {name + ".cpp", replace_all(replace_all(template_text(example + "/" + example + ".cpp"), example_class,
                                              class_name(name)),
                                  example, name)},
  };
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UserError(dir_text + ": cannot create the folder: " + ec.message());
  for (const auto& [file, text] : files) {
    std::ofstream out(dir / file, std::ios::binary);
    out << text;
    if (!out.flush()) throw UserError((dir / file).string() + ": cannot write");
    std::cout << "wrote " << (dir / file).string() << "\n";
  }
  // Commands that work when pasted: this merx by its full path (it is rarely on PATH in a checkout).
  std::error_code exe_ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", exe_ec);
  const std::string merx = exe_ec ? "merx" : exe.string();
  const std::string plugins = std::filesystem::absolute(dir).lexically_normal().string() + "/build/plugins";
  std::cout << "\nnext:\n"
            << "  cmake -S " << dir_text << " -B " << dir_text << "/build -G Ninja " << cmake_hint() << "\n"
            << "  cmake --build " << dir_text << "/build\n"
            << "  " << merx << " plugins --kind " << kind_name << " --path " << plugins << "\n"
            << "then use it in a spec:\n"
            << "  \"" << kind_name << "\": {\"name\": \"" << name << "\"},\n"
            << "  \"plugin_paths\": [\"" << plugins << "\"]\n";
  return 0;
}

}  // namespace

void add_plugins_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("plugins", "List the backbone, regularizer and augmenter plugins merx can load");
  auto kind = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--kind", *kind, "Only this kind: backbone, regularizer or augmenter");
  auto format = std::make_shared<std::string>("table");
  cmd->add_flag("--json", *as_json, "Machine-readable output (JSON array); the same as --format json");
  cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  cmd->add_option("--path", *paths, "Extra plugin folder to search (repeatable; also $MERX_PLUGIN_PATH)");
  cmd->callback([&action, kind, as_json, format, paths] {
    if (!action) action = [=] { return run(*kind, *as_json || *format == "json", *paths); };
  });

  auto* make = cmd->add_subcommand("new", "Write a new plugin project (CMakeLists.txt, README.md, <name>.cpp) to DIR");
  auto new_kind = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  make->add_option("--kind", *new_kind, "backbone, regularizer or augmenter")->required();
  make->add_option("--name", *name, "Plugin name, [a-z][a-z0-9_]* (what specs call it)")->required();
  make->add_option("DIR", *dir, "Folder to create (must not exist or be empty)")->required();
  make->callback([&action, new_kind, name, dir] { action = [=] { return scaffold(*new_kind, *name, *dir); }; });
}

}  // namespace merx::cli
