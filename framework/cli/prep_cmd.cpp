// `merx prep (--spec SPEC | --adapter A --root R [--annotations F] [--options JSON]) [--recipe NAME] [--cache DIR]
//            [--jobs N] [--max-fail-rate 0.01] [--content-hash] [--allow-large]`: fills the feature cache
// (one entry per sample and recipe) with TBB across cores; prints a per-dataset summary (done, cached,
// fallback, failed) and exits 1 when the failed share exceeds --max-fail-rate. A sample fails with its reason
// when a frame is missing (the dataset is loaded leniently) or unreadable; an annotation file that cannot be
// read at all is a user error (exit 2). --allow-large: as for `merx validate` (a spec above the cell limit).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
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
#include "merx/spec/params_check.h"
#include "merx/spec/settings.h"

namespace merx::cli {
namespace {

struct PrepArgs {
  std::string spec, adapter, root, annotations, options, recipe = kDefaultRecipe, cache;
  int jobs = 0;
  double max_fail_rate = 0.01;
  bool content_hash = false;
  bool allow_large = false;  // --allow-large: a spec above kMaxPlanCells cells (merx/spec/plan.h)
};

struct Counts {
  std::atomic<size_t> done{0}, cached{0}, fallback{0}, failed{0};
};

prep::RecipeConfig recipe_config(const std::string& name, const json& explicit_params) {
  const RecipeInfo* info = find_recipe(name);
  if (!info) throw UserError("unknown recipe `" + name + "` (flow_strain, flow_uv, apex_gray, onset_apex)");
  std::vector<Problem> problems;
  const json resolved =
      check_params(info->params, explicit_params, "recipe.params", "recipe `" + name + "`", problems);
  if (!problems.empty()) throw ValidationError(problems);
  return prep::RecipeConfig::from_params(name, resolved);
}

int run_prep(const PrepArgs& args) {
  std::vector<DatasetSource> sources;
  std::vector<prep::RecipeConfig> recipes;
  if (!args.spec.empty()) {
    SpecArgs sa;
    sa.file = args.spec;
    sa.allow_large = args.allow_large;
    const Plan plan = plan_from_args(sa);
    for (const auto& d : plan.datasets) {
      DatasetSource s;
      s.name = d.name;
      s.adapter = d.adapter;
      s.root = d.root;
      s.annotations = d.annotations;
      s.options = d.options;
      sources.push_back(s);
    }
    std::map<std::string, bool> seen;
    for (const auto& p : plan.points) {
      auto c = recipe_config(p.recipe.name, p.recipe.explicit_params);
      if (!seen[c.to_json().dump()]) {
        seen[c.to_json().dump()] = true;
        recipes.push_back(c);
      }
    }
  } else {
    if (args.adapter.empty() || args.root.empty())
      throw UserError("give --spec SPEC, or --adapter and --root");
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
  for (const auto& src : sources) {
    // Lenient: a clip whose frames are missing fails on its own (counted, with its reason) instead of
    // stopping the run; a sheet that cannot be read at all is still a user error (exit 2).
    LoadOptions load_options;
    load_options.mode = LoadMode::Lenient;
    const LoadResult loaded = load_dataset(src, load_options);
    for (const auto& config : recipes) {
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
  }
  summary.print(std::cout);
  std::cout << "(DONE computed now, CACHED read from the cache, FALLBACK no face found: a centred crop was used)\n";
  const double rate = total ? static_cast<double>(failed_total) / total : 0.0;
  if (rate > args.max_fail_rate) {
    spdlog::error("{} of {} samples failed ({:.1f} % > --max-fail-rate {:.1f} %)", failed_total, total,
                  100 * rate, 100 * args.max_fail_rate);
    return 1;
  }
  return 0;
}

}  // namespace

void add_prep_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<PrepArgs>();
  auto* cmd = app.add_subcommand("prep", "Preprocess samples into the feature cache (align, flow, strain)");
  cmd->add_option("--spec", args->spec, "Experiment spec: its datasets and recipes");
  cmd->add_flag("--allow-large", args->allow_large,
                "With --spec: expand a spec above the cell limit (merx validate)");
  cmd->add_option("--adapter", args->adapter, "Dataset adapter (without --spec)");
  cmd->add_option("--root", args->root, "Corpus folder (without --spec)");
  cmd->add_option("--annotations", args->annotations, "Annotation file (without --spec)");
  cmd->add_option("--options", args->options,
                  "Adapter options as JSON (without --spec), e.g. '{\"cropped\": true, \"frame_gaps\": 2}'");
  cmd->add_option("--recipe", args->recipe,
                  "Recipe (without --spec): flow_strain, flow_uv, apex_gray, onset_apex");
  cmd->add_option("--cache", args->cache,
                  "Cache folder (default $MERX_CACHE_DIR, $XDG_CACHE_HOME/merx, ~/.cache/merx)");
  cmd->add_option("--jobs,-j", args->jobs, "Parallel samples (default: all cores)");
  cmd->add_option("--max-fail-rate", args->max_fail_rate, "Exit 1 when a larger share of samples fails")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--content-hash", args->content_hash, "Key frames by content hash instead of size + mtime");
  cmd->callback([args, &action] { action = [args] { return run_prep(*args); }; });
}

}  // namespace merx::cli
