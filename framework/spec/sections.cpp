// Validation of the parts of a spec that every sweep point shares: name, datasets, protocol, seeds,
// output, plugin_paths and the shape of the sweep itself.
#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "merx/datasets/adapters.h"
#include "merx/hash.h"
#include "merx/suggest.h"
#include "spec/internal.h"

namespace merx::spec_internal {

const std::vector<std::string>& sweepable_fields() {
  static const std::vector<std::string> f = {"backbone", "regularizer", "augmenter",
                                             "recipe",   "training",    "labels"};
  return f;
}

const std::vector<std::string>& spec_fields() {
  static const std::vector<std::string> f = {
      "name",        "description", "datasets", "labels", "recipe", "protocol", "backbone",
      "regularizer", "augmenter",   "training", "seeds",  "sweep",  "output",   "plugin_paths",
      "comparisons", "save_models"};
  return f;
}

fs::path resolve_path(const fs::path& base_dir, const std::string& p) {
  return (base_dir / fs::path(p)).lexically_normal();  // operator/ keeps an absolute right-hand side
}

namespace {

bool is_sweepable(const std::string& k) {
  const auto& f = sweepable_fields();
  return std::find(f.begin(), f.end(), k) != f.end();
}
bool is_spec_field(const std::string& k) {
  const auto& f = spec_fields();
  return std::find(f.begin(), f.end(), k) != f.end();
}

bool valid_dataset_name(const std::string& n) {
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  return !n.empty();
}

std::vector<std::string> adapter_names() {
  std::vector<std::string> n;
  for (const auto& a : dataset_adapters()) n.push_back(a.name);
  return n;
}

// Why the protocol may not name `n` ("" when it may): a counterfactual twin is never a source or target.
std::string twin_refusal(const std::string& n, const std::map<std::string, std::string>& twins) {
  auto t = twins.find(n);
  if (t == twins.end()) return "";
  return "`" + n + "` is the counterfactual twin of `" + t->second +
         "` (its `counterfactual_of`): a twin is never a source or target of the protocol; the cells "
         "that test on `" +
         t->second + "` predict it (metric shortcut_flip_rate)";
}

// A list of dataset names (lodo targets, hde sources): strings naming listed datasets, each once.
std::vector<std::string> dataset_refs(const json& v, const std::string& path,
                                      const std::vector<std::string>& names,
                                      const std::map<std::string, std::string>& twins, Findings& out) {
  std::vector<std::string> refs;
  if (!v.is_array()) {
    add_value(out, path, type_message("a list of dataset names", v));
    return refs;
  }
  if (v.empty()) add_value(out, path, "must list at least one dataset name");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = path_index(path, i);
    if (!v[i].is_string()) {
      add_value(out, p, type_message("a dataset name", v[i]));
      continue;
    }
    const std::string n = v[i].get<std::string>();
    if (std::find(names.begin(), names.end(), n) == names.end()) {
      add_value(out, p,
                "`" + n + "` is not a dataset of this spec" + did_you_mean(n, names) +
                    " (datasets: " + backquoted_list(names) + ")");
      continue;
    }
    if (auto why = twin_refusal(n, twins); !why.empty()) {
      add_value(out, p, why);
      continue;
    }
    if (std::find(refs.begin(), refs.end(), n) != refs.end()) {
      add_value(out, p, "`" + n + "` is listed twice");
      continue;
    }
    refs.push_back(n);
  }
  return refs;
}

}  // namespace

std::string check_name(const json& doc, Findings& out) {
  return string_field(doc, "name", "", true, out).value_or("");
}

