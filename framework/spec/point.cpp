// Validation of one sweep point: the plugins with their parameters, the recipe, training and labels.
#include <algorithm>
#include <set>

#include "merx/datasets/adapters.h"
#include "merx/datasets/labels.h"
#include "merx/hash.h"
#include "merx/suggest.h"
#include "spec/internal.h"

namespace merx::spec_internal {
namespace {

std::string plural(PluginKind k) {
  return std::string(to_string(k)) + "s";
}

// The .so file name a plugin of (kind, name) gets from merx_add_plugin, or that a user may have given it.
bool file_matches(const fs::path& file, PluginKind kind, const std::string& name) {
  std::string stem = file.filename().string();
  if (auto so = stem.find(".so"); so != std::string::npos) stem = stem.substr(0, so);
  if (stem.rfind("lib", 0) == 0 && stem != name) stem = stem.substr(3);
  return stem == name || stem == std::string("merx_") + to_string(kind) + "_" + name;
}

std::string unknown_plugin(const PluginCatalog& catalog, PluginKind kind, const std::string& name) {
  for (const auto& r : catalog.refused) {
    const bool same = (r.kind && *r.kind == kind && r.name == name) || file_matches(r.file, kind, name);
    if (same)
      return std::string(to_string(kind)) + " `" + name + "` was found in " + r.file.string() +
             " but refused: " + r.reason;
  }
  const auto names = catalog.names(kind);
  return "unknown " + std::string(to_string(kind)) + " `" + name + "`" + did_you_mean(name, names) + " (" +
         plural(kind) + ": " + backquoted_list(names) +
         "; a plugin of your own: its folder of .so files under `plugin_paths` or in $MERX_PLUGIN_PATH)";
}

// File-valued parameters (ParamDecl::file): resolved against the spec folder, required to exist, hashed.
void check_file_params(const PluginInfo& info, const std::string& key, PointContext& ctx, PluginRef& ref,
                       Findings& out) {
  for (const auto& d : info.params) {
    if (!d.file || !ref.params.contains(d.name) || !ref.params[d.name].is_string()) continue;
    const std::string given = ref.params[d.name].get<std::string>();
    if (given.empty()) continue;
    const std::string path = key + ".params." + d.name;
    const fs::path file = resolve_path(ctx.base_dir, given);
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      add_value(out, path, "file not found: " + file.string());
      continue;
    }
    if (!fs::is_regular_file(file, ec)) {
      add_value(out, path, "not a regular file: " + file.string());
      continue;
    }
    auto cached = ctx.sha_cache.find(file.string());
    if (cached == ctx.sha_cache.end()) {
      try {
        cached = ctx.sha_cache.emplace(file.string(), sha256_file(file)).first;
      } catch (const std::exception& e) {
        add_value(out, path, std::string("cannot be read: ") + e.what());
        continue;
      }
    }
    ref.params[d.name] = file.string();
    ref.file_sha256[d.name] = cached->second;
  }
}

const PluginInfo* check_plugin(const json& doc, PluginKind kind, PointContext& ctx, PluginRef& ref,
                               Findings& out) {
  const std::string key = to_string(kind);
  const bool required = kind == PluginKind::Backbone;
  ref.kind = kind;
  json block = json::object();
  if (auto it = doc.find(key); it != doc.end()) {
    block = *it;
  } else if (required) {
    add_value(out, key, "required field is missing (an object {\"name\": ..., \"params\": {...}})");
    return nullptr;
  }
  if (!expect_object(block, key, out)) return nullptr;
  check_keys(block, key, {"name", "params"}, key + " field", out);
  std::string name = "none";  // regularizer and augmenter default to `none` (ERM, no augmentation)
  if (block.contains("name") || required) {
    auto n = string_field(block, "name", key, true, out);
    if (!n) return nullptr;
    name = *n;
  }
  ref.name = name;
  const PluginInfo* info = ctx.catalog.find(kind, name);
  if (!info) {
    add_value(out, key + ".name", unknown_plugin(ctx.catalog, kind, name));
    return nullptr;
  }
  ref.version = info->version;
  ref.file = info->file;
  const json given = block.contains("params") ? block["params"] : json();
  ref.params = check_params_into(info->params, given, key + ".params", key + " `" + name + "`", out);
  ref.explicit_params = cast_params(info->params, given);
  check_file_params(*info, key, ctx, ref, out);
  return info;
}

bool check_recipe(const json& doc, RecipeRef& ref, Findings& out) {
  json block = json::object();
  if (auto it = doc.find("recipe"); it != doc.end()) block = *it;
  if (!expect_object(block, "recipe", out)) return false;
  check_keys(block, "recipe", {"name", "params"}, "recipe field", out);
  std::string name = kDefaultRecipe;
  if (block.contains("name")) {
    auto n = string_field(block, "name", "recipe", true, out);
    if (!n) return false;
    name = *n;
  }
  const RecipeInfo* info = find_recipe(name);
  if (!info) {
    std::vector<std::string> names;
    for (const auto& r : recipe_catalog()) names.push_back(r.name);
    add_value(out, "recipe.name",
              "unknown recipe `" + name + "`" + did_you_mean(name, names) +
                  " (recipes: " + backquoted_list(names) + ")");
    return false;
  }
  ref.name = name;
  const json given = block.contains("params") ? block["params"] : json();
  const size_t before = out.size();
  ref.params = check_params_into(info->params, given, "recipe.params", "recipe `" + name + "`", out);
  ref.explicit_params = cast_params(info->params, given);
  const int64_t s = ref.params.at("size").get<int64_t>();
  ref.shape = {info->channels, s, s};
  return out.size() == before;
}

// A recipe reads frames or precomputed flow images; every dataset must give what it reads.
void check_recipe_input(const RecipeRef& recipe, const PointContext& ctx, Findings& out) {
  const RecipeInfo* info = find_recipe(recipe.name);
  for (const auto& [dataset, adapter] : ctx.adapters) {
    const AdapterInfo* a = find_adapter(adapter);
    if (!a || !info || a->input == info->input) continue;
    add_value(out, "recipe.name",
              info->input == "flow_images"
                  ? "recipe `" + recipe.name + "` reads precomputed flow images, but dataset `" + dataset +
                        "` (adapter `" + adapter +
                        "`) has frames; use the adapter `flow_images` for it, or a "
                        "frame recipe (flow_strain, flow_uv, apex_gray, onset_apex)"
                  : "recipe `" + recipe.name + "` reads frames, but dataset `" + dataset + "` (adapter `" +
                        adapter + "`) has precomputed flow images; use the recipe `flow_images`");
  }
}

// A backbone that declares `channels` / `size` must agree with the tensors the recipe makes.
void check_backbone_shape(const PluginInfo& info, const PluginRef& bb, const RecipeRef& recipe,
                          Findings& out) {
  const std::string shape = "[" + std::to_string(recipe.shape[0]) + ", " + std::to_string(recipe.shape[1]) +
                            ", " + std::to_string(recipe.shape[2]) + "]";
  auto check = [&](const char* param, int64_t want) {
    bool declared = false;
    for (const auto& d : info.params) declared = declared || (d.name == param && d.type == ParamType::Int);
    if (!declared || !bb.params.contains(param) || !bb.params[param].is_number_integer()) return;
    const int64_t have = bb.params[param].get<int64_t>();
    if (have == want) return;
    add_value(out, std::string("backbone.params.") + param,
              "recipe `" + recipe.name + "` makes " + shape + " tensors, so `" + param + "` must be " +
                  std::to_string(want) + ", got " + std::to_string(have) +
                  (bb.explicit_params.contains(param) ? "" : " (the plugin's default)"));
  };
  check("channels", recipe.shape[0]);
  check("size", recipe.shape[1]);
}

bool check_training(const json& doc, PointContext& ctx, SweepPoint& pt, Findings& out) {
  json block = json::object();
  if (auto it = doc.find("training"); it != doc.end()) block = *it;
  if (!expect_object(block, "training", out)) block = json::object();
  const size_t before = out.size();
  pt.training_params = check_params_into(training_params(), block, "training", "`training`", out);
  json ex = cast_params(training_params(), block);
  for (const auto& n : training_params_outside_identity()) ex.erase(n);
  pt.training_explicit = ex;
  pt.training = TrainingSettings::from_json(pt.training_params);
  const TrainingSettings& t = pt.training;

  if (block.contains("epochs") && t.steps > 0)
    add_value(
        out, "training.steps",
        "set either `epochs` or `steps`, not both (steps = a fixed number of optimiser steps per cell)");
  if (t.steps == 0 && block.contains("eval_every"))
    add_warning(out, "training.eval_every", "only used with `steps`");
  if (t.steps > 0 && t.schedule == "step" && !block.contains("step_size"))
    add_value(out, "training.step_size",
              "with `steps`, step_size counts optimiser steps between decays: set it explicitly");
  if (t.schedule != "step")
    for (const char* k : {"step_size", "gamma"})
      if (block.contains(k)) add_warning(out, std::string("training.") + k, "only used with schedule `step`");
  if (t.optimizer != "sgd" && block.contains("momentum"))
    add_warning(out, "training.momentum", "only used by optimizer `sgd`");
  if (t.selection != "source_val" && block.contains("val_fraction"))
    add_warning(out, "training.val_fraction", "only used with selection `source_val`");
  if (t.selection == "oracle")
    add_warning(out, "training.selection",
                "`oracle` selects checkpoints on test labels: results are stored with selection='oracle' and "
                "never ranked with the others");
  if (t.selection == "loo_source" && ctx.min_train_datasets > 0 && ctx.min_train_datasets < 3)
    add_value(out, "training.selection",
              "`loo_source` needs at least 3 source datasets in every fold; fold `" + ctx.min_train_fold +
                  "` trains on " + std::to_string(ctx.min_train_datasets));
  return out.size() == before;
}

bool check_labels(const json& doc, PointContext& ctx, LabelSettings& ls, json& content, Findings& out) {
  json block = json::object();
  if (auto it = doc.find("labels"); it != doc.end()) block = *it;
  content = json::object();
  if (!expect_object(block, "labels", out)) return false;
  const size_t before = out.size();
  check_keys(block, "labels", {"name", "map", "membership", "unmapped"}, "labels field", out);
  if (block.contains("name")) {
    if (auto n = string_field(block, "name", "labels", true, out)) {
      std::vector<std::string> names;
      for (const auto& m : label_mapping_catalog()) names.push_back(m.name);
      if (const LabelMappingInfo* info = find_label_mapping(*n)) {
        ls.name = *n;
        ls.classes = info->classes;
        // megc3 follows per-corpus MEGC2019 rules; a corpus without rules would silently lose every clip.
        if (ls.name == "megc3")
          for (const auto& [dataset, adapter] : ctx.adapters)
            if (!megc3_defined(adapter))
              add_value(out, "labels.name",
                        "`megc3` has no rules for adapter `" + adapter + "` (dataset `" + dataset +
                            "`); use `custom` labels with a `map` for it");
      } else {
        add_value(out, "labels.name",
                  "unknown label mapping `" + *n + "`" + did_you_mean(*n, names) +
                      " (mappings: " + backquoted_list(names) + ")");
      }
    }
  }
  content["name"] = ls.name;

  auto map = block.find("map");
  if (ls.name == "custom") {
    if (map == block.end()) {
      add_value(out, "labels.map", "required with `custom` labels (an object: native label -> class name)");
    } else if (!map->is_object() || map->empty()) {
      add_value(out, "labels.map",
                map->is_object() ? "must map at least one label"
                                 : type_message("an object of label -> class", *map));
    } else {
      std::set<std::string> classes;
      for (auto e = map->begin(); e != map->end(); ++e) {
        if (!e->is_string() || e->get<std::string>().empty()) {
          add_value(out, path_key("labels.map", e.key()), type_message("a class name", *e));
          continue;
        }
        ls.map[e.key()] = e->get<std::string>();
        classes.insert(e->get<std::string>());
      }
      ls.classes.assign(classes.begin(), classes.end());
      content["map"] = *map;
    }
  } else if (map != block.end()) {
    add_value(out, "labels.map", "only used with `\"name\": \"custom\"` (this spec uses `" + ls.name + "`)");
  }

  if (auto m = string_field(block, "membership", "labels", false, out)) {
    ls.membership = resolve_path(ctx.base_dir, *m);
    std::error_code ec;
    if (!fs::is_regular_file(ls.membership, ec)) {
      add_value(out, "labels.membership", "file not found: " + ls.membership.string());
    } else {
      auto cached = ctx.sha_cache.find(ls.membership.string());
      if (cached == ctx.sha_cache.end()) {
        try {
          cached = ctx.sha_cache.emplace(ls.membership.string(), sha256_file(ls.membership)).first;
        } catch (const std::exception& e) {
          add_value(out, "labels.membership", std::string("cannot be read: ") + e.what());
        }
      }
      if (cached != ctx.sha_cache.end()) {
        ls.membership_sha256 = cached->second;
        content["membership_sha256"] = ls.membership_sha256;  // the file's content, never its path
      }
    }
  }
  if (block.contains("unmapped")) {
    if (auto u = string_field(block, "unmapped", "labels", true, out)) {
      if (*u != "drop" && *u != "error")
        add_value(out, "labels.unmapped",
                  "`" + *u + "` is not one of `drop`, `error`" + did_you_mean(*u, {"drop", "error"}));
      else
        ls.unmapped = *u;
      content["unmapped"] = ls.unmapped;
    }
  }
  return out.size() == before;
}

json plugin_content(const PluginRef& r) {
  json params = r.explicit_params;
  for (const auto& [name, sha] : r.file_sha256) params[name] = {{"sha256", sha}};  // content, never path
  return {{"name", r.name}, {"version", r.version}, {"params", params}};
}

}  // namespace

