// make_plan: shared sections, folds, sweep expansion with provenance of every problem, identities.
#include "merx/spec/plan.h"

#include <algorithm>
#include <limits>
#include <set>

#include "merx/hash.h"
#include "merx/suggest.h"
#include "spec/internal.h"

namespace merx {

using namespace spec_internal;

const PluginInfo* PluginCatalog::find(PluginKind kind, const std::string& name) const {
  for (const auto& p : plugins)
    if (p.kind == kind && p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> PluginCatalog::names(PluginKind kind) const {
  std::vector<std::string> n;
  for (const auto& p : plugins)
    if (p.kind == kind) n.push_back(p.name);
  std::sort(n.begin(), n.end());
  return n;
}

std::string SweepPoint::label() const {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (!variant.empty()) add("variant `" + variant + "`");
  for (const json* j : {&assignments, &draws})
    for (auto it = j->begin(); it != j->end(); ++it) add(it.key() + "=" + it.value().dump());
  return s;
}

const Fold* Plan::find_fold(const std::string& id) const {
  for (const auto& f : folds)
    if (f.id == id) return &f;
  return nullptr;
}

const DatasetSpec* Plan::find_dataset(const std::string& name) const {
  for (const auto& d : datasets)
    if (d.name == name) return &d;
  return nullptr;
}

const DatasetSpec* Plan::twin_of(const std::string& name) const {
  for (const auto& d : datasets)
    if (!name.empty() && d.counterfactual_of == name) return &d;
  return nullptr;
}

std::vector<std::string> Plan::domains() const {
  std::vector<std::string> n;
  for (const auto& d : datasets)
    if (d.counterfactual_of.empty()) n.push_back(d.name);
  return n;
}

std::string thousands(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

CellCount count_cells(std::vector<CellFactor> factors) {
  CellCount c;
  c.factors = std::move(factors);
  for (const auto& f : c.factors) {
    if (f.size == 0) {  // an empty factor makes the product 0, saturated or not
      c.cells = 0;
      c.saturated = false;
      break;
    }
    if (c.cells > std::numeric_limits<uint64_t>::max() / f.size) {
      c.cells = std::numeric_limits<uint64_t>::max();
      c.saturated = true;
    } else if (!c.saturated) {
      c.cells *= f.size;
    }
  }
  return c;
}

std::string CellCount::text() const {
  std::string s;
  bool in_grid = false;
  for (const auto& f : factors) {
    if (!s.empty()) s += " × ";
    using K = CellFactor::Kind;
    const bool grid = f.kind == K::GridKey;
    switch (f.kind) {
      case K::Variants:
        s += "sweep.variants (" + thousands(f.size) + ")";
        break;
      case K::GridKey:
        s += (in_grid ? "" : "sweep.grid ") + f.name + " (" + thousands(f.size) + ")";
        break;
      case K::RandomDraws:
        s += "sweep.random.count (" + thousands(f.size) + ")";
        break;
      case K::Folds:
        s += thousands(f.size) + (f.size == 1 ? " fold" : " folds");
        break;
      case K::Seeds:
        s += thousands(f.size) + (f.size == 1 ? " seed" : " seeds");
        break;
    }
    in_grid = grid;
  }
  if (s.empty()) s = "1 sweep point";
  return s + " = " + (saturated ? "more than " : "") + thousands(cells) + (cells == 1 ? " cell" : " cells");
}

namespace {

constexpr int kIdentityVersion = 1;  // bump only on purpose: it renames every cell

// Where a sweep point's settings came from, to report each problem where the user can fix it.
struct Origin {
  const VariantDef* variant = nullptr;
  std::vector<std::pair<const GridAxis*, size_t>> grid;  // axis, value index
  std::vector<std::string> random_paths;
};

// True when the variant's merge patch wrote `path` (or a value containing it).
bool variant_sets(const json& patch, const std::string& path) {
  std::string error;
  auto segs = parse_path(path, error);
  if (!segs || segs->empty()) return false;
  const json* node = &patch;
  for (const auto& seg : *segs) {
    if (!node->is_object()) return true;  // the variant wrote a whole value (a list, a scalar) above `path`
    if (seg.is_index) return false;
    auto it = node->find(seg.key);
    if (it == node->end()) return false;
    node = &*it;
  }
  return true;
}

Finding map_finding(Finding f, const Origin& o) {
  for (const auto& [axis, value] : o.grid) {
    if (!path_within(f.path, axis->path)) continue;
    const std::string gp = path_key("sweep.grid", axis->key);
    const std::string rest = f.path.substr(axis->path.size());
    f.path = rest.empty() && f.about_key ? gp : path_index(gp, value) + rest;
    return f;
  }
  for (const auto& r : o.random_paths) {
    if (!path_within(f.path, r)) continue;
    f.message = "drawn value for `" + f.path + "`: " + f.message;
    f.path = "sweep.random";
    return f;
  }
  if (o.variant && variant_sets(o.variant->patch, f.path)) {
    const std::string vp = path_index("sweep.variants", o.variant->index);
    f.path = vp + (f.path.empty() || f.path[0] == '[' ? f.path : "." + f.path);
  }
  return f;
}

// Collects findings from the shared sections and from every sweep point, merging repeats.
class Collector {
 public:
  void add(const Finding& f, std::optional<size_t> point) {
    const std::string key = std::string(f.warning ? "w" : "e") + f.path + '\n' + f.message;
    auto it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(key, entries_.size()).first;
      entries_.push_back({f, {}, false});
    }
    Entry& e = entries_[it->second];
    if (point)
      e.points.insert(*point);
    else
      e.global = true;
  }
  void add_all(const Findings& fs) {
    for (const auto& f : fs) add(f, std::nullopt);
  }
  bool has_errors() const {
    for (const auto& e : entries_)
      if (!e.f.warning) return true;
    return false;
  }
  // A problem at a base path that only some sweep points have says which ones.
  std::vector<Problem> finish(bool warnings, const std::vector<SweepPoint>& points) const {
    std::vector<Problem> out;
    for (const auto& e : entries_) {
      if (e.f.warning != warnings) continue;
      std::string msg = e.f.message;
      const bool sweep_path = path_within(e.f.path, "sweep");
      if (!e.global && !sweep_path && e.points.size() < points.size()) {
        if (e.points.size() == 1) {
          msg += " (in sweep point " + std::to_string(*e.points.begin()) + ": " +
                 points[*e.points.begin()].label() + ")";
        } else {
          std::string list;
          for (size_t p : e.points) list += (list.empty() ? "" : ", ") + std::to_string(p);
          msg += " (in sweep points " + list + ")";
        }
      }
      out.push_back({e.f.path, msg});
    }
    return out;
  }

 private:
  struct Entry {
    Finding f;
    std::set<size_t> points;
    bool global;
  };
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
};

// Sets `value` at `segs`, creating objects for missing keys.
bool set_path(json& doc, const JsonPath& segs, const json& value, std::string& error) {
  json* node = &doc;
  JsonPath walked;
  for (const auto& seg : segs) {
    if (seg.is_index) {
      if (!node->is_array() || seg.index >= node->size()) {
        error = "`" + format_path(walked) + "` has no element " + std::to_string(seg.index);
        return false;
      }
      node = &(*node)[seg.index];
    } else {
      if (node->is_null()) *node = json::object();
      if (!node->is_object()) {
        error = "`" + format_path(walked) + "` is " + describe(*node) + ", not an object";
        return false;
      }
      node = &(*node)[seg.key];
    }
    walked.push_back(seg);
  }
  *node = value;
  return true;
}

std::vector<Fold> make_folds(const Plan& plan, const PlanOptions& options, Findings& out) {
  std::vector<Fold> folds;
  const ProtocolSpec& ps = plan.protocol;
  const std::vector<std::string> all = plan.domains();  // counterfactual twins are no domains
  auto in_spec_order = [&](const std::vector<std::string>& names) {
    std::vector<std::string> r;
    for (const auto& n : all)
      if (std::find(names.begin(), names.end(), n) != names.end()) r.push_back(n);
    return r;
  };
  if (ps.name == "lodo") {
    for (const auto& t : ps.targets) {
      Fold f;
      f.id = t;
      for (const auto& n : all)
        if (n != t) f.train.push_back(n);
      f.test = {t};
      folds.push_back(f);
    }
  } else if (ps.name == "hde") {
    for (const auto& h : ps.pairs) {
      Fold f;
      std::vector<std::string> sorted = h.sources;
      std::sort(sorted.begin(), sorted.end());
      for (const auto& s : sorted) f.id += (f.id.empty() ? "" : "+") + s;
      f.id += "->" + h.target;
      f.train = in_spec_order(h.sources);
      f.test = {h.target};
      folds.push_back(f);
    }
  } else if (ps.name == "kfold_subject") {
    for (int64_t i = 0; i < ps.k; ++i) {
      Fold f;
      f.id = "k" + std::to_string(i);
      f.train = all;
      f.test = all;
      folds.push_back(f);
    }
  } else if (ps.name == "loso") {
    if (!options.subjects) {
      add_value(out, "protocol.name",
                "loso makes one fold per subject and needs the dataset index to list the subjects of each "
                "dataset; it is not available to this command (no subject provider)");
      return {};
    }
    for (size_t i = 0; i < plan.datasets.size(); ++i) {
      const DatasetSpec& d = plan.datasets[i];
      if (!d.counterfactual_of.empty()) continue;  // its subjects are tested with the original's folds
      std::vector<std::string> subjects;
      try {
        subjects = options.subjects(d);
      } catch (const UserError& e) {
        add_value(out, path_index("datasets", i), std::string("cannot list the subjects: ") + e.what());
        continue;
      }
      std::sort(subjects.begin(), subjects.end());
      subjects.erase(std::unique(subjects.begin(), subjects.end()), subjects.end());
      if (subjects.empty())
        add_value(out, path_index("datasets", i), "no subjects found (loso needs at least one)");
      for (const auto& s : subjects) {
        Fold f;
        f.id = d.name + "/" + s;
        f.subject = f.id;
        f.train = all;
        f.test = {d.name};
        folds.push_back(f);
      }
    }
  }
  for (auto& f : folds) {
    f.content = {{"protocol", ps.name}, {"fold", f.id}};
    if (ps.name == "kfold_subject") f.content["k"] = ps.k;  // k5/k0 and k10/k0 are different subject sets
  }
  return folds;
}

json dataset_content(const DatasetSpec& d) {
  json j = {{"name", d.name}, {"adapter", d.adapter}, {"options", d.options}};
  if (!d.annotations_sha256.empty()) j["annotations_sha256"] = d.annotations_sha256;
  if (!d.counterfactual_of.empty()) j["counterfactual_of"] = d.counterfactual_of;
  return j;
}

// The datasets named, sorted by name (so the order of the spec's list does not matter).
json datasets_content(const Plan& plan, std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  json a = json::array();
  for (const auto& n : names)
    if (const DatasetSpec* d = plan.find_dataset(n)) a.push_back(dataset_content(*d));
  return a;
}

json cell_document(const Plan& plan, const SweepPoint& pt, const Fold& fold, int64_t seed) {
  json j = pt.content;
  std::vector<std::string> names = fold.train;
  names.insert(names.end(), fold.test.begin(), fold.test.end());
  // A twin of a test dataset is predicted by this cell: its content is part of the identity.
  for (const auto& t : fold.test)
    if (const DatasetSpec* twin = plan.twin_of(t)) names.push_back(twin->name);
  j["v"] = kIdentityVersion;
  j["fold"] = fold.content;
  j["seed"] = seed;
  j["datasets"] = datasets_content(plan, names);
  return j;
}

json group_document(const Plan& plan, const SweepPoint& pt, int64_t seed) {
  json j = pt.content;
  std::vector<std::string> names, fold_ids;
  for (const auto& d : plan.datasets) names.push_back(d.name);
  for (const auto& f : plan.folds) fold_ids.push_back(f.id);
  std::sort(fold_ids.begin(), fold_ids.end());
  json protocol = {{"name", plan.protocol.name}, {"folds", fold_ids}};
  if (plan.protocol.name == "kfold_subject") protocol["k"] = plan.protocol.k;
  j["v"] = kIdentityVersion;
  j["protocol"] = protocol;
  j["seed"] = seed;
  j["datasets"] = datasets_content(plan, names);
  return j;
}

uint64_t cell_seed_of(const std::string& fold, int64_t seed) {
  return hash64(canonical_json({{"fold", fold}, {"seed", seed}}));
}

// Random draws for one point: every searchable parameter of the chosen plugins not set explicitly.
bool draw_point(json& doc, const PluginCatalog& catalog, int64_t search_seed, int64_t draw,
                const std::vector<std::string>& training, SweepPoint& pt, Origin& origin) {
  bool any = false;
  // Training settings listed in sweep.random.training, unless set explicitly (spec, variant, grid point).
  // The same draw for every variant: ERM and BRL at draw r train with the same lr (paired designs).
  for (const std::string& name : training) {
    if (doc.contains("training") && !doc["training"].is_object()) break;  // reported by validation
    if (doc.contains("training") && doc["training"].contains(name)) continue;
    for (const auto& decl : training_params()) {
      if (decl.name != name) continue;
      const json v = draw_param(decl, "training", "", search_seed, draw);
      doc["training"][name] = v;
      const std::string path = path_key("training", name);
      pt.draws[path] = v;
      origin.random_paths.push_back(path);
      any = true;
    }
  }
  for (PluginKind kind : {PluginKind::Backbone, PluginKind::Regularizer, PluginKind::Augmenter}) {
    const std::string key = to_string(kind);
    auto it = doc.find(key);
    if (it != doc.end() && !it->is_object()) continue;  // reported by validation
    std::string name = kind == PluginKind::Backbone ? "" : "none";
    if (it != doc.end() && it->contains("name")) {
      if (!(*it)["name"].is_string()) continue;
      name = (*it)["name"].get<std::string>();
    }
    const PluginInfo* info = catalog.find(kind, name);
    if (!info) continue;
    for (const auto& decl : info->params) {
      if (decl.search.kind == Search::Kind::None) continue;
      json& block = doc[key];
      if (block.is_null()) block = json::object();
      if (block.contains("params") && !block["params"].is_object()) break;  // reported by validation
      if (block.contains("params") && block["params"].contains(decl.name)) continue;
      const json v = draw_param(decl, kind, name, search_seed, draw);
      block["params"][decl.name] = v;
      const std::string path = path_key(path_key(key, "params"), decl.name);
      pt.draws[path] = v;
      origin.random_paths.push_back(path);
      any = true;
    }
  }
  return any;
}

}  // namespace

Plan make_plan(const SpecSource& src, const PluginCatalog& catalog, const PlanOptions& options) {
  const json& doc = src.document;
  if (!doc.is_object()) throw ValidationError({{"", "the spec must be a JSON object, got " + describe(doc)}});
  Plan plan;
  plan.spec_file = src.file;
  plan.base_dir = src.base_dir;
  plan.spec = doc;
  plan.spec_canonical = canonical_json(doc);
  plan.spec_hash = sha256_hex(plan.spec_canonical);

  // ---- shared sections ----
  Findings base;
  check_keys(doc, "", spec_fields(), "field", base);
  plan.name = check_name(doc, base);
  if (doc.contains("description"))
    plan.description = string_field(doc, "description", "", false, base).value_or("");
  bool datasets_ok = false;
  plan.datasets = check_datasets(doc, src.base_dir, datasets_ok, base);
  std::vector<std::string> names;
  std::map<std::string, std::string> twins;  // counterfactual twin -> the dataset it names
  size_t dataset_count = 0;
  if (auto d = doc.find("datasets"); d != doc.end() && d->is_array()) {
    dataset_count = d->size();
    for (const auto& e : *d)
      if (e.is_object() && e.contains("name") && e["name"].is_string()) {
        names.push_back(e["name"].get<std::string>());
        if (e.contains("counterfactual_of") && e["counterfactual_of"].is_string())
          twins.emplace(names.back(), e["counterfactual_of"].get<std::string>());
      }
  }
  auto protocol = check_protocol(doc, names, dataset_count, twins, base);
  plan.seeds = check_seeds(doc, base);
  plan.output = check_output(doc, src.base_dir, base);
  plan.plugin_paths = check_plugin_paths(doc, src.base_dir, base);
  plan.save_models = check_save_models(doc, base);
  const SweepDef sweep = check_sweep(doc, base);
  plan.comparisons = check_comparisons(doc, sweep, plan.name, base);
  if (datasets_ok && protocol) {
    plan.protocol = *protocol;
    plan.folds = make_folds(plan, options, base);
  }
  Collector col;
  col.add_all(base);

  // ---- sweep points: variants x grid points x random draws ----
  PointContext ctx{catalog, src.base_dir, {}, 0, "", {}};
  for (const auto& d : plan.datasets) ctx.adapters.emplace_back(d.name, d.adapter);
  for (const auto& f : plan.folds) {
    if (ctx.min_train_datasets == 0 || f.train.size() < ctx.min_train_datasets) {
      ctx.min_train_datasets = f.train.size();
      ctx.min_train_fold = f.id;
    }
  }
  json base_point = json::object();
  for (const auto& k : sweepable_fields())
    if (doc.contains(k)) base_point[k] = doc[k];

  std::vector<const VariantDef*> variants;
  if (sweep.has_variants)
    for (const auto& v : sweep.variants) variants.push_back(&v);
  else
    variants.push_back(nullptr);
  const int64_t draws = std::max<int64_t>(1, sweep.random_count);
  // Count before expanding: each point is checked and each cell hashed, so a sweep of millions must be
  // refused here, from the sizes alone. Folds or seeds that are invalid (reported below) are left out.
  std::vector<CellFactor> factors;
  if (sweep.has_variants) factors.push_back({CellFactor::Kind::Variants, "", sweep.variants.size()});
  for (const auto& a : sweep.grid) factors.push_back({CellFactor::Kind::GridKey, a.key, a.values.size()});
  if (sweep.random_count > 0)
    factors.push_back({CellFactor::Kind::RandomDraws, "", static_cast<uint64_t>(sweep.random_count)});
  if (!plan.folds.empty()) factors.push_back({CellFactor::Kind::Folds, "", plan.folds.size()});
  if (!plan.seeds.empty()) factors.push_back({CellFactor::Kind::Seeds, "", plan.seeds.size()});
  const CellCount count = count_cells(std::move(factors));
  if (count.saturated)  // not even --allow-large: the grid index below would wrap around
    throw UserError(count.text() + ": too many to expand on any machine");
  if (!options.allow_large && count.cells > kMaxPlanCells)
    throw UserError(count.text() + ", above the limit of " + thousands(kMaxPlanCells) +
                    "; pass --allow-large to expand it anyway");
  size_t combos = 1;  // no overflow: a factor of a product that did not saturate
  for (const auto& a : sweep.grid) combos *= a.values.size();

  std::vector<const VariantDef*> point_variant;
  std::map<std::string, size_t> first_with_hash;
  for (const VariantDef* v : variants) {
    for (size_t c = 0; c < combos; ++c) {
      for (int64_t r = 0; r < draws; ++r) {
        SweepPoint pt;
        pt.index = plan.points.size();
        pt.variant = v ? v->name : "";
        Origin origin;
        origin.variant = v;
        json pdoc = base_point;
        if (v) pdoc.merge_patch(v->patch);
        // Grid point c in mixed radix: the last axis (keys sorted by byte order) varies fastest.
        size_t rest = c;
        std::vector<size_t> idx(sweep.grid.size());
        for (size_t a = sweep.grid.size(); a-- > 0;) {
          idx[a] = rest % sweep.grid[a].values.size();
          rest /= sweep.grid[a].values.size();
        }
        for (size_t a = 0; a < sweep.grid.size(); ++a) {
          const GridAxis& axis = sweep.grid[a];
          std::string error;
          if (!set_path(pdoc, axis.segments, axis.values[idx[a]], error)) {
            col.add({path_key("sweep.grid", axis.key), "cannot be set: " + error, true, false}, std::nullopt);
            continue;
          }
          pt.assignments[axis.path] = axis.values[idx[a]];
          origin.grid.push_back({&axis, idx[a]});
        }
        if (sweep.random_count > 0 && !draw_point(pdoc, catalog, sweep.random_seed, r, sweep.random_training, pt, origin))
          col.add({"sweep.random",
                   "nothing to draw: no parameter of the chosen plugins has a search distribution and is "
                   "left unset" +
                       std::string(v ? " (variant `" + v->name + "`)" : ""),
                   false, false},
                  std::nullopt);
        Findings pf;
        const bool ok = check_point(pdoc, ctx, pt, pf);
        // Identical sweep points (compared among valid ones only: defaults stand in for invalid values).
        if (ok) {
          auto [it, fresh] = first_with_hash.emplace(pt.hash, pt.index);
          if (!fresh) {
            const SweepPoint& a = plan.points[it->second];
            const bool same_variant = point_variant[a.index] == v;
            const bool same_grid = pt.assignments.dump() == a.assignments.dump();  // dump: json has 1 == 1.0
            if (same_variant && same_grid) {
              // Random draws from a small domain collide by chance: keep the first, say so.
              col.add({"sweep.random",
                       "draw " + std::to_string(r) + " repeats sweep point " + std::to_string(a.index) +
                           " (" + a.label() + "); dropped",
                       false, true},
                      std::nullopt);
              continue;
            }
            const std::string path =
                !same_variant && v ? path_index("sweep.variants", v->index) : "sweep.grid";
            col.add({path,
                     "sweep points " + std::to_string(a.index) + " (" + a.label() + ") and " +
                         std::to_string(pt.index) + " (" + pt.label() +
                         ") resolve to the same settings; remove one or make them differ",
                     false, false},
                    std::nullopt);
          }
        }
        for (const auto& f : pf) col.add(map_finding(f, origin), pt.index);
        point_variant.push_back(v);
        plan.points.push_back(std::move(pt));
      }
    }
  }

  if (col.has_errors()) throw ValidationError(col.finish(false, plan.points));
  plan.warnings = col.finish(true, plan.points);

  // ---- groups and cells: point, seed, fold ----
  {
    std::vector<std::string> all;
    for (const auto& d : plan.datasets) all.push_back(d.name);
    plan.data_version = sha256_hex(canonical_json(datasets_content(plan, all)));  // as in group_document
  }
  for (const auto& pt : plan.points) {
    for (int64_t seed : plan.seeds) {
      Group g;
      g.point = pt.index;
      g.seed = seed;
      g.identity = sha256_hex(canonical_json(group_document(plan, pt, seed)));
      for (const auto& f : plan.folds) {
        Cell c;
        c.identity = sha256_hex(canonical_json(cell_document(plan, pt, f, seed)));
        c.group = g.identity;
        c.point = pt.index;
        c.fold = f.id;
        c.seed = seed;
        c.cell_seed = cell_seed_of(f.id, seed);
        plan.cells.push_back(std::move(c));
      }
      plan.groups.push_back(std::move(g));
    }
  }
  plan.summary.cells = plan.cells.size();
  for (const auto& f : plan.folds)
    plan.summary.cells_per_fold.push_back({f.id, plan.points.size() * plan.seeds.size()});
  plan.summary.cells_per_point.assign(plan.points.size(), plan.seeds.size() * plan.folds.size());
  return plan;
}

std::string cell_identity_document(const Plan& plan, const Cell& cell) {
  const Fold* f = plan.find_fold(cell.fold);
  if (!f || cell.point >= plan.points.size())
    throw std::invalid_argument("cell does not belong to this plan");
  return canonical_json(cell_document(plan, plan.points[cell.point], *f, cell.seed));
}

std::string group_identity_document(const Plan& plan, const Group& group) {
  if (group.point >= plan.points.size()) throw std::invalid_argument("group does not belong to this plan");
  return canonical_json(group_document(plan, plan.points[group.point], group.seed));
}

}  // namespace merx