std::vector<DatasetSpec> check_datasets(const json& doc, const fs::path& base_dir, bool& ok, Findings& out) {
  const size_t before = out.size();
  std::vector<DatasetSpec> result;
  auto it = doc.find("datasets");
  if (it == doc.end()) {
    add_value(out, "datasets",
              "required field is missing (a list of {\"name\", \"adapter\", \"root\", ...})");
    ok = false;
    return result;
  }
  if (!it->is_array()) {
    add_value(out, "datasets", type_message("a list of datasets", *it));
    ok = false;
    return result;
  }
  if (it->empty()) add_value(out, "datasets", "must list at least one dataset");

  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& d = (*it)[i];
    const std::string p = path_index("datasets", i);
    if (!expect_object(d, p, out)) continue;
    check_keys(d, p, {"name", "adapter", "root", "annotations", "options", "counterfactual_of"},
               "dataset field", out);
    DatasetSpec ds;
    bool good = true;

    if (auto name = string_field(d, "name", p, true, out)) {
      if (!valid_dataset_name(*name)) {
        add_value(out, path_key(p, "name"), "`" + *name + "` may only use letters, digits, `_`, `.` and `-`");
        good = false;
      } else if (auto prev = seen.find(*name); prev != seen.end()) {
        add_value(out, path_key(p, "name"),
                  "duplicate dataset name `" + *name + "` (also " + path_index("datasets", prev->second) +
                      ".name)");
        good = false;
      } else {
        seen[*name] = i;
      }
      ds.name = *name;
    } else {
      good = false;
    }

    const AdapterInfo* adapter = nullptr;
    if (auto a = string_field(d, "adapter", p, true, out)) {
      adapter = find_adapter(*a);
      if (!adapter) {
        add_value(out, path_key(p, "adapter"),
                  "unknown adapter `" + *a + "`" + did_you_mean(*a, adapter_names()) +
                      " (adapters: " + backquoted_list(adapter_names()) + ")");
        good = false;
      }
      ds.adapter = *a;
    } else {
      good = false;
    }

    if (auto root = string_field(d, "root", p, true, out)) {
      ds.root = resolve_path(base_dir, *root);
      std::error_code ec;
      if (!fs::exists(ds.root, ec)) {
        add_value(out, path_key(p, "root"), "folder not found: " + ds.root.string());
        good = false;
      } else if (!fs::is_directory(ds.root, ec)) {
        add_value(out, path_key(p, "root"), "not a folder: " + ds.root.string());
        good = false;
      }
    } else {
      good = false;
    }

    const std::string ap = path_key(p, "annotations");
    if (auto ann = string_field(d, "annotations", p, false, out)) {
      ds.annotations = resolve_path(base_dir, *ann);
      std::error_code ec;
      if (adapter && adapter->annotations == "none") {
        add_value(out, ap, "adapter `" + adapter->name + "` takes no annotations file");
        good = false;
      } else if (!fs::exists(ds.annotations, ec)) {
        add_value(out, ap, "file not found: " + ds.annotations.string());
        good = false;
      } else if (!fs::is_regular_file(ds.annotations, ec)) {
        add_value(out, ap, "not a regular file: " + ds.annotations.string());
        good = false;
      } else {
        try {
          ds.annotations_sha256 = sha256_file(ds.annotations);
        } catch (const std::exception& e) {
          add_value(out, ap, std::string("cannot be read: ") + e.what());
          good = false;
        }
      }
    } else if (d.contains("annotations")) {
      good = false;  // string_field reported the type
    } else if (adapter && adapter->annotations == "required") {
      add_value(out, ap,
                "adapter `" + adapter->name + "` needs an annotations file (" + adapter->description + ")");
      good = false;
    }

    if (auto o = d.find("options"); o != d.end()) {
      if (o->is_object()) {
        ds.options = *o;
        if (adapter)
          for (auto& pr : adapter_option_problems(*adapter, *o, path_key(p, "options")))
            add_value(out, pr.path, pr.message);
      } else {
        add_value(out, path_key(p, "options"), type_message("an object of adapter options", *o));
        good = false;
      }
    }
    if (d.contains("counterfactual_of")) {
      if (auto of = string_field(d, "counterfactual_of", p, false, out))
        ds.counterfactual_of = *of;
      else
        good = false;  // string_field reported the type
    }
    if (good) result.push_back(std::move(ds));
  }
  check_twins(*it, out);
  ok = out.size() == before;
  return result;
}

