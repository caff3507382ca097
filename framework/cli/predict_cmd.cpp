// `merx predict DB (--cell CELL | --target T [--variant V] [--seed S])
//               (--spec SPEC [--dataset NAME]... | --adapter A --root R [--annotations F] [--options JSON]
//                | --frames DIR [--onset N] [--apex N] [--offset N] [--face-cropped])
//               [--out FILE] [--format csv|json] [--cache DIR] [--jobs N]`
//
// Applies the saved model of one done cell (docs/engine.md "Saved models") to clips: a corpus read by its
// adapter (every clip, labelled or not), or one folder of frames. The clips are preprocessed exactly as in
// training (the recipe and its parameters from the model's manifest, through the same feature cache), fed in
// sheet order in batches of 256 as evaluation does, so predicting a cell's own test clips reproduces its
// stored predictions bit for bit (tests/engine/predict_test.cpp).
//
// Output, one row per clip (CSV by default, JSON with --format json or an --out ending in .json):
//   sample_key, dataset, subject, clip, onset, apex, offset (frame numbers), apex_estimated (the apex was
//   estimated: by the corpus rule or, without one, by preprocessing), face_fallback (no face found: centre
//   crop), emotion (native label, "" when none), true_class (the label under the model's mapping, "" when the
//   clip has none or it is not a class of the model), predicted_class, p_<class> for every class of the model
//   (float32 softmax values printed with 9 significant digits, which give back the float exactly), error
//   (why a clip could not be preprocessed; its prediction fields are then empty).
// A summary on stderr gives accuracy and UF1 over the clips whose true_class is a class of the model.
// Exit codes: 2 for user errors (unknown cell, a cell without a saved model, a model file this build cannot
// read, a folder without frames, bad arguments), 1 when no clip could be preprocessed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <opencv2/core/utility.hpp>

#include "cli/commands.h"
#include "cli/json_arg.h"
#include "cli/spec_common.h"
#include "merx/csv.h"
#include "merx/datasets/frames.h"
#include "merx/datasets/labels.h"
#include "merx/datasets/load.h"
#include "merx/engine/saved_model.h"
#include "merx/errors.h"
#include "merx/metrics/metrics.h"
#include "merx/preprocessing/cache.h"
#include "merx/spec/folds.h"
#include "merx/store/model_files.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct PredictArgs {
  std::string db, cell, variant, target;
  std::optional<int64_t> seed;
  SpecArgs spec;
  std::vector<std::string> datasets;
  std::string adapter, root, annotations, options;
  std::string frames;
  std::optional<int64_t> onset, apex, offset;
  bool face_cropped = false;
  std::string out, format, cache;
  int jobs = 0;
};

// Evaluation's batch (engine::CellConfig::eval_batch default): the same rows in the same batches.
constexpr int64_t kBatch = 256;

std::string text_of(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "";
}

