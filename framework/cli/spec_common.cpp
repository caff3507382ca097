#include "cli/spec_common.h"

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include "cli/table.h"
#include "merx/backbone.h"
#include "merx/datasets/load.h"
#include "merx/errors.h"
#include "merx/plugins/registry.h"
#include "merx/spec/folds.h"
#include "merx/spec/spec.h"

namespace merx::cli {

void add_spec_args(CLI::App* cmd, SpecArgs& args, bool required) {
  cmd->add_option("SPEC", args.file, "Experiment spec (JSON); see docs/spec.md")->required(required);
  cmd->add_option("--set", args.sets,
                  "Override a field before validation: path=value, e.g. training.lr=0.001 or "
                  "datasets[0].root=/data/casme2 (repeatable)");
  cmd->add_flag("--allow-large", args.allow_large,
                "Expand a spec above " + thousands(kMaxPlanCells) +
                    " cells (variants x grid x random draws x folds x seeds) instead of refusing it");
}

void check_backbones(const Plan& plan, const PluginRegistry& registry) {
  std::vector<Problem> problems;
  std::set<std::string> seen;
  const bool sweep = plan.points.size() > 1;
  for (const auto& pt : plan.points) {
    if (!seen.insert(pt.backbone.name + "\n" + canonical_json(pt.backbone.params)).second) continue;
    const std::string who = sweep ? pt.label() + ": " : "";
    try {
      const auto bb = registry.create<Backbone>(pt.backbone.name, pt.backbone.params);
      const InputShape in = bb->input_shape();
      const std::array<int64_t, 3> want = {in.channels, in.height, in.width};
      if (want != pt.recipe.shape) {
        auto text = [](const std::array<int64_t, 3>& s) {
          return "[" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) + "]";
        };
        problems.push_back({"backbone", who + "backbone `" + pt.backbone.name + "` expects inputs " +
                                            text(want) + ", recipe `" + pt.recipe.name + "` makes " +
                                            text(pt.recipe.shape)});
      }
    } catch (const std::exception& e) {
      problems.push_back({"backbone", who + e.what()});
    }
  }
  if (!problems.empty()) throw ValidationError(std::move(problems));
}

Plan plan_from_args(const SpecArgs& args) {
  PluginRegistry registry;
  return plan_from_args(args, registry);
}

namespace {

// The spec's `labels` as LoadOptions, when every sweep point uses them (no variant and no sweep key touches
// `labels`) and they can be read; nullopt otherwise.
struct LosoLabels {
  LabelMapping mapping;
  std::optional<Membership> membership;
};
std::optional<LosoLabels> shared_labels(const SpecSource& spec) {
  const nlohmann::json& doc = spec.document;
  if (!doc.is_object()) return std::nullopt;
  if (const auto sweep = doc.find("sweep"); sweep != doc.end() && sweep->is_object()) {
    if (const auto v = sweep->find("variants"); v != sweep->end() && v->is_array())
      for (const auto& variant : *v)
        if (variant.is_object() && variant.contains("labels")) return std::nullopt;
    for (const char* kind : {"grid", "random"})
      if (const auto g = sweep->find(kind); g != sweep->end() && g->is_object())
        for (const auto& [key, values] : g->items())
          if (key.rfind("labels", 0) == 0) return std::nullopt;
  }
  LosoLabels out;
  const auto l = doc.find("labels");
  if (l == doc.end()) return out;  // native
  try {
    out.mapping.name = l->value("name", "native");
    if (l->contains("map")) out.mapping.map = l->at("map").get<std::map<std::string, std::string>>();
    out.mapping.unmapped = l->value("unmapped", "drop");
    if (l->contains("membership")) {
      std::filesystem::path m = l->at("membership").get<std::string>();
      if (m.is_relative()) m = spec.base_dir / m;
      out.membership = Membership::read(m);
    }
  } catch (const std::exception&) {
    return std::nullopt;  // the sweep points' checks report what is wrong with `labels`
  }
  return out;
}

}  // namespace

Plan plan_from_args(const SpecArgs& args, PluginRegistry& registry) {
  const SpecSource spec = load_spec(args.file, args.sets);
  DiscoveryOptions opts;
  opts.extra_dirs = spec_plugin_dirs(spec);
  registry = PluginRegistry::discover(opts);
  PlanOptions options;
  options.allow_large = args.allow_large;
  // loso folds are one per global subject: the dataset layer lists them from the sheets/folders. When every
  // sweep point shares the spec's labels, a subject none of whose clips has a class under them (mapped away,
  // or not on the membership list) gets no fold: MEGC2019's composite has 68 folds, not one per subject
  // folder of the three corpora.
  auto labels = std::make_shared<const std::optional<LosoLabels>>(shared_labels(spec));
  options.subjects = [labels](const DatasetSpec& d) {
    const DatasetSource src = dataset_source(d);
    if (!*labels) return dataset_subjects(src);
    LoadOptions lo;
    lo.mode = LoadMode::Lenient;
    lo.frames = false;
    lo.labels = (*labels)->mapping;
    lo.membership = (*labels)->membership ? &*(*labels)->membership : nullptr;
    std::set<std::string> subjects;
    try {
      for (const auto& s : load_dataset(src, lo).samples)
        if (s.label) subjects.insert(s.subject);
    } catch (const std::exception&) {
      return dataset_subjects(src);  // the points' strict load reports the problem
    }
    return std::vector<std::string>(subjects.begin(), subjects.end());
  };
  return make_plan(spec, registry, options);
}

