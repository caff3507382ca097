// `merx plugins [--kind K] [--json] [--path DIR]...`: what the plugin host found, with parameters.
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
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
  const PluginRegistry reg = PluginRegistry::discover(opts);
  const auto found = reg.plugins(kind);

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
  Table t({"KIND", "NAME", "VERSION", "ABI", "DESCRIPTION", "FILE"});
  for (const auto& p : found)
    t.add({to_string(p.kind), p.name, p.version, std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor),
           p.description, p.file.string()});
  t.print(std::cout);
  for (const auto& p : found) {
    if (p.params.empty()) continue;
    std::cout << "\n" << to_string(p.kind) << " " << p.name << " parameters:\n";
    Table pt({"NAME", "TYPE", "DEFAULT", "RANGE", "SEARCH", "DOC"});
    for (const auto& d : p.params)
      pt.add({d.name, to_string(d.type), d.default_value.dump(), range_text(d), search_text(d.search), d.doc});
    pt.print(std::cout, "  ");
  }
  return 0;
}

}  // namespace

void add_plugins_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("plugins", "List the backbone, regularizer and augmenter plugins merx can load");
  auto kind = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--kind", *kind, "Only this kind: backbone, regularizer or augmenter");
  cmd->add_flag("--json", *as_json, "Machine-readable output (JSON array)");
  cmd->add_option("--path", *paths, "Extra plugin folder to search (repeatable; also $MERX_PLUGIN_PATH)");
  cmd->callback([&action, kind, as_json, paths] { action = [=] { return run(*kind, *as_json, *paths); }; });
}

}  // namespace merx::cli