void check_twins(const json& datasets, Findings& out) {
  // Names written (valid or not), and which entry is a twin of which name.
  std::vector<std::string> names;
  std::map<std::string, size_t> index;
  std::map<std::string, std::string> twin;  // twin name -> original, string values only
  for (size_t i = 0; i < datasets.size(); ++i) {
    const json& d = datasets[i];
    if (!d.is_object() || !d.contains("name") || !d["name"].is_string()) continue;
    const std::string n = d["name"].get<std::string>();
    names.push_back(n);
    index.emplace(n, i);
    if (d.contains("counterfactual_of") && d["counterfactual_of"].is_string())
      twin.emplace(n, d["counterfactual_of"].get<std::string>());
  }
  std::map<std::string, size_t> twinned;  // original -> index of its first twin
  for (size_t i = 0; i < datasets.size(); ++i) {
    const json& d = datasets[i];
    if (!d.is_object() || !d.contains("counterfactual_of") || !d["counterfactual_of"].is_string()) continue;
    const std::string of = d["counterfactual_of"].get<std::string>();
    const std::string p = path_key(path_index("datasets", i), "counterfactual_of");
    const bool named = d.contains("name") && d["name"].is_string();
    const std::string self = named ? d["name"].get<std::string>() : "";
    if (named && of == self) {
      add_value(out, p,
                "`" + of + "` is this dataset itself; a twin names the dataset it is a counterfactual of");
    } else if (index.find(of) == index.end()) {
      add_value(out, p,
                "`" + of + "` is not a dataset of this spec" + did_you_mean(of, names) +
                    " (datasets: " + backquoted_list(names) + ")");
    } else if (auto t = twin.find(of); t != twin.end()) {
      add_value(out, p,
                "`" + of + "` is itself a counterfactual twin (of `" + t->second + "`, " +
                    path_key(path_index("datasets", index.at(of)), "counterfactual_of") +
                    "); name the original dataset");
    } else if (auto prev = twinned.find(of); prev != twinned.end()) {
      add_value(out, p,
                "`" + of + "` already has a counterfactual twin (" + path_index("datasets", prev->second) +
                    "); a dataset has at most one");
    } else {
      twinned.emplace(of, i);
    }
  }
}