namespace {

// Label settings that give the same samples and classes (the membership file by content).
std::string labels_key(const LabelSettings& l) {
  return nlohmann::json{{"name", l.name}, {"map", l.map}, {"membership", l.membership_sha256},
                        {"unmapped", l.unmapped}}
      .dump();
}

std::string joined(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string points_text(const std::vector<size_t>& points) {
  std::string s;
  for (size_t p : points) s += (s.empty() ? "" : ", ") + std::to_string(p);
  return (points.size() == 1 ? "sweep point " : "sweep points ") + s;
}

}  // namespace

std::vector<FoldClasses> fold_classes(const Plan& plan) {
  std::vector<FoldClasses> out;
  std::map<std::string, size_t> index;
  for (const auto& pt : plan.points) {
    auto [it, fresh] = index.emplace(labels_key(pt.labels), out.size());
    if (!fresh) {
      out[it->second].points.push_back(pt.index);
      continue;
    }
    SampleLoadOptions o;
    o.frames = false;  // class counts come from the annotation files alone
    const LabelledSamples samples = load_samples(plan, pt, o);
    FoldClasses fc;
    fc.points = {pt.index};
    fc.labels = pt.labels.name;
    fc.classes = samples.classes;
    fc.unlabelled = samples.unlabelled.size();
    fc.folds = fold_samples(plan, samples);
    for (auto& f : fc.folds) {  // the pointers would dangle once `samples` is gone
      f.train.clear();
      f.test.clear();
    }
    out.push_back(std::move(fc));
  }
  for (const auto& fc : out) {
    const std::string where = out.size() > 1 ? " (" + points_text(fc.points) + ")" : "";
    for (const auto& f : fc.folds) {
      int64_t train = 0, test = 0;
      for (auto n : f.train_counts) train += n;
      for (auto n : f.test_counts) test += n;
      if (test == 0)
        spdlog::warn("fold {}: no test clip with a `{}` class{}; its cells cannot be evaluated", f.fold,
                     fc.labels, where);
      if (train == 0)
        spdlog::warn("fold {}: no training clip with a `{}` class{}; its cells cannot be trained", f.fold,
                     fc.labels, where);
    }
    if (fc.unlabelled > 0)
      spdlog::warn("{} clip{} without a label take part in no fold{}", fc.unlabelled,
                   fc.unlabelled == 1 ? "" : "s", where);
  }
  return out;
}

void print_fold_table(const Plan& plan, const std::vector<FoldClasses>& classes, std::ostream& out) {
  for (const auto& fc : classes) {
    out << "\nfolds, with train/test clips per class (labels `" << fc.labels << "`"
        << (classes.size() > 1 ? ", " + points_text(fc.points) : "") << "; from the annotation files):\n";
    std::vector<std::string> header = {"FOLD", "TRAIN", "TEST", "CELLS", "CLIPS"};
    header.insert(header.end(), fc.classes.begin(), fc.classes.end());
    Table t(header);
    for (size_t i = 0; i < fc.folds.size() && i < plan.folds.size(); ++i) {
      const Fold& f = plan.folds[i];
      const FoldSplit& s = fc.folds[i];
      int64_t train = 0, test = 0;
      for (auto n : s.train_counts) train += n;
      for (auto n : s.test_counts) test += n;
      size_t cells = 0;
      for (const auto& [id, n] : plan.summary.cells_per_fold)
        if (id == f.id) cells = n;
      std::vector<std::string> row = {f.id, joined(f.train, "+"), joined(f.test, "+"), std::to_string(cells),
                                      std::to_string(train) + "/" + std::to_string(test)};
      for (size_t c = 0; c < fc.classes.size(); ++c)
        row.push_back(std::to_string(s.train_counts[c]) + "/" + std::to_string(s.test_counts[c]));
      t.add(row);
    }
    t.print(out);
  }
}

nlohmann::json fold_classes_json(const std::vector<FoldClasses>& classes) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& fc : classes) {
    nlohmann::json folds = nlohmann::json::array();
    for (const auto& s : fc.folds) {
      nlohmann::json train = nlohmann::json::object(), test = nlohmann::json::object();
      int64_t ntrain = 0, ntest = 0;
      for (size_t c = 0; c < fc.classes.size(); ++c) {
        train[fc.classes[c]] = s.train_counts[c];
        test[fc.classes[c]] = s.test_counts[c];
        ntrain += s.train_counts[c];
        ntest += s.test_counts[c];
      }
      folds.push_back({{"id", s.fold},
                       {"train", ntrain},
                       {"test", ntest},
                       {"train_counts", train},
                       {"test_counts", test},
                       {"train_subjects", s.train_subjects.size()},
                       {"test_subjects", s.test_subjects.size()}});
    }
    a.push_back({{"points", fc.points},
                 {"labels", fc.labels},
                 {"classes", fc.classes},
                 {"unlabelled", fc.unlabelled},
                 {"folds", folds}});
  }
  return a;
}

}  // namespace merx::cli