// The cell named by --cell, or the one done cell of --variant on --target (lowest seed unless --seed).
std::string choose_cell(const Store& store, const PredictArgs& a) {
  if (!a.cell.empty()) {
    if (!a.variant.empty() || !a.target.empty())
      throw UserError("give --cell, or --variant with --target, not both");
    return resolve_cell(store, a.cell);
  }
  if (a.target.empty())
    throw UserError(a.variant.empty() ? "choose the model: --cell ID|IDENTITY-PREFIX, or --target DATASET "
                                        "[--variant NAME]"
                                      : "--variant goes with --target DATASET");
  struct Candidate {
    std::string identity, fold, point_hash, experiment, variant;
    int64_t id = 0, seed = 0;
  };
  std::vector<Candidate> found;
  store.query(
      "SELECT c.id, c.identity, c.fold_id, g.seed, g.point_hash, e.name, g.variant FROM cells c "
      "JOIN groups g ON g.id = c.group_id JOIN experiments e ON e.id = g.experiment_id "
      "WHERE (?1 IS NULL OR g.variant = ?1) AND (c.target = ?2 OR c.fold_id = ?2) AND c.status = 'done' "
      "ORDER BY g.seed, c.id",
      {a.variant.empty() ? SqlValue() : SqlValue(a.variant), a.target}, [&](const std::vector<SqlValue>& r) {
        found.push_back({text_of(r[1]), text_of(r[2]), text_of(r[4]), text_of(r[5]), text_of(r[6]),
                         std::get<int64_t>(r[0]), std::get<int64_t>(r[3])});
      });
  if (found.empty()) {
    std::set<std::string> variants;
    store.query("SELECT DISTINCT variant FROM groups ORDER BY variant", {},
                [&](const std::vector<SqlValue>& r) { variants.insert(text_of(r[0])); });
    std::string list;
    for (const auto& v : variants) list += (list.empty() ? "" : ", ") + v;
    throw UserError("no done cell of variant '" + a.variant + "' with target or fold '" + a.target + "' in " +
                    store.path() + " (variants: " + (list.empty() ? "none" : list) + ")");
  }
  if (a.variant.empty()) {  // a spec without variants has one (named ""); otherwise the user must pick
    std::set<std::string> variants;
    for (const auto& c : found) variants.insert(c.variant);
    if (variants.size() > 1) {
      std::string list;
      for (const auto& v : variants) list += (list.empty() ? "" : ", ") + (v.empty() ? "\"\"" : v);
      throw UserError("cells of several variants have target or fold '" + a.target + "' (" + list +
                      "); pick one with --variant");
    }
  }
  const int64_t seed = a.seed ? *a.seed : found.front().seed;
  std::vector<Candidate> chosen;
  for (const auto& c : found)
    if (c.seed == seed) chosen.push_back(c);
  if (chosen.empty())
    throw UserError("variant '" + a.variant + "' on '" + a.target + "' has no done cell with seed " +
                    std::to_string(seed) + " (lowest seed: " + std::to_string(found.front().seed) + ")");
  if (chosen.size() > 1) {
    std::string list;
    for (size_t i = 0; i < chosen.size() && i < 8; ++i)
      list += "\n  cell " + std::to_string(chosen[i].id) + "  " + chosen[i].identity.substr(0, 12) + "  fold " +
              chosen[i].fold + "  experiment " + chosen[i].experiment + "  point " +
              chosen[i].point_hash.substr(0, 8);
    throw UserError("variant '" + a.variant + "' on '" + a.target + "' (seed " + std::to_string(seed) +
                    ") matches " + std::to_string(chosen.size()) +
                    " done cells (several folds, sweep points or experiments); pick one with --cell:" + list);
  }
  if (!a.seed && found.back().seed != seed)
    spdlog::info("variant '{}' on '{}': using seed {} (the lowest; --seed picks another)", a.variant, a.target,
                 seed);
  return chosen.front().identity;
}