std::optional<ProtocolSpec> check_protocol(const json& doc, const std::vector<std::string>& names,
                                           size_t dataset_count,
                                           const std::map<std::string, std::string>& twins, Findings& out) {
  std::vector<std::string> protocol_names;
  for (const auto& p : protocol_catalog()) protocol_names.push_back(p.name);
  auto it = doc.find("protocol");
  if (it == doc.end()) {
    add_value(
        out, "protocol",
        "required field is missing (an object {\"name\": one of " + backquoted_list(protocol_names) + "})");
    return std::nullopt;
  }
  if (!expect_object(*it, "protocol", out)) return std::nullopt;
  const size_t before = out.size();
  check_keys(*it, "protocol", {"name", "params"}, "protocol field", out);
  auto name = string_field(*it, "name", "protocol", true, out);
  if (!name) return std::nullopt;
  const ProtocolInfo* info = find_protocol(*name);
  if (!info) {
    add_value(out, "protocol.name",
              "unknown protocol `" + *name + "`" + did_you_mean(*name, protocol_names) +
                  " (protocols: " + backquoted_list(protocol_names) + ")");
    return std::nullopt;
  }
  ProtocolSpec ps;
  ps.name = *name;
  std::vector<std::string> domains;  // the names that are no counterfactual twins, in spec order
  for (const auto& n : names)
    if (!twins.count(n)) domains.push_back(n);
  const size_t domain_count = dataset_count - std::min(dataset_count, twins.size());
  if (domain_count < info->min_datasets)
    add_value(out, "protocol.name",
              "`" + ps.name + "` needs at least " + std::to_string(info->min_datasets) +
                  " datasets; the spec lists " + std::to_string(domain_count) +
                  (twins.empty() ? "" : " (counterfactual twins not counted)"));

  json params = json::object();
  if (auto pit = it->find("params"); pit != it->end()) {
    if (!pit->is_object()) {
      add_value(out, "protocol.params", type_message("an object", *pit));
      return std::nullopt;
    }
    params = *pit;
  }
  const std::string owner = "protocol `" + ps.name + "`";
  if (info->scalar_params.empty())
    check_keys(params, "protocol.params", info->param_names, "parameter of " + owner, out);

  if (ps.name == "lodo") {
    if (auto t = params.find("targets"); t != params.end()) {
      ps.targets = dataset_refs(*t, "protocol.params.targets", names, twins, out);
      ps.explicit_params["targets"] = *t;
    } else {
      ps.targets = domains;
    }
    ps.params["targets"] = ps.targets;
  } else if (ps.name == "hde") {
    auto pairs = params.find("pairs");
    const std::string pp = "protocol.params.pairs";
    if (pairs == params.end()) {
      add_value(out, pp, "required: a list of {\"sources\": [dataset names], \"target\": dataset name}");
    } else if (!pairs->is_array() || pairs->empty()) {
      add_value(out, pp,
                pairs->is_array() ? "must list at least one pair" : type_message("a list of pairs", *pairs));
    } else {
      std::set<std::pair<std::vector<std::string>, std::string>> seen;
      for (size_t i = 0; i < pairs->size(); ++i) {
        const json& pr = (*pairs)[i];
        const std::string p = path_index(pp, i);
        if (!expect_object(pr, p, out)) continue;
        check_keys(pr, p, {"sources", "target"}, "pair field", out);
        HdePair h;
        bool good = true;
        if (auto s = pr.find("sources"); s != pr.end()) {
          const size_t b = out.size();
          h.sources = dataset_refs(*s, path_key(p, "sources"), names, twins, out);
          good = good && out.size() == b;
        } else {
          add_value(out, path_key(p, "sources"), "required field is missing (a list of dataset names)");
          good = false;
        }
        if (auto t = string_field(pr, "target", p, true, out)) {
          if (std::find(names.begin(), names.end(), *t) == names.end()) {
            add_value(out, path_key(p, "target"),
                      "`" + *t + "` is not a dataset of this spec" + did_you_mean(*t, names) +
                          " (datasets: " + backquoted_list(names) + ")");
            good = false;
          } else if (auto why = twin_refusal(*t, twins); !why.empty()) {
            add_value(out, path_key(p, "target"), why);
            good = false;
          } else if (std::find(h.sources.begin(), h.sources.end(), *t) != h.sources.end()) {
            add_value(out, path_key(p, "target"), "`" + *t + "` is also a source of this pair");
            good = false;
          }
          h.target = *t;
        } else {
          good = false;
        }
        if (!good) continue;
        std::vector<std::string> sorted = h.sources;
        std::sort(sorted.begin(), sorted.end());
        if (!seen.insert({sorted, h.target}).second) {
          add_value(out, p, "the same pair is listed twice");
          continue;
        }
        ps.pairs.push_back(std::move(h));
      }
      ps.explicit_params["pairs"] = *pairs;
    }
    json jp = json::array();
    for (const auto& h : ps.pairs) jp.push_back({{"sources", h.sources}, {"target", h.target}});
    ps.params["pairs"] = jp;
  } else if (!info->scalar_params.empty()) {
    ps.params = check_params_into(info->scalar_params, params, "protocol.params", owner, out);
    ps.explicit_params = cast_params(info->scalar_params, params);
    if (ps.name == "kfold_subject") ps.k = ps.params.at("k").get<int64_t>();
  }
  if (out.size() != before) return std::nullopt;
  return ps;
}

