#include "cli/spec_common.h"

#include "merx/datasets/load.h"
#include "merx/plugins/registry.h"
#include "merx/spec/spec.h"

namespace merx::cli {

void add_spec_args(CLI::App* cmd, SpecArgs& args) {
  cmd->add_option("SPEC", args.file, "Experiment spec (JSON); see docs/spec.md")->required();
  cmd->add_option("--set", args.sets,
                  "Override a field before validation: path=value, e.g. training.lr=0.001 or "
                  "datasets[0].root=/data/casme2 (repeatable)");
}

Plan plan_from_args(const SpecArgs& args) {
  const SpecSource spec = load_spec(args.file, args.sets);
  DiscoveryOptions opts;
  opts.extra_dirs = spec_plugin_dirs(spec);
  const PluginRegistry registry = PluginRegistry::discover(opts);
  PlanOptions options;
  // loso folds are one per global subject: the dataset layer lists them from the sheets/folders.
  options.subjects = [](const DatasetSpec& d) {
    return dataset_subjects(DatasetSource{d.name, d.adapter, d.root, d.annotations, d.annotations_sha256, d.options});
  };
  return make_plan(spec, registry, options);
}

}  // namespace merx::cli