// One folder of frames as a clip: frames numbered onset..offset (default: first..last), apex given or
// left to preprocessing (max mean flow magnitude from the onset).
SampleRecord frames_sample(const PredictArgs& a) {
  const fs::path folder = fs::absolute(a.frames).lexically_normal();
  std::vector<FrameFile> files = list_frames(folder);  // UserError for a missing folder or clashing numbers
  if (files.empty())
    throw UserError("--frames " + folder.string() +
                    ": no image files (.jpg .jpeg .png .bmp .tif .tiff) with a frame number in the name");
  const int64_t onset = a.onset.value_or(files.front().number);
  const int64_t offset = a.offset.value_or(files.back().number);
  if (onset > offset)
    throw UserError("--frames " + folder.string() + ": onset " + std::to_string(onset) + " is after offset " +
                    std::to_string(offset));
  SampleRecord s;
  s.dataset = "frames";
  s.adapter = "frames";
  s.subject = folder.parent_path().filename().string();
  if (s.subject.empty()) s.subject = "-";
  s.clip = folder.filename().string();
  s.key = s.dataset + "/" + s.subject + "/" + s.clip;
  s.global_subject = s.dataset + "/" + s.subject;
  s.folder = folder;
  for (const auto& f : files)
    if (f.number >= onset && f.number <= offset) {
      s.frames.push_back(f.path);
      s.frame_numbers.push_back(f.number);
    }
  if (s.frames.empty() || s.frame_numbers.front() != onset || s.frame_numbers.back() != offset)
    throw UserError("--frames " + folder.string() + ": frames " + std::to_string(files.front().number) + ".." +
                    std::to_string(files.back().number) + " do not include onset " + std::to_string(onset) +
                    " and offset " + std::to_string(offset));
  s.onset = onset;
  s.offset = offset;
  s.onset_index = 0;
  s.offset_index = s.frames.size() - 1;
  if (a.apex) {
    if (*a.apex < onset || *a.apex > offset)
      throw UserError("--apex " + std::to_string(*a.apex) + " is outside onset..offset " + std::to_string(onset) +
                      ".." + std::to_string(offset));
    s.apex = *a.apex;
    size_t idx = 0;
    for (size_t i = 0; i < s.frame_numbers.size(); ++i)
      if (s.frame_numbers[i] <= *a.apex) idx = i;
    s.apex_index = idx;
  } else {
    s.apex_missing = true;
  }
  s.face_cropped = a.face_cropped;
  s.source_file = folder.string();
  return s;
}

struct Row {
  explicit Row(const SampleRecord* s) : sample(s) {}
  const SampleRecord* sample = nullptr;
  std::string true_class, error;
  bool apex_estimated = false, face_fallback = false;
  int64_t apex = -1;
  int64_t x_row = -1;  // row of the input tensor; -1 when preprocessing failed
};

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return;
  }
  // Temporary file + rename: an existing output is replaced whole or not at all.
  const fs::path target(path);
  const fs::path tmp = target.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw UserError("--out " + path + ": cannot write (" + tmp.string() + ")");
    f << text;
    if (!f.flush()) throw UserError("--out " + path + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw UserError("--out " + path + ": cannot replace the file");
  }
}

std::string float_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