std::vector<int64_t> check_seeds(const json& doc, Findings& out) {
  auto it = doc.find("seeds");
  if (it == doc.end()) return {0};
  const json& s = *it;
  std::vector<int64_t> seeds;
  if (s.is_number()) {
    auto n = as_integer(s);
    if (!n) {
      add_value(out, "seeds", "a seed count must be a whole number, got " + describe(s));
    } else if (*n < 1) {
      add_value(out, "seeds", "the seed count must be at least 1, got " + std::to_string(*n));
    } else if (*n > 100000) {
      add_value(out, "seeds", "the seed count must be at most 100000, got " + std::to_string(*n));
    } else {
      for (int64_t i = 0; i < *n; ++i) seeds.push_back(i);
    }
    return seeds;
  }
  if (!s.is_array()) {
    add_value(out, "seeds", type_message("a seed count or a list of seed values", s));
    return seeds;
  }
  if (s.empty()) add_value(out, "seeds", "must list at least one seed value");
  std::map<int64_t, size_t> seen;
  for (size_t i = 0; i < s.size(); ++i) {
    const std::string p = path_index("seeds", i);
    auto v = as_integer(s[i]);
    if (!v) {
      add_value(out, p, type_message("a whole number", s[i]));
      continue;
    }
    if (*v < 0) {
      add_value(out, p, "seed values must be >= 0, got " + std::to_string(*v));
      continue;
    }
    if (auto prev = seen.find(*v); prev != seen.end()) {
      add_value(out, p,
                "seed value " + std::to_string(*v) + " is listed twice (also " +
                    path_index("seeds", prev->second) + ")");
      continue;
    }
    seen[*v] = i;
    seeds.push_back(*v);
  }
  return seeds;
}

fs::path check_output(const json& doc, const fs::path& base_dir, Findings& out) {
  if (!doc.contains("output")) return resolve_path(base_dir, "merx.sqlite");
  if (auto o = string_field(doc, "output", "", false, out)) return resolve_path(base_dir, *o);
  return {};
}

bool check_save_models(const json& doc, Findings& out) {
  auto it = doc.find("save_models");
  if (it == doc.end()) return true;
  if (!it->is_boolean()) {
    add_value(out, "save_models", type_message("true or false", *it));
    return true;
  }
  return it->get<bool>();
}

std::vector<fs::path> check_plugin_paths(const json& doc, const fs::path& base_dir, Findings& out) {
  std::vector<fs::path> dirs;
  auto it = doc.find("plugin_paths");
  if (it == doc.end()) return dirs;
  if (!it->is_array()) {
    add_value(out, "plugin_paths", type_message("a list of folders", *it));
    return dirs;
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string p = path_index("plugin_paths", i);
    const json& v = (*it)[i];
    if (!v.is_string() || v.get<std::string>().empty()) {
      add_value(out, p, type_message("a folder path", v));
      continue;
    }
    const fs::path d = resolve_path(base_dir, v.get<std::string>());
    std::error_code ec;
    if (!fs::is_directory(d, ec))
      add_value(out, p, "folder not found: " + d.string());
    else
      dirs.push_back(d);
  }
  return dirs;
}

namespace {

// Why a top-level key cannot be a sweep target ("" when it can).
std::string not_sweepable_reason(const std::string& root, const std::string& what) {
  if (is_sweepable(root)) return "";
  if (is_spec_field(root))
    return "`" + root + "` cannot be changed by " + what + " (it is shared by every sweep point; " + what +
           " may change " + backquoted_list(sweepable_fields()) + ")";
  return "`" + root + "` is not a field" + did_you_mean(root, sweepable_fields()) + " (" + what +
         " may change " + backquoted_list(sweepable_fields()) + ")";
}

}  // namespace