bool check_point(const json& doc, PointContext& ctx, SweepPoint& pt, Findings& out) {
  const size_t errors_before =
      std::count_if(out.begin(), out.end(), [](const Finding& f) { return !f.warning; });
  const PluginInfo* bb = check_plugin(doc, PluginKind::Backbone, ctx, pt.backbone, out);
  check_plugin(doc, PluginKind::Regularizer, ctx, pt.regularizer, out);
  check_plugin(doc, PluginKind::Augmenter, ctx, pt.augmenter, out);
  const bool recipe_ok = check_recipe(doc, pt.recipe, out);
  if (recipe_ok) check_recipe_input(pt.recipe, ctx, out);
  if (bb && recipe_ok) check_backbone_shape(*bb, pt.backbone, pt.recipe, out);
  check_training(doc, ctx, pt, out);
  json labels;
  check_labels(doc, ctx, pt.labels, labels, out);

  // Names are always present (resolved: a default plugin or recipe is part of what ran); parameters only
  // when set explicitly, cast to their declared types.
  pt.content = {{"plugins",
                 {{"backbone", plugin_content(pt.backbone)},
                  {"regularizer", plugin_content(pt.regularizer)},
                  {"augmenter", plugin_content(pt.augmenter)}}},
                {"recipe", {{"name", pt.recipe.name}, {"params", pt.recipe.explicit_params}}},
                {"training", pt.training_explicit},
                {"labels", labels}};
  pt.hash = sha256_hex(canonical_json(pt.content));
  const size_t errors_after =
      std::count_if(out.begin(), out.end(), [](const Finding& f) { return !f.warning; });
  return errors_after == errors_before;
}

}  // namespace merx::spec_internal