int run_predict(const PredictArgs& a) {
  const int modes = (!a.spec.file.empty()) + (!a.adapter.empty() || !a.root.empty()) + (!a.frames.empty());
  if (modes != 1)
    throw UserError("give the clips one way: --spec SPEC [--dataset NAME], --adapter A --root R, or --frames DIR");
  if (a.frames.empty() && (a.onset || a.apex || a.offset || a.face_cropped))
    throw UserError("--onset, --apex, --offset and --face-cropped go with --frames");
  if (!a.adapter.empty() != !a.root.empty()) throw UserError("--adapter and --root go together");
  std::string format = a.format;
  if (format.empty()) format = a.out.size() > 5 && a.out.substr(a.out.size() - 5) == ".json" ? "json" : "csv";

  // The model.
  std::string identity, sha;
  {
    const Store store = open_results_for_reading(a.db);
    identity = choose_cell(store, a);
    const std::optional<CellResult> res = store.read_cell(identity);
    if (!res || res->model_sha256.empty())
      throw UserError("cell " + identity.substr(0, 12) + " in " + a.db +
                      " has no saved model (it is not done, or was run with \"save_models\": false / "
                      "--no-save-models)");
    sha = res->model_sha256;
  }
  const fs::path model_path = model_file(a.db, sha);
  if (!fs::is_regular_file(model_path))
    throw UserError("cell " + identity.substr(0, 12) + ": its model file " + model_path.string() +
                    " is missing (moved or pruned?)");

  // The clips (and, with --spec, the spec's plugins: a backbone from its plugin_paths).
  PluginRegistry registry;
  std::vector<LoadResult> loaded;
  std::vector<SampleRecord> single;
  if (!a.spec.file.empty()) {
    const Plan plan = plan_from_args(a.spec, registry);
    std::set<std::string> wanted(a.datasets.begin(), a.datasets.end());
    for (const auto& w : wanted)
      if (std::none_of(plan.datasets.begin(), plan.datasets.end(), [&](const auto& d) { return d.name == w; })) {
        std::string names;
        for (const auto& d : plan.datasets) names += (names.empty() ? "" : ", ") + d.name;
        throw UserError("--dataset " + w + ": not a dataset of " + a.spec.file + " (" + names + ")");
      }
    for (const auto& d : plan.datasets) {
      if (!wanted.empty() && !wanted.count(d.name)) continue;
      LoadOptions lo;
      lo.mode = LoadMode::Lenient;
      loaded.push_back(load_dataset(dataset_source(d), lo));
    }
  } else {
    DiscoveryOptions discovery;
    registry = PluginRegistry::discover(discovery);
    if (!a.adapter.empty()) {
      DatasetSource s;
      s.adapter = a.adapter;
      s.root = a.root;
      s.annotations = a.annotations;
      s.options = json_object_arg("--options", a.options);
      LoadOptions lo;
      lo.mode = LoadMode::Lenient;
      loaded.push_back(load_dataset(s, lo));
    } else {
      single.push_back(frames_sample(a));
    }
  }
  if (!a.datasets.empty() && a.spec.file.empty()) throw UserError("--dataset goes with --spec");

  engine::LoadedModel lm = engine::load_model(model_path, registry);
  const engine::ModelManifest& m = lm.manifest;
  const prep::RecipeConfig config = prep::RecipeConfig::from_params(m.recipe, m.recipe_params);
  if (!m.recipe_config.empty() && config.to_json() != m.recipe_config)
    throw UserError(model_path.string() + ": the model was trained on recipe " + m.recipe_config.dump() +
                    ", this merx computes " + config.to_json().dump() +
                    " for the same parameters; its predictions would not be the model's (use the merx " +
                    m.merx_version + " that trained it)");
  LabelMapping mapping;
  mapping.name = m.labels;
  for (const auto& [k, v] : m.label_map.items())
    if (v.is_string()) mapping.map[k] = v.get<std::string>();

  std::vector<Row> rows;
  std::vector<std::string> dropped;
  for (const auto& l : loaded) {
    for (const auto& s : l.samples) rows.emplace_back(&s);
    for (const auto& d : l.dropped) dropped.push_back(d.key + " (" + d.where + "): " + d.reason);
  }
  for (const auto& s : single) rows.emplace_back(&s);
  for (const auto& d : dropped) spdlog::warn("not predicted: {}", d);
  if (rows.empty()) throw UserError("no clips to predict" + std::string(dropped.empty() ? "" : " (all dropped)"));

  for (Row& r : rows) {
    const SampleRecord& s = *r.sample;
    if (s.emotion.empty()) continue;
    std::optional<std::string> c;
    try {
      c = map_label(mapping, s.adapter, s.emotion);
    } catch (const UserError&) {  // megc3 has no rules for this corpus: the clip has no true class
    }
    if (c && std::find(m.classes.begin(), m.classes.end(), *c) != m.classes.end()) r.true_class = *c;
  }

  // Preprocess (cache, parallel over clips), then one input tensor in clip order.
  const prep::FeatureCache cache(a.cache.empty() ? prep::default_cache_dir() : fs::path(a.cache));
  const prep::Preprocessor prep(config);
  const int64_t ch = config.channels(), sz = config.size;
  std::vector<std::vector<float>> data(rows.size());
  const int jobs = a.jobs > 0 ? a.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cv::setNumThreads(1);  // parallel over clips
  tbb::task_arena arena(jobs);
  arena.execute([&] {
    tbb::parallel_for(size_t(0), rows.size(), [&](size_t i) {
      try {
        prep::PrepResult p = cache.get(prep, *rows[i].sample);
        if (static_cast<int64_t>(p.data.size()) != ch * sz * sz)
          throw prep::PrepError("preprocessing gave " + std::to_string(p.data.size()) + " values");
        rows[i].apex_estimated = rows[i].sample->apex_estimated || p.apex_estimated;
        rows[i].face_fallback = p.face_fallback;
        rows[i].apex = p.apex_index < rows[i].sample->frame_numbers.size()
                           ? rows[i].sample->frame_numbers[p.apex_index]
                           : rows[i].sample->apex.value_or(-1);
        data[i] = std::move(p.data);
      } catch (const std::exception& e) {
        rows[i].error = e.what();
      }
    });
  });
  std::vector<size_t> ok;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].error.empty()) {
      rows[i].x_row = static_cast<int64_t>(ok.size());
      ok.push_back(i);
    } else {
      spdlog::warn("{}: not predicted: {}", rows[i].sample->key, rows[i].error);
    }
  if (ok.empty()) {
    spdlog::error("no clip could be preprocessed");
    return 1;
  }
  torch::Tensor x = torch::empty({static_cast<int64_t>(ok.size()), ch, sz, sz}, torch::kFloat);
  for (size_t j = 0; j < ok.size(); ++j)
    std::copy(data[ok[j]].begin(), data[ok[j]].end(), x.data_ptr<float>() + j * ch * sz * sz);
  const engine::Predicted pred = engine::predict(lm.model, x, kBatch, torch::kCPU);
  const auto p = pred.probabilities.accessor<float, 2>();

  // Output.
  const size_t k = m.classes.size();
  std::ostringstream out;
  json list = json::array();
  if (format == "csv") {
    out << "sample_key,dataset,subject,clip,onset,apex,offset,apex_estimated,face_fallback,emotion,true_class,"
           "predicted_class";
    for (const auto& c : m.classes) out << "," << csv_field("p_" + c);
    out << ",error\n";
  }
  std::vector<int> y_true, y_pred;
  for (const Row& r : rows) {
    const SampleRecord& s = *r.sample;
    const bool has = r.x_row >= 0;
    const std::string predicted = has ? m.classes[static_cast<size_t>(pred.predicted[r.x_row])] : "";
    if (has && !r.true_class.empty()) {
      y_true.push_back(static_cast<int>(std::find(m.classes.begin(), m.classes.end(), r.true_class) -
                                        m.classes.begin()));
      y_pred.push_back(static_cast<int>(pred.predicted[r.x_row]));
    }
    const std::string apex = r.apex >= 0 ? std::to_string(r.apex) : s.apex ? std::to_string(*s.apex) : "";
    if (format == "csv") {
      out << csv_field(s.key) << "," << csv_field(s.dataset) << "," << csv_field(s.subject) << ","
          << csv_field(s.clip) << "," << s.onset << "," << apex << "," << s.offset << ","
          << (r.apex_estimated ? 1 : 0) << "," << (r.face_fallback ? 1 : 0) << "," << csv_field(s.emotion) << ","
          << csv_field(r.true_class) << "," << csv_field(predicted);
      for (size_t c = 0; c < k; ++c) out << "," << (has ? float_text(p[r.x_row][static_cast<int64_t>(c)]) : "");
      out << "," << csv_field(r.error) << "\n";
    } else {
      json o = {{"sample_key", s.key},     {"dataset", s.dataset},
                {"subject", s.subject},    {"clip", s.clip},
                {"onset", s.onset},        {"apex", r.apex >= 0 ? json(r.apex) : s.apex ? json(*s.apex) : json()},
                {"offset", s.offset},      {"apex_estimated", r.apex_estimated},
                {"face_fallback", r.face_fallback},
                {"emotion", s.emotion},    {"true_class", r.true_class.empty() ? json() : json(r.true_class)},
                {"predicted_class", has ? json(predicted) : json()}};
      // Written as engine::evaluate writes predictions.probabilities_json: float widened to double.
      json probs = json::object();
      if (has)
        for (size_t c = 0; c < k; ++c) probs[m.classes[c]] = static_cast<double>(p[r.x_row][static_cast<int64_t>(c)]);
      o["probabilities"] = has ? probs : json();
      if (!r.error.empty()) o["error"] = r.error;
      list.push_back(std::move(o));
    }
  }
  if (format == "json") {
    const json doc = {{"cell", identity},
                      {"model", model_path.string()},
                      {"classes", m.classes},
                      {"recipe", m.recipe},
                      {"labels", m.labels},
                      {"clips", std::move(list)}};
    out << doc.dump(1) << "\n";
  }
  write_output(a.out, out.str());

  std::string summary = std::to_string(ok.size()) + " of " + std::to_string(rows.size()) +
                        " clips predicted by cell " + identity.substr(0, 12) + " (" + m.backbone + ", classes " +
                        std::to_string(k) + ")";
  if (!y_true.empty()) {
    const metrics::Confusion conf = metrics::Confusion::from(m.classes, y_true, y_pred);
    const auto acc = metrics::accuracy(conf), f1 = metrics::uf1(conf);
    char buf[160];
    std::snprintf(buf, sizeof buf, "; on the %zu with a class of the model: accuracy %.4f, UF1 ", y_true.size(),
                  acc.value_or(0.0));
    summary += buf;
    if (f1) {
      std::snprintf(buf, sizeof buf, "%.4f", *f1);
      summary += buf;
    } else {
      summary += "undefined";
    }
  }
  spdlog::info("{}", summary);
  return 0;
}

}  // namespace

