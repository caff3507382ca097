// The plan as JSON (`merx plan --format json`) and as a short text summary.
#include <sstream>

#include "merx/spec/plan.h"

namespace merx {
namespace {

json plugin_json(const PluginRef& r) {
  return {{"name", r.name},
          {"version", r.version},
          {"file", r.file.string()},
          {"explicit_params", r.explicit_params},
          {"params", r.params}};
}

json labels_json(const LabelSettings& l) {
  json j = {{"name", l.name}, {"unmapped", l.unmapped}, {"classes", l.classes}};
  if (!l.map.empty()) j["map"] = l.map;
  if (!l.membership.empty()) {
    j["membership"] = l.membership.string();
    j["membership_sha256"] = l.membership_sha256;
  }
  return j;
}

}  // namespace

json plan_to_json(const Plan& plan) {
  json j;
  j["name"] = plan.name;
  j["description"] = plan.description;
  j["spec_file"] = plan.spec_file.string();
  j["spec_hash"] = plan.spec_hash;
  j["output"] = plan.output.string();
  j["save_models"] = plan.save_models;
  j["plugin_paths"] = json::array();
  for (const auto& p : plan.plugin_paths) j["plugin_paths"].push_back(p.string());
  j["protocol"] = {{"name", plan.protocol.name}, {"params", plan.protocol.params}};
  j["datasets"] = json::array();
  for (const auto& d : plan.datasets) {
    j["datasets"].push_back({{"name", d.name},
                             {"adapter", d.adapter},
                             {"root", d.root.string()},
                             {"annotations", d.annotations.string()},
                             {"annotations_sha256", d.annotations_sha256},
                             {"options", d.options}});
    if (!d.counterfactual_of.empty()) j["datasets"].back()["counterfactual_of"] = d.counterfactual_of;
  }
  j["data_version"] = plan.data_version;
  j["seeds"] = plan.seeds;
  j["points"] = json::array();
  for (const auto& p : plan.points) {
    j["points"].push_back({{"index", p.index},
                           {"variant", p.variant},
                           {"assignments", p.assignments},
                           {"draws", p.draws},
                           {"hash", p.hash},
                           {"backbone", plugin_json(p.backbone)},
                           {"regularizer", plugin_json(p.regularizer)},
                           {"augmenter", plugin_json(p.augmenter)},
                           {"recipe",
                            {{"name", p.recipe.name},
                             {"explicit_params", p.recipe.explicit_params},
                             {"params", p.recipe.params},
                             {"shape", p.recipe.shape}}},
                           {"training", p.training_params},
                           {"training_explicit", p.training_explicit},
                           {"labels", labels_json(p.labels)}});
  }
  j["folds"] = json::array();
  for (const auto& f : plan.folds) {
    json fj = {{"id", f.id}, {"train", f.train}, {"test", f.test}};
    if (!f.subject.empty()) fj["subject"] = f.subject;
    j["folds"].push_back(fj);
  }
  j["groups"] = json::array();
  for (const auto& g : plan.groups)
    j["groups"].push_back({{"identity", g.identity}, {"point", g.point}, {"seed", g.seed}});
  j["cells"] = json::array();
  for (const auto& c : plan.cells) {
    j["cells"].push_back({{"identity", c.identity},
                          {"group", c.group},
                          {"point", c.point},
                          {"fold", c.fold},
                          {"seed", c.seed},
                          {"cell_seed", c.cell_seed}});
  }
  json per_fold = json::object();
  for (const auto& [fold, n] : plan.summary.cells_per_fold) per_fold[fold] = n;
  j["summary"] = {{"cells", plan.summary.cells},  {"folds", plan.folds.size()},
                  {"points", plan.points.size()}, {"seeds", plan.seeds.size()},
                  {"cells_per_fold", per_fold},   {"cells_per_point", plan.summary.cells_per_point}};
  j["warnings"] = json::array();
  for (const auto& w : plan.warnings) j["warnings"].push_back({{"path", w.path}, {"message", w.message}});
  return j;
}

std::string plan_summary_text(const Plan& plan) {
  std::ostringstream s;
  auto n = [](size_t k, const char* one, const char* many) {
    return std::to_string(k) + " " + (k == 1 ? one : many);
  };
  s << plan.name << ": " << n(plan.folds.size(), "fold", "folds") << " x "
    << n(plan.points.size(), "sweep point", "sweep points") << " x " << n(plan.seeds.size(), "seed", "seeds")
    << " = " << n(plan.cells.size(), "cell", "cells") << " (protocol " << plan.protocol.name << ")\n";
  s << "  per fold:";
  for (const auto& [fold, k] : plan.summary.cells_per_fold) s << " " << fold << "=" << k;
  s << "\n";
  for (const auto& p : plan.points) {
    const std::string label = p.label();
    s << "  point " << p.index << ": " << (label.empty() ? "(base)" : label) << " -> "
      << plan.summary.cells_per_point[p.index] << " cells\n";
  }
  return s.str();
}

}  // namespace merx