SweepDef check_sweep(const json& doc, Findings& out) {
  SweepDef sw;
  auto it = doc.find("sweep");
  if (it == doc.end()) return sw;
  if (!expect_object(*it, "sweep", out)) return sw;
  check_keys(*it, "sweep", {"grid", "variants", "random"}, "sweep field", out);

  if (auto g = it->find("grid"); g != it->end()) {
    if (expect_object(*g, "sweep.grid", out)) {
      for (auto a = g->begin(); a != g->end(); ++a) {
        const std::string gp = path_key("sweep.grid", a.key());
        std::string error;
        auto segs = parse_path(a.key(), error);
        if (!segs) {
          add_key(out, gp, "not a path into the spec: " + error);
          continue;
        }
        if ((*segs)[0].is_index) {
          add_key(out, gp, "a grid key starts with a field name, e.g. `training.lr`");
          continue;
        }
        if (auto why = not_sweepable_reason((*segs)[0].key, "a sweep"); !why.empty()) {
          add_key(out, gp, why);
          continue;
        }
        if (!a->is_array() || a->empty()) {
          add_value(out, gp,
                    a->is_array() ? "must list at least one value" : type_message("a list of values", *a));
          continue;
        }
        GridAxis axis{a.key(), format_path(*segs), *segs, a->get<std::vector<json>>()};
        bool overlap = false;
        for (const auto& other : sw.grid) {
          if (path_within(axis.path, other.path) || path_within(other.path, axis.path)) {
            add_key(out, gp,
                    "overlaps " + path_key("sweep.grid", other.key) + " (one path inside the other)");
            overlap = true;
          }
        }
        if (!overlap) sw.grid.push_back(std::move(axis));
      }
    }
  }

  if (auto v = it->find("variants"); v != it->end()) {
    sw.has_variants = true;
    if (!v->is_array()) {
      add_value(out, "sweep.variants", type_message("a list of variants", *v));
    } else if (v->empty()) {
      add_value(out, "sweep.variants", "must list at least one variant");
    } else {
      std::map<std::string, size_t> seen, seen_label;
      std::vector<std::string> allowed = sweepable_fields();
      allowed.insert(allowed.begin(), {"name", "label"});
      for (size_t i = 0; i < v->size(); ++i) {
        const std::string p = path_index("sweep.variants", i);
        const json& var = (*v)[i];
        if (!expect_object(var, p, out)) continue;
        VariantDef def;
        def.index = i;
        def.patch = json::object();
        auto name = string_field(var, "name", p, true, out);
        if (name) {
          if (auto prev = seen.find(*name); prev != seen.end()) {
            add_value(out, path_key(p, "name"),
                      "duplicate variant name `" + *name + "` (also " +
                          path_index("sweep.variants", prev->second) + ".name)");
            name.reset();  // expanded once only
          } else {
            seen[*name] = i;
            def.name = *name;
          }
        }
        // `label`: the display name in leaderboards and the report. Not part of the patch (nor of any
        // identity), so relabelling changes no cell; read back from the stored spec_json
        // (docs/database.md "Leaderboards").
        if (auto label = string_field(var, "label", p, false, out)) {
          if (auto prev = seen_label.find(*label); prev != seen_label.end())
            add_value(out, path_key(p, "label"),
                      "duplicate variant label `" + *label + "` (also " +
                          path_index("sweep.variants", prev->second) + ".label)");
          else
            seen_label[*label] = i;
        }
        for (auto k = var.begin(); k != var.end(); ++k) {
          if (k.key() == "name" || k.key() == "label") continue;
          if (auto why = not_sweepable_reason(k.key(), "a variant"); !why.empty()) {
            add_key(out, path_key(p, k.key()), why);
            continue;
          }
          def.patch[k.key()] = k.value();
        }
        if (name) sw.variants.push_back(std::move(def));
      }
    }
  }

  if (auto r = it->find("random"); r != it->end()) {
    if (expect_object(*r, "sweep.random", out)) {
      check_keys(*r, "sweep.random", {"count", "seed", "training"}, "field of sweep.random", out);
      // Opt-in: training settings with a search distribution (training.lr, training.weight_decay) are drawn
      // too, so that methods without hyperparameters of their own (ERM) get as many distinct points as the
      // others (an equal random-search budget, as DomainBed draws lr and weight decay for every algorithm).
      if (auto t = r->find("training"); t != r->end()) {
        if (!t->is_array()) {
          add_value(out, "sweep.random.training", type_message("a list of training setting names", *t));
        } else {
          for (size_t i = 0; i < t->size(); ++i) {
            const json& e = (*t)[i];
            const std::string at = "sweep.random.training[" + std::to_string(i) + "]";
            const ParamDecl* decl = nullptr;
            if (e.is_string())
              for (const auto& d : training_params())
                if (d.name == e.get<std::string>()) decl = &d;
            std::string searchable;
            for (const auto& d : training_params())
              if (d.search.kind != Search::Kind::None) searchable += (searchable.empty() ? "" : ", ") + d.name;
            if (!e.is_string())
              add_value(out, at, type_message("a training setting name", e));
            else if (!decl || decl->search.kind == Search::Kind::None)
              add_value(out, at, "`" + e.get<std::string>() + "` is not a training setting with a search " +
                                     "distribution (those are: " + searchable + ")");
            else if (std::find(sw.random_training.begin(), sw.random_training.end(), decl->name) !=
                     sw.random_training.end())
              add_value(out, at, "`" + decl->name + "` is listed twice");
            else
              sw.random_training.push_back(decl->name);
          }
        }
      }
      auto c = r->find("count");
      if (c == r->end()) {
        add_value(out, "sweep.random.count", "required field is missing (how many random draws)");
      } else if (auto n = as_integer(*c); !n || *n < 1 || *n > 10000) {
        add_value(out, "sweep.random.count",
                  n ? "must be between 1 and 10000, got " + std::to_string(*n)
                    : type_message("a whole number", *c));
      } else {
        sw.random_count = *n;
      }
      if (auto s = r->find("seed"); s != r->end()) {
        auto n = as_integer(*s);
        if (!n || *n < 0) {
          add_value(out, "sweep.random.seed",
                    n ? "must be >= 0, got " + std::to_string(*n) : type_message("a whole number", *s));
          sw.random_count = 0;
        } else {
          sw.random_seed = *n;
        }
      }
    }
  }
  return sw;
}