void add_predict_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand("predict", "Apply a stored cell's saved model to clips (a corpus or a frame folder)");
  cmd->add_option("database", a->db, "Results database (the spec's `output`)")->required();
  cmd->add_option("--cell", a->cell, "Cell id or identity prefix (merx db cells)");
  cmd->add_option("--target", a->target, "Target dataset or fold id: its done cell (with --variant when several)");
  cmd->add_option("--variant", a->variant, "Variant name (with --target)");
  cmd->add_option("--seed", a->seed, "Seed value (with --variant; default the lowest)");
  cmd->add_option("--spec", a->spec.file, "Clips: the datasets of this spec (its plugin_paths are used too)");
  cmd->add_option("--set", a->spec.sets, "Override a spec value (with --spec): path=value");
  cmd->add_option("--dataset", a->datasets, "With --spec: only this dataset (repeatable)");
  cmd->add_flag("--allow-large", a->spec.allow_large, "With --spec: a spec above the cell limit (merx validate)");
  cmd->add_option("--adapter", a->adapter, "Clips: a corpus read by this adapter (with --root)");
  cmd->add_option("--root", a->root, "Corpus folder (with --adapter)");
  cmd->add_option("--annotations", a->annotations, "Annotation file (with --adapter; default the adapter's)");
  cmd->add_option("--options", a->options, "Adapter options as JSON (with --adapter)");
  cmd->add_option("--frames", a->frames, "Clips: one folder of frame images (numbered names)");
  cmd->add_option("--onset", a->onset, "With --frames: onset frame number (default the first)");
  cmd->add_option("--apex", a->apex, "With --frames: apex frame number (default: estimated, max flow from onset)");
  cmd->add_option("--offset", a->offset, "With --frames: offset frame number (default the last)");
  cmd->add_flag("--face-cropped", a->face_cropped, "With --frames: the frames are face crops already");
  cmd->add_option("--out,-o", a->out, "Output file (default stdout; .json gives JSON)");
  cmd->add_option("--format", a->format, "csv or json (default csv, or json for an --out ending in .json)")
      ->check(CLI::IsMember({"csv", "json"}));
  cmd->add_option("--cache", a->cache, "Feature cache folder (default as merx run)");
  cmd->add_option("--jobs,-j", a->jobs, "Clips preprocessed in parallel (default: all cores)");
  cmd->callback([a, &action] { action = [a] { return run_predict(*a); }; });
}

}  // namespace merx::cli
