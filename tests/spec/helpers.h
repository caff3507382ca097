// Shared fixtures of the spec tests: a hand-made plugin catalog (no plugin host needed), a temporary
// folder with three tiny datasets, and helpers to collect the problems of a spec.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "merx/errors.h"
#include "merx/spec/plan.h"
#include "merx/spec/spec.h"

namespace merx::test {

namespace fs = std::filesystem;
using json = nlohmann::json;

inline PluginInfo plugin(PluginKind kind, std::string name, std::string version,
                         std::vector<ParamDecl> params) {
  PluginInfo p;
  p.kind = kind;
  p.name = std::move(name);
  p.version = std::move(version);
  p.params = std::move(params);
  p.file = "/plugins/merx_" + std::string(to_string(kind)) + "_" + p.name + ".so";
  return p;
}

/// linear (as the real plugin declares it), none/none, a searchable regularizer `toyreg`, and a refused file.
inline PluginCatalog fake_catalog(const std::string& toyreg_version = "2.1.0") {
  PluginCatalog c;
  c.plugins.push_back(plugin(
      PluginKind::Backbone, "linear", "1.0.0",
      {ParamDecl::integer("channels", 3).range(1, 64), ParamDecl::integer("size", 28).range(4, 512),
       ParamDecl::integer("features", 64).range(1, 65536).search_as(Search::choice({16, 32, 64, 128}))}));
  c.plugins.push_back(plugin(PluginKind::Regularizer, "none", "1.0.0", {}));
  c.plugins.push_back(
      plugin(PluginKind::Regularizer, "toyreg", toyreg_version,
             {ParamDecl::real("lambda", 1.0).range(0, 100).search_as(Search::log10_uniform(-2, 1)),
              ParamDecl::real("beta", 0.1).range(0, 1).search_as(Search::log10_uniform(-3, 0, 0.5)),
              ParamDecl::integer("steps", 10).range(1, 1000).search_as(Search::int_uniform(1, 20)),
              ParamDecl::string("mode", "a").one_of({"a", "b", "c"}).search_as(Search::choice({"a", "b"})),
              ParamDecl::boolean("flag", false)}));
  c.plugins.push_back(plugin(PluginKind::Augmenter, "none", "1.0.0", {}));
  RefusedPlugin r;
  r.file = "/plugins/merx_regularizer_brl.so";
  r.reason = "plugin ABI 2.0, this merx expects 1.x";
  c.refused.push_back(r);
  return c;
}

/// A fresh folder under the system temp folder, removed first if it exists.
inline fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("merx-spec-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

/// Datasets a, b, c: <dir>/<n>/ with an annotations.csv whose content is "clips of <n>\n".
inline fs::path toy_datasets(const std::string& name) {
  const fs::path d = temp_dir(name);
  for (const char* n : {"a", "b", "c"}) {
    fs::create_directories(d / n / "frames");
    write_file(d / n / "annotations.csv", std::string("clips of ") + n + "\n");
  }
  return d;
}

/// A valid spec over the toy datasets (paths relative to the folder of toy_datasets()).
inline json base_spec() {
  return json::parse(R"({
    "name": "t",
    "datasets": [
      {"name": "a", "adapter": "manifest", "root": "a", "annotations": "a/annotations.csv"},
      {"name": "b", "adapter": "manifest", "root": "b", "annotations": "b/annotations.csv"},
      {"name": "c", "adapter": "manifest", "root": "c", "annotations": "c/annotations.csv"}
    ],
    "protocol": {"name": "lodo"},
    "backbone": {"name": "linear", "params": {"channels": 3, "size": 28}}
  })");
}

inline EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

inline Plan plan_of(const json& doc, const fs::path& dir, const std::vector<std::string>& sets = {},
                    const PlanOptions& options = {}, const PluginCatalog& catalog = fake_catalog()) {
  return make_plan(spec_from_json(doc, dir, sets, env_of({})), catalog, options);
}

/// The problems that loading + planning `doc` reports (empty when it plans fine).
inline std::vector<Problem> problems_of(const json& doc, const fs::path& dir,
                                        const std::vector<std::string>& sets = {},
                                        const EnvLookup& env = env_of({}), const PlanOptions& options = {}) {
  try {
    make_plan(spec_from_json(doc, dir, sets, env), fake_catalog(), options);
  } catch (const ValidationError& e) {
    return e.problems();
  }
  return {};
}

inline std::string dump(const std::vector<Problem>& ps) {
  std::string s;
  for (const auto& p : ps) s += "  [" + p.path + "] " + p.message + "\n";
  return s;
}

/// True when some problem sits exactly at `path` and its message contains `text`.
inline bool has_problem(const std::vector<Problem>& ps, const std::string& path,
                        const std::string& text = "") {
  for (const auto& p : ps)
    if (p.path == path && p.message.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace merx::test

/// Asserts that `problems` holds one at `path` whose message contains `text`, printing them all otherwise.
#define CHECK_PROBLEM(problems, path, text)          \
  do {                                               \
    const auto& ps_ = (problems);                    \
    INFO("problems:\n" << merx::test::dump(ps_));    \
    CHECK(merx::test::has_problem(ps_, path, text)); \
  } while (0)
