// `merx datasets list`: the adapters and what each needs.
// `merx datasets check --adapter A --root DIR [--annotations FILE] [--labels native|megc3] [--membership FILE]
//                      [--mode strict|lenient] [--options JSON] [--name NAME]`: loads one dataset and prints
// clips, subjects, per-class counts, corrections applied and problems. Strict failures exit 2 (main()).
// Every frame file a clip uses is checked too (LoadOptions::check_frame_files: empty or truncated files, each
// named), which preprocessing, reading only the onset and apex frames, would not notice.
// `merx datasets check SPEC [--set path=value]`: the same for every dataset of a spec, with the spec's roots,
// annotations, options and (first sweep point's) labels and membership.
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/json_arg.h"
#include "cli/spec_common.h"
#include "cli/table.h"
#include "merx/datasets/adapters.h"
#include "merx/datasets/load.h"
#include "merx/errors.h"
#include "merx/spec/folds.h"

namespace merx::cli {
namespace {

std::string fps_text(double fps) {
  if (fps <= 0) return "-";
  const auto i = static_cast<int64_t>(fps);
  return static_cast<double>(i) == fps ? std::to_string(i) : std::to_string(fps);
}

int run_list(bool as_json) {
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : dataset_adapters()) {
      nlohmann::json opts = nlohmann::json::array();
      for (const auto& o : a.options)
        opts.push_back({{"name", o.name}, {"type", o.type}, {"default", o.default_value}, {"doc", o.doc}});
      out.push_back({{"name", a.name},
                     {"corpus", a.corpus},
                     {"annotations", a.annotations},
                     {"annotation_names", a.annotation_names},
                     {"frames", a.frames},
                     {"layout_verified", a.layout_verified},
                     {"fps", a.fps},
                     {"grayscale", a.grayscale},
                     {"codes_aus", a.codes_aus},
                     {"codes_apex", a.codes_apex},
                     {"description", a.description},
                     {"options", opts}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  Table t({"ADAPTER", "CORPUS", "ANNOTATIONS", "FPS", "FRAMES", "LAYOUT", "EXPECTS"});
  t.wrap(2, 12);
  t.wrap(4, 18);
  t.wrap(6, 36);
  for (const auto& a : dataset_adapters())
    t.add({a.name, a.corpus, a.annotations, fps_text(a.fps), a.frames,
           a.layout_verified ? "verified" : "unverified", a.description});
  t.print(std::cout);
  std::cout << "\nOptions of every adapter (datasets[i].options in a spec, --options here):\n";
  Table o({"OPTION", "TYPE", "DEFAULT", "MEANING"});
  o.wrap(3, 64);
  for (const auto& c : common_adapter_options()) o.add({c.name, c.type, c.default_value, c.doc});
  o.print(std::cout, "  ");
  for (const auto& a : dataset_adapters()) {
    if (a.options.empty()) continue;
    std::cout << "\nOptions of " << a.name << ":\n";
    Table x({"OPTION", "TYPE", "DEFAULT", "MEANING"});
    x.wrap(3, 64);
    for (const auto& c : a.options) x.add({c.name, c.type, c.default_value, c.doc});
    x.print(std::cout, "  ");
  }
  return 0;
}

struct CheckArgs {
  std::string adapter, root, annotations, labels = "native", membership, mode = "strict", options, name;
};

void print_check(const LoadResult& r, const std::string& membership_file, bool with_membership);

int run_check(const CheckArgs& args) {
  DatasetSource src;
  src.name = args.name;
  src.adapter = args.adapter;
  src.root = args.root;
  src.annotations = args.annotations;
  src.options = json_object_arg("--options", args.options);
  LoadOptions opts;
  opts.mode = load_mode_from_string(args.mode);
  opts.check_frame_files = true;  // every frame file, not only the onset and apex that prep reads
  if (args.labels != "native" && args.labels != "megc3")
    throw UserError("--labels: '" + args.labels + "' is not native or megc3 (custom maps come from a spec)");
  opts.labels.name = args.labels;
  std::optional<Membership> membership;
  if (!args.membership.empty()) {
    membership = Membership::read(args.membership);
    opts.membership = &*membership;
  }
  print_check(load_dataset(src, opts), args.membership, membership.has_value());
  return 0;
}

// Every dataset of a spec, as `merx run` will load it (its first sweep point's label settings). Strict mode
// stops at the first dataset with problems (listing each of its problems); lenient reports all datasets.
int run_check_spec(const SpecArgs& spec_args, const std::string& mode) {
  const Plan plan = plan_from_args(spec_args);
  const LabelSettings& ls = plan.points.front().labels;
  std::optional<Membership> membership;
  if (!ls.membership.empty()) membership = Membership::read(ls.membership);
  LoadOptions opts;
  opts.mode = load_mode_from_string(mode);
  opts.check_frame_files = true;
  opts.labels.name = ls.name;
  opts.labels.map = ls.map;
  opts.labels.unmapped = ls.unmapped;
  opts.membership = membership ? &*membership : nullptr;
  for (size_t i = 0; i < plan.datasets.size(); ++i) {
    const DatasetSpec& d = plan.datasets[i];
    if (i) std::cout << "\n";
    print_check(load_dataset(dataset_source(d), opts), ls.membership.string(), membership.has_value());
  }
  return 0;
}

void print_check(const LoadResult& r, const std::string& membership_file, bool with_membership) {
  std::map<std::string, size_t> classes;
  size_t apex_missing = 0, apex_estimated = 0, corrected = 0;
  for (const auto& s : r.samples) {
    ++classes[s.label.value_or("(none)")];
    apex_missing += s.apex_missing;
    apex_estimated += s.apex_estimated;
    corrected += s.corrected;
  }
  std::cout << "dataset " << r.dataset << " (adapter " << r.adapter << ")\n";
  if (!r.annotations_sha256.empty()) std::cout << "annotations sha256 " << r.annotations_sha256 << "\n";
  Table t({"WHAT", "COUNT"});
  t.add({"clips", std::to_string(r.samples.size())});
  t.add({"subjects", std::to_string(r.subjects().size())});
  for (const auto& [label, n] : classes) t.add({"class " + label, std::to_string(n)});
  t.add({"clips corrected by errata", std::to_string(corrected)});
  t.add({"errata entries applied (incl. notes)", std::to_string(r.corrections())});
  t.add({"apex missing", std::to_string(apex_missing)});
  t.add({"apex estimated (midpoint)", std::to_string(apex_estimated)});
  t.add({"excluded by labels/membership", std::to_string(r.excluded.size())});
  t.add({"dropped for problems (lenient)", std::to_string(r.dropped.size())});
  if (with_membership) t.add({"listed but not found", std::to_string(r.missing_listed.size())});
  std::cout << "\n";
  t.print(std::cout);

  bool any_correction = false;
  for (const auto& s : r.samples)
    for (const auto& c : s.corrections) {
      if (!any_correction) std::cout << "\ncorrections:\n";
      any_correction = true;
      std::cout << "  " << s.key << " " << c.field << ": ";
      if (c.kind == "note")
        std::cout << "(note, unchanged '" << c.old_value << "')";
      else
        std::cout << "'" << c.old_value << "' -> '" << c.new_value << "'";
      std::cout << " — " << c.reason << " [" << c.source << "]\n";
    }
  if (!r.dropped.empty()) {
    std::cout << "\ndropped (lenient):\n";
    for (const auto& d : r.dropped) std::cout << "  " << d.where << ": " << d.key << ": " << d.reason << "\n";
  }
  if (!r.missing_listed.empty()) {
    std::cout << "\nlisted in " << membership_file << " but not found:\n";
    for (const auto& m : r.missing_listed)
      std::cout << "  line " << m.line << ": " << m.subject << "/" << m.clip << "\n";
  }
  if (!r.notes.empty()) {
    std::cout << "\nnotes:\n";
    for (const auto& n : r.notes) std::cout << "  " << n << "\n";
  }
}

}  // namespace

void add_datasets_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("datasets", "Dataset adapters: list them, check a corpus");
  cmd->require_subcommand(1);

  auto* list = cmd->add_subcommand("list", "List the dataset adapters with what each needs");
  auto as_json = std::make_shared<bool>(false);
  auto format = std::make_shared<std::string>("table");
  list->add_flag("--json", *as_json, "Machine-readable output (JSON array); the same as --format json");
  list->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  list->callback([&action, as_json, format] { action = [=] { return run_list(*as_json || *format == "json"); }; });

  auto* check = cmd->add_subcommand(
      "check", "Load the datasets of a SPEC, or one corpus (--adapter, --root), validate and print what was found");
  auto a = std::make_shared<CheckArgs>();
  auto spec = std::make_shared<SpecArgs>();
  add_spec_args(check, *spec, /*required=*/false);
  check->add_option("--adapter", a->adapter, "Adapter name (merx datasets list); without a SPEC");
  check->add_option("--root", a->root, "Corpus folder (see docs/datasets.md); without a SPEC");
  check->add_option("--annotations", a->annotations, "Annotation file (default: the adapter's usual name)");
  check->add_option("--labels", a->labels, "Label mapping: native or megc3")->capture_default_str();
  check->add_option("--membership", a->membership, "MEGC2019-style list dataset,subject,clip,label");
  check->add_option("--mode", a->mode, "strict (stop, list every problem) or lenient (drop bad clips)")
      ->capture_default_str();
  check->add_option("--options", a->options, "Adapter options as JSON, e.g. '{\"frame_gaps\": 2}'");
  check->add_option("--name", a->name, "Dataset name used in keys (default: the adapter name)");
  check->callback([&action, a, spec] {
    if (!spec->file.empty()) {
      if (!a->adapter.empty() || !a->root.empty())
        throw CLI::ValidationError("datasets check", "give a SPEC or --adapter and --root, not both");
      action = [=] { return run_check_spec(*spec, a->mode); };
      return;
    }
    if (a->adapter.empty() || a->root.empty())
      throw CLI::ValidationError("datasets check", "give a SPEC, or --adapter and --root");
    action = [=] { return run_check(*a); };
  });
}

}  // namespace merx::cli
