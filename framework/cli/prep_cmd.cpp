// `merx prep (SPEC | --spec SPEC | --adapter A --root R [--annotations F] [--options JSON]) [--recipe NAME]
//            [--cache DIR] [--jobs N] [--max-fail-rate 0.01] [--content-hash] [--allow-large]
//            [--export DIR [--force]]`:
// fills the feature cache (one entry per sample and recipe) with TBB across cores; prints a per-dataset summary
// (done, cached, fallback, failed) and exits 1 when the failed share exceeds --max-fail-rate. A sample fails
// with its reason when a frame is missing (the dataset is loaded leniently) or unreadable; an annotation
// file that cannot be read at all is a user error (exit 2). --export then writes the cached inputs of every
// sample that did not fail as DIR/inputs.npy + samples.csv + recipe.json (merx/preprocessing/export.h); it
// needs a single recipe (and, with a spec, a single label setting), and refuses a non-empty DIR without
// --force before any work is done. --allow-large: as for `merx validate` (a spec above the cell limit).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <unistd.h>
#include <opencv2/core/utility.hpp>

#include "cli/commands.h"
#include "cli/json_arg.h"
#include "cli/progress.h"
#include "cli/spec_common.h"
#include "cli/table.h"
#include "merx/datasets/load.h"
#include "merx/errors.h"
#include "merx/preprocessing/cache.h"
#include "merx/preprocessing/export.h"
#include "merx/spec/folds.h"
#include "merx/spec/params_check.h"
#include "merx/spec/settings.h"

