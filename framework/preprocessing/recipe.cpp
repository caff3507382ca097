// RecipeConfig: the declared recipe parameters (framework/spec/settings.cpp) read by name, plus the fixed
// internal settings, all serialised for the cache key.
#include "merx/preprocessing/recipe.h"

#include "merx/errors.h"

namespace merx::prep {

json Tvl1Params::to_json() const {
  return {{"tau", tau},
          {"lambda", lambda},
          {"theta", theta},
          {"epsilon", epsilon},
          {"scale_step", scale_step},
          {"gamma", gamma},
          {"nscales", nscales},
          {"warps", warps},
          {"inner_iterations", inner_iterations},
          {"outer_iterations", outer_iterations},
          {"median_filtering", median_filtering}};
}

json FarnebackParams::to_json() const {
  return {{"pyr_scale", pyr_scale}, {"poly_sigma", poly_sigma}, {"levels", levels},
          {"winsize", winsize},     {"iterations", iterations}, {"poly_n", poly_n}};
}

namespace {

template <typename T>
T get(const json& resolved, const std::string& recipe, const char* name) {
  if (!resolved.is_object() || !resolved.contains(name))
    throw UserError("recipe `" + recipe + "`: parameter `" + name + "` missing from the resolved parameters");
  try {
    return resolved.at(name).get<T>();
  } catch (const json::exception&) {
    throw UserError("recipe `" + recipe + "`: parameter `" + name + "` has the wrong type");
  }
}

}  // namespace

RecipeConfig RecipeConfig::from_params(const std::string& recipe, const json& resolved) {
  RecipeConfig c;
  c.recipe = recipe;
  if (recipe != "flow_strain" && recipe != "flow_uv" && recipe != "apex_gray" && recipe != "onset_apex" &&
      recipe != "flow_images")
    throw UserError("unknown recipe `" + recipe +
                    "` (flow_strain, flow_uv, apex_gray, onset_apex, flow_images)");
  c.size = static_cast<int>(get<int64_t>(resolved, recipe, "size"));
  c.normalisation = get<std::string>(resolved, recipe, "normalisation");
  if (c.precomputed()) {
    c.scale = get<std::string>(resolved, recipe, "scale");
    c.channel_order = get<std::string>(resolved, recipe, "channel_order");
    if (c.scale != "unit" && c.scale != "signed")
      throw UserError("recipe `flow_images`: scale `" + c.scale + "` is not unit or signed");
    if (c.channel_order != "rgb" && c.channel_order != "bgr")
      throw UserError("recipe `flow_images`: channel_order `" + c.channel_order + "` is not rgb or bgr");
    return c;
  }
  c.detector = get<std::string>(resolved, recipe, "detector");
  if (c.uses_flow()) {
    c.flow_size = static_cast<int>(get<int64_t>(resolved, recipe, "flow_size"));
    c.flow = get<std::string>(resolved, recipe, "flow");
  } else if (resolved.contains("flow_size")) {
    c.flow_size = static_cast<int>(get<int64_t>(resolved, recipe, "flow_size"));
  }
  return c;
}

int RecipeConfig::channels() const {
  if (recipe == "flow_strain" || recipe == "flow_images") return 3;
  if (recipe == "flow_uv" || recipe == "onset_apex") return 2;
  if (recipe == "apex_gray") return 1;
  throw UserError("unknown recipe `" + recipe + "`");
}

json RecipeConfig::to_json() const {
  json j = {{"version", kRecipeVersion},
            {"recipe", recipe},
            {"size", size},
            {"flow_size", flow_size},
            {"normalisation", normalisation},
            {"detector", detector},
            {"eye_distance", eye_distance},
            {"eye_height", eye_height}};
  // The flow settings only matter where flow is computed (flow recipes, and apex estimation for all).
  j["flow"] = flow;
  j["tvl1"] = tvl1.to_json();
  j["farneback"] = farneback.to_json();
  if (precomputed()) {  // added for this recipe only: every other recipe's key stays as it was
    j["scale"] = scale;
    j["channel_order"] = channel_order;
  }
  return j;
}

}  // namespace merx::prep
