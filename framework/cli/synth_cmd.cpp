// `merx synth --preset tiny|default|shift|shift_invariant|shift_tiny --out DIR [--seed N] [--sources DIR]
// [--jobs N] [--force] [--no-twins]`: writes the demo corpus (merx/synth/synth.h, docs/demo-corpus.md) and
// prints what it wrote per domain. Reads the face sources that tools/fetch-faces put into the cache; never
// downloads anything. A missing source is a warning; no source at all, an unknown preset or a non-empty OUT
// are user errors (exit 2).
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>
#include <opencv2/core/utility.hpp>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/table.h"
#include "merx/synth/synth.h"

namespace merx::cli {
namespace {

struct SynthArgs {
  std::string preset = "tiny", out, sources;
  uint64_t seed = 1;
  int jobs = 0;
  bool force = false, no_twins = false;
};

int run_synth(const SynthArgs& args) {
  synth::SynthOptions o;
  o.preset = args.preset;
  o.seed = args.seed;
  o.out = args.out;
  o.sources = args.sources;
  o.replace = args.force;
  o.counterfactual_twins = !args.no_twins;
  o.threads = args.jobs > 0 ? args.jobs : static_cast<int>(std::thread::hardware_concurrency());
  o.warn = [](const std::string& w) { spdlog::warn("{}", w); };
  std::unique_ptr<Progress> progress;
  o.progress = [&progress](size_t done, size_t total) {
    if (!progress) progress = std::make_unique<Progress>(total, "synth", "clips");  // at done = 0
    if (done > 0) progress->update(done);
  };
  cv::setNumThreads(1);  // parallel over clips; OpenCV's own threads would oversubscribe the cores
  spdlog::info("synth: preset {}, seed {}, {} job{}, sources {}", o.preset, o.seed, o.threads,
               o.threads == 1 ? "" : "s",
               (o.sources.empty() ? synth::default_sources_dir() : o.sources).string());
  const synth::SynthSummary s = synth::generate(o);

  Table t({"DATASET", "ADAPTER", "CLIPS", "SUBJECTS", "FRAMES", "CLASSES"});
  for (const auto& d : s.domains) {
    std::string classes;
    for (const auto& [name, n] : d.classes)
      classes += (classes.empty() ? "" : ", ") + name + " " + std::to_string(n);
    t.add({d.name, d.adapter, std::to_string(d.clips), std::to_string(d.subjects), std::to_string(d.frames),
           classes});
  }
  t.print(std::cout);
  std::string faces;
  for (const auto& f : s.base_faces) faces += (faces.empty() ? "" : ", ") + f;
  std::cout << "base faces: " << faces << "\n";
  if (!s.sources_missing.empty()) {
    std::string m;
    for (const auto& f : s.sources_missing) m += (m.empty() ? "" : ", ") + f;
    std::cout << "missing sources: " << m << " (run tools/fetch-faces)\n";
  }
  std::cout << "wrote " << args.out << " in " << static_cast<int>(s.seconds * 10 + 0.5) / 10.0
            << " s (README.md, datasets.json, ground_truth.csv)\n";
  return 0;
}

}  // namespace

void add_synth_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<SynthArgs>();
  auto* cmd =
      app.add_subcommand("synth", "Generate the demo corpus (three domains like CASME II, SAMM, SMIC-HS)");
  cmd->add_option(
         "--preset", args->preset,
         "tiny (tests, seconds), default (about 150 clips per domain), shift / shift_invariant (default with "
         "a declared domain shift and counterfactual twins; docs/demo-corpus.md), shift_tiny")
      ->check(CLI::IsMember(synth::preset_names()))
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Output folder (new or empty; see --force)")->required();
  cmd->add_option("--seed", args->seed,
                  "Seed: the corpus is a function of preset, seed and the face sources");
  cmd->add_option("--sources", args->sources,
                  "Folder with the face sources (default <cache>/faces, filled by tools/fetch-faces)");
  cmd->add_option("--jobs", args->jobs, "Worker threads (default: every core)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--force", args->force, "Replace a corpus that merx synth wrote into --out before");
  cmd->add_flag("--no-twins", args->no_twins,
                "shift presets: leave out the counterfactual twins <domain>_cf (the same corpus otherwise)");
  cmd->callback([args, &action] { action = [args] { return run_synth(*args); }; });
}

}  // namespace merx::cli