namespace merx::cli {
namespace {

struct PrepArgs {
  std::string spec, adapter, root, annotations, options, recipe = kDefaultRecipe, cache, export_dir;
  int jobs = 0;
  double max_fail_rate = 0.01;
  bool content_hash = false, force = false;
  bool allow_large = false;  // --allow-large: a spec above kMaxPlanCells cells (merx/spec/plan.h)
};

// A recipe with its declared parameters, resolved (what recipe.json records as "params").
struct Recipe {
  prep::RecipeConfig config;
  json params;
};

struct Counts {
  std::atomic<size_t> done{0}, cached{0}, fallback{0}, failed{0};
};

Recipe recipe_config(const std::string& name, const json& explicit_params) {
  const RecipeInfo* info = find_recipe(name);
  if (!info)
    throw UserError("unknown recipe `" + name + "` (flow_strain, flow_uv, apex_gray, onset_apex, flow_images)");
  std::vector<Problem> problems;
  const json resolved =
      check_params(info->params, explicit_params, "recipe.params", "recipe `" + name + "`", problems);
  if (!problems.empty()) throw ValidationError(problems);
  return {prep::RecipeConfig::from_params(name, resolved), resolved};
}

// The class of every sample key under the spec's one label setting (mapping, membership list), read from
// the annotation sheets as the engine reads them; a key absent from the map has no class. UserError when
// the sweep points label differently: one export has one `label` column.
std::map<std::string, std::string> spec_labels(const Plan& plan) {
  const auto key = [](const LabelSettings& l) {
    return json{
        {"name", l.name}, {"map", l.map}, {"membership", l.membership_sha256}, {"unmapped", l.unmapped}}
        .dump();
  };
  for (const auto& p : plan.points)
    if (key(p.labels) != key(plan.points.front().labels))
      throw UserError("--export: the spec's sweep points use different label settings (" +
                      plan.points.front().label() + " and " + p.label() +
                      "); an export has one label column: export from a spec with one");
  SampleLoadOptions o;
  o.mode = LoadMode::Lenient;  // a clip problem fails that clip in the prep pass; here it only has no class
  o.frames = false;
  const LabelledSamples labelled = load_samples(plan, plan.points.front(), o);
  std::map<std::string, std::string> out;
  for (const auto& d : labelled.datasets)
    for (const auto& s : d.samples)
      if (s.label && labelled.class_index(*s.label) >= 0) out[s.key] = *s.label;
  return out;
}

// Streams the cache entries of the samples that did not fail into DIR, in dataset then sheet order.
void export_inputs(const PrepArgs& args, const prep::FeatureCache& cache, const Recipe& recipe,
                   const std::vector<LoadResult>& datasets, const std::vector<std::vector<char>>& cached_ok,
                   const std::optional<std::map<std::string, std::string>>& labels,
                   const std::vector<std::string>& left_out) {
  uint64_t n = 0;
  for (const auto& ok : cached_ok)
    for (const char c : ok) n += c ? 1 : 0;
  const prep::Preprocessor prep(recipe.config);
  prep::NumpyExport out(args.export_dir,
                        {recipe.config, recipe.params, recipe_channel_names(recipe.config.recipe)}, n);
  for (size_t d = 0; d < datasets.size(); ++d)
    for (size_t i = 0; i < datasets[d].samples.size(); ++i) {
      if (!cached_ok[d][i]) continue;
      const SampleRecord& s = datasets[d].samples[i];
      std::optional<std::string> label;
      if (labels)
        if (auto it = labels->find(s.key); it != labels->end()) label = it->second;
      out.add(s, label, cache.get(prep, s, nullptr, args.content_hash));  // a hit: stored just now
    }
  out.commit();
  if (!left_out.empty()) {
    std::string keys;
    for (const auto& k : left_out) keys += (keys.empty() ? "" : ", ") + k;
    spdlog::warn("not exported ({} failed sample{}): {}", left_out.size(), left_out.size() == 1 ? "" : "s",
                 keys);
  }
  const int c = recipe.config.channels(), sz = recipe.config.size;
  std::cout << "exported " << n << " sample" << (n == 1 ? "" : "s") << " to " << args.export_dir
            << ": inputs.npy [" << n << ", " << c << ", " << sz << ", " << sz
            << "] float32, samples.csv, recipe.json\n";
}

int run_prep(const PrepArgs& args) {
  const bool exporting = !args.export_dir.empty();
  if (args.force && !exporting) throw UserError("--force only applies to --export DIR");
  if (exporting) prep::check_export_dir(args.export_dir, args.force);  // before any work
  std::vector<DatasetSource> sources;
  std::vector<Recipe> recipes;
  std::optional<std::map<std::string, std::string>> labels;  // spec only: sample key -> class
  if (!args.spec.empty()) {
    SpecArgs sa;
    sa.file = args.spec;
    sa.allow_large = args.allow_large;
    const Plan plan = plan_from_args(sa);
    for (const auto& d : plan.datasets) sources.push_back(dataset_source(d));
    std::map<std::string, bool> seen;
    for (const auto& p : plan.points) {
      auto c = recipe_config(p.recipe.name, p.recipe.explicit_params);
      if (!seen[c.config.to_json().dump()]) {
        seen[c.config.to_json().dump()] = true;
        recipes.push_back(c);
      }
    }
    if (exporting && recipes.size() > 1) {
      std::string list;
      for (const auto& r : recipes)
        list += (list.empty() ? "" : "; ") + r.config.recipe + " " + r.params.dump();
      throw UserError("--export writes one recipe, the spec's sweep points use " +
                      std::to_string(recipes.size()) + " (" + list +
                      "): export from a spec with one recipe, or with --adapter and --recipe");
    }
    if (exporting) labels = spec_labels(plan);
  } else {
    if (args.adapter.empty() || args.root.empty())
      throw UserError("give SPEC (or --spec SPEC), or --adapter and --root");
    DatasetSource s;
    s.adapter = args.adapter;
    s.root = args.root;
    s.annotations = args.annotations;
    s.options = json_object_arg("--options", args.options);
    sources.push_back(s);
    recipes.push_back(recipe_config(args.recipe, json::object()));
  }

  const prep::FeatureCache cache(args.cache.empty() ? prep::default_cache_dir()
                                                    : std::filesystem::path(args.cache));
  const int jobs = args.jobs > 0 ? args.jobs : static_cast<int>(std::thread::hardware_concurrency());
  cv::setNumThreads(1);  // parallel over samples; OpenCV's own threads would oversubscribe the cores
  spdlog::info("cache {} ({} job{})", cache.root().string(), jobs, jobs == 1 ? "" : "s");

  Table summary({"DATASET", "RECIPE", "SAMPLES", "DONE", "CACHED", "FALLBACK", "FAILED"});
  size_t total = 0, failed_total = 0;
  tbb::task_arena arena(jobs);
  // For --export (one recipe): every dataset as loaded, and which of its samples are in the cache now.
  std::vector<LoadResult> datasets;
  std::vector<std::vector<char>> cached_ok;
  std::vector<std::string> left_out;  // keys of the samples that failed
  for (const auto& src : sources) {
    // Lenient: a clip whose frames are missing fails on its own (counted, with its reason) instead of
    // stopping the run; a sheet that cannot be read at all is still a user error (exit 2).
    LoadOptions load_options;
    load_options.mode = LoadMode::Lenient;
    LoadResult loaded = load_dataset(src, load_options);
    std::vector<char> ok(loaded.samples.size(), 0);
    for (const auto& d : loaded.dropped) left_out.push_back(d.key);
    for (const auto& [config, params] : recipes) {
      const prep::Preprocessor prep(config);
      Counts counts;
      Progress progress(loaded.samples.size(), "prep", "samples");
      std::mutex fail_mutex;
      std::vector<std::string> failures;
      for (const auto& d : loaded.dropped) failures.push_back(d.key + ": " + d.reason);
      counts.failed = loaded.dropped.size();
      arena.execute([&] {
        tbb::parallel_for(size_t(0), loaded.samples.size(), [&](size_t i) {
          try {
            prep::CacheOutcome outcome{};
            const auto r = cache.get(prep, loaded.samples[i], &outcome, args.content_hash);
            ++(outcome == prep::CacheOutcome::Hit ? counts.cached : counts.done);
            if (r.face_fallback) ++counts.fallback;
            ok[i] = 1;
          } catch (const std::exception& e) {
            ++counts.failed;
            std::lock_guard<std::mutex> lock(fail_mutex);
            failures.push_back(e.what());
          }
          progress.tick();
        });
      });
      for (const auto& f : failures) spdlog::warn("failed: {}", f);
      const size_t samples = loaded.samples.size() + loaded.dropped.size();
      summary.add({loaded.dataset, config.recipe, std::to_string(samples),
                   std::to_string(counts.done), std::to_string(counts.cached),
                   std::to_string(counts.fallback), std::to_string(counts.failed)});
      total += samples;
      failed_total += counts.failed;
    }
    if (exporting) {
      for (size_t i = 0; i < ok.size(); ++i)
        if (!ok[i]) left_out.push_back(loaded.samples[i].key);
      datasets.push_back(std::move(loaded));
      cached_ok.push_back(std::move(ok));
    }
  }
  summary.print(std::cout);
  std::cout << "(DONE computed now, CACHED read from the cache, FALLBACK no face found: a centred crop was used)\n";
  const double rate = total ? static_cast<double>(failed_total) / total : 0.0;
  if (rate > args.max_fail_rate) {
    spdlog::error("{} of {} samples failed ({:.1f} % > --max-fail-rate {:.1f} %){}", failed_total, total,
                  100 * rate, 100 * args.max_fail_rate, exporting ? "; nothing exported" : "");
    return 1;
  }
  if (exporting) export_inputs(args, cache, recipes.front(), datasets, cached_ok, labels, left_out);
  return 0;
}

}  // namespace

void add_prep_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<PrepArgs>();
  auto* cmd = app.add_subcommand("prep", "Preprocess samples into the feature cache (align, flow, strain)");
  cmd->add_option("SPEC,--spec", args->spec, "Experiment spec: its datasets and recipes")->type_name("FILE");
  cmd->add_flag("--allow-large", args->allow_large,
                "With a spec: expand a spec above the cell limit (merx validate)");
  cmd->add_option("--adapter", args->adapter, "Dataset adapter (without --spec)");
  cmd->add_option("--root", args->root, "Corpus folder (without --spec)");
  cmd->add_option("--annotations", args->annotations, "Annotation file (without --spec)");
  cmd->add_option("--options", args->options,
                  "Adapter options as JSON (without --spec), e.g. '{\"cropped\": true, \"frame_gaps\": 2}'");
  cmd->add_option("--recipe", args->recipe,
                  "Recipe (without --spec): flow_strain, flow_uv, apex_gray, onset_apex, flow_images");
  cmd->add_option("--cache", args->cache,
                  "Cache folder (default $MERX_CACHE_DIR, $XDG_CACHE_HOME/merx, ~/.cache/merx)");
  cmd->add_option("--jobs,-j", args->jobs, "Parallel samples (default: all cores)");
  cmd->add_option("--max-fail-rate", args->max_fail_rate, "Exit 1 when a larger share of samples fails")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--content-hash", args->content_hash, "Key frames by content hash instead of size + mtime");
  cmd->add_option(
         "--export", args->export_dir,
         "Then write the cached inputs to DIR: inputs.npy [N, C, S, S] float32, samples.csv (row i <-> "
         "inputs[i]), recipe.json; one recipe; failed samples are left out (named on stderr)")
      ->type_name("DIR");
  cmd->add_flag(
      "--force", args->force,
      "With --export: write into a non-empty DIR (replaces inputs.npy, samples.csv, recipe.json only)");
  cmd->callback([args, &action] { action = [args] { return run_prep(*args); }; });
}

}  // namespace merx::cli