std::vector<std::pair<std::string, std::string>> check_comparisons(const json& doc, const SweepDef& sweep,
                                                                   const std::string& name, Findings& out) {
  std::vector<std::pair<std::string, std::string>> family;
  auto it = doc.find("comparisons");
  if (it == doc.end()) return family;
  if (!it->is_array()) {
    add_value(out, "comparisons", type_message("a list of {\"a\": selector, \"b\": selector}", *it));
    return family;
  }
  // A bare word in a selector names a variant or the experiment (merx/compare/compare.h); checking it here
  // catches the common typo before the runs, not after. KEY=VALUE terms match what the runs store and are
  // left to `merx db compare`.
  std::vector<std::string> bare = {name};
  for (const auto& v : sweep.variants) bare.push_back(v.name);
  std::map<std::pair<std::string, std::string>, size_t> seen;
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string p = path_index("comparisons", i);
    const json& c = (*it)[i];
    if (!expect_object(c, p, out)) continue;
    check_keys(c, p, {"a", "b"}, "comparison field", out);
    std::optional<std::string> a = string_field(c, "a", p, true, out), b = string_field(c, "b", p, true, out);
    bool ok = a && b;
    for (const auto* side : {&a, &b}) {
      if (!*side) continue;
      const std::string sp = path_key(p, side == &a ? "a" : "b");
      if ((*side)->empty()) {
        add_value(out, sp, "a selector must not be empty");
        ok = false;
        continue;
      }
      std::string term;
      std::istringstream terms(**side);
      while (std::getline(terms, term, ',')) {
        if (term.find('=') != std::string::npos || term.empty()) continue;
        if (std::find(bare.begin(), bare.end(), term) == bare.end()) {
          add_value(out, sp,
                    "`" + term + "` names no variant of this spec nor the experiment" +
                        did_you_mean(term, bare) + " (a bare word is a variant name; use KEY=VALUE otherwise)");
          ok = false;
        }
      }
    }
    if (!ok) continue;
    if (*a == *b) {
      add_value(out, p, "compares `" + *a + "` with itself");
      continue;
    }
    if (auto prev = seen.find({*a, *b}); prev != seen.end()) {
      add_value(out, p, "the same comparison is listed twice (also " + path_index("comparisons", prev->second) + ")");
      continue;
    }
    seen[{*a, *b}] = i;
    family.emplace_back(*a, *b);
  }
  return family;
}

}  // namespace merx::spec_internal
