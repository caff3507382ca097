#include "merx/engine/inputs.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <opencv2/core/utility.hpp>

#include "merx/datasets/labels.h"
#include "merx/datasets/openface.h"
#include "merx/errors.h"
#include "merx/preprocessing/au_roi.h"
#include "merx/preprocessing/cache.h"
#include "merx/spec/folds.h"

namespace merx::engine {
namespace {

// Label settings that give the same samples and classes (the membership file by content).
std::string labels_key(const LabelSettings& l) {
  return nlohmann::json{
      {"name", l.name}, {"map", l.map}, {"membership", l.membership_sha256}, {"unmapped", l.unmapped}}
      .dump();
}

// AU intensities 0..5 of one clip over `ids` (methods.md §6 step 1, corpus annotations): a listed AU gets
// its letter A..E as 1..5, or 3 without a letter (the largest when listed twice); unlisted 0; NaN row when
// the corpus codes no AUs.
std::vector<float> au_row(const SampleRecord& s, const std::vector<int>& ids) {
  if (!s.aus) return std::vector<float>(ids.size(), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> row(ids.size(), 0.0f);
  for (size_t j = 0; j < ids.size(); ++j)
    for (const auto& au : *s.aus)
      if (au.number == ids[j]) {
        const float v =
            au.intensity >= 'A' && au.intensity <= 'E' ? static_cast<float>(au.intensity - 'A' + 1) : 3.0f;
        row[j] = std::max(row[j], v);
      }
  return row;
}

// The AU source of a sweep point: its augmenter's string parameter `au_source` when it declares one
// (merx/augmenter.h), else the corpus annotations.
std::string au_source(const SweepPoint& pt) {
  const auto it = pt.augmenter.params.find("au_source");
  return it != pt.augmenter.params.end() && it->is_string() ? it->get<std::string>() : "annotations";
}

}  // namespace

struct RunInputs::Impl {
  struct LabelSet {
    std::string key;
    std::unique_ptr<LabelledSamples> samples;  // heap: FoldSplit pointers stay valid when the vector grows
    std::vector<FoldSplit> folds;              // plan.folds order
  };
  struct RecipeTensors {
    std::string key;
    torch::Tensor x;  // [N, C, S, S] float32, CPU
    std::unordered_map<std::string, int64_t> row;
    std::unordered_map<std::string, std::string> failed;  // key -> reason
    bool flow = false;                                    // flow_* recipe: roi holds flow_roi magnitudes
    std::vector<std::vector<float>> roi;  // per row: raw flow_roi magnitudes, cross set (NaN = none)
  };
  std::vector<LabelSet> label_sets;
  std::vector<RecipeTensors> recipes;
  std::map<size_t, size_t> point_labels, point_recipe;  // point index -> position in the vectors above
  // au_source openface: sample key -> cross-set AU intensities (NaN row = missing)
  std::unordered_map<std::string, std::vector<float>> openface;
  InputStats stats;
};

RunInputs::RunInputs() : impl_(std::make_unique<Impl>()) {}
RunInputs::~RunInputs() = default;
RunInputs::RunInputs(RunInputs&&) noexcept = default;
RunInputs& RunInputs::operator=(RunInputs&&) noexcept = default;
const InputStats& RunInputs::stats() const {
  return impl_->stats;
}

RunInputs RunInputs::build(const Plan& plan, const std::vector<size_t>& points_in,
                           const InputOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  RunInputs out;
  Impl& im = *out.impl_;
  std::vector<size_t> points = points_in;
  if (points.empty())
    for (const auto& p : plan.points) points.push_back(p.index);

  // Datasets: once per distinct label setting.
  for (size_t pi : points) {
    const SweepPoint& pt = plan.points.at(pi);
    const std::string key = labels_key(pt.labels);
    auto it =
        std::find_if(im.label_sets.begin(), im.label_sets.end(), [&](const auto& l) { return l.key == key; });
    if (it == im.label_sets.end()) {
      Impl::LabelSet ls;
      ls.key = key;
      ls.samples = std::make_unique<LabelledSamples>(load_samples(plan, pt));
      ls.folds = fold_samples(plan, *ls.samples);
      im.label_sets.push_back(std::move(ls));
      it = im.label_sets.end() - 1;
    }
    im.point_labels[pi] = static_cast<size_t>(it - im.label_sets.begin());
  }

  // The distinct labelled samples of all label settings, in first-seen order.
  std::vector<const SampleRecord*> samples;
  {
    std::set<std::string> seen;
    for (const auto& ls : im.label_sets)
      for (const auto& d : ls.samples->datasets)
        for (const auto& s : d.samples)
          if (s.label && ls.samples->class_index(*s.label) >= 0 && seen.insert(s.key).second)
            samples.push_back(&s);
  }
  im.stats.label_settings = im.label_sets.size();
  im.stats.samples = samples.size();

  // OpenFace AU vectors, when a point asks for them: each dataset's option `openface` (relative to its root).
  if (std::any_of(points.begin(), points.end(),
                  [&](size_t pi) { return au_source(plan.points.at(pi)) == "openface"; })) {
    std::map<std::string, std::filesystem::path> folders;
    for (size_t i = 0; i < plan.datasets.size(); ++i) {
      const DatasetSpec& d = plan.datasets[i];
      const auto it = d.options.find("openface");
      if (it == d.options.end() || !it->is_string()) {
        spdlog::warn(
            "datasets[{}] ({}): no option `openface`; its clips get no AU intensities (au_source openface)",
            i, d.name);
        continue;
      }
      std::filesystem::path f = it->get<std::string>();
      if (f.is_relative()) f = d.root / f;
      if (!std::filesystem::is_directory(f))
        throw UserError("datasets[" + std::to_string(i) + "].options.openface: folder " + f.string() +
                        " does not exist");
      folders[d.name] = f;
    }
    const std::vector<int>& ids = au_set("cross");
    OpenFaceStats of;
    for (const SampleRecord* s : samples) {
      std::vector<float> row(ids.size(), std::numeric_limits<float>::quiet_NaN());
      if (const auto f = folders.find(s->dataset); f != folders.end()) {
        const OpenFaceAus a = openface_sample_aus(f->second, *s, ids, &of);
        if (a.values) row = *a.values;
      }
      im.openface[s->key] = std::move(row);
    }
    spdlog::info(
        "OpenFace AUs: {} clips, {} at the apex row, {} within 2 frames, {} missing, {} negative "
        "intensities clamped",
        of.clips, of.exact, of.nearby, of.missing, of.negatives_clamped);
    for (const auto& [why, n] : of.missing_reasons) spdlog::info("  missing ({} clips): {}", n, why);
  }

  // Tensors: once per distinct recipe, through the feature cache, samples in parallel.
  const prep::FeatureCache cache(options.cache_dir.empty() ? prep::default_cache_dir() : options.cache_dir);
  const int jobs =
      options.jobs > 0 ? options.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (size_t pi : points) {
    const SweepPoint& pt = plan.points.at(pi);
    const prep::RecipeConfig config = prep::RecipeConfig::from_params(pt.recipe.name, pt.recipe.params);
    const std::string key = config.to_json().dump();
    auto it = std::find_if(im.recipes.begin(), im.recipes.end(), [&](const auto& r) { return r.key == key; });
    if (au_source(pt) == "flow_roi" && !config.uses_flow())
      throw UserError("augmenter.params.au_source: `flow_roi` reads the flow channels, recipe `" +
                      config.recipe + "` has none (use flow_strain or flow_uv)");
    if (it == im.recipes.end()) {
      Impl::RecipeTensors rt;
      rt.key = key;
      rt.flow = config.uses_flow();
      rt.roi.assign(samples.size(), {});
      const int64_t c = config.channels(), s = config.size;
      rt.x = torch::zeros({static_cast<int64_t>(samples.size()), c, s, s}, torch::kFloat);
      for (size_t i = 0; i < samples.size(); ++i) rt.row[samples[i]->key] = static_cast<int64_t>(i);
      const prep::Preprocessor prep(config);
      float* base = rt.x.data_ptr<float>();
      const size_t per = static_cast<size_t>(c * s * s);
      std::mutex mutex;
      std::atomic<size_t> computed{0}, cached{0};
      const int cv_threads = cv::getNumThreads();
      cv::setNumThreads(1);  // parallel over samples; OpenCV's own threads would oversubscribe the cores
      tbb::task_arena arena(jobs);
      arena.execute([&] {
        tbb::parallel_for(size_t(0), samples.size(), [&](size_t i) {
          try {
            prep::CacheOutcome outcome{};
            const prep::PrepResult r = cache.get(prep, *samples[i], &outcome, options.content_hash);
            if (r.data.size() != per)
              throw prep::PrepError("preprocessing gave " + std::to_string(r.data.size()) +
                                    " values, expected " + std::to_string(per));
            std::memcpy(base + i * per, r.data.data(), per * sizeof(float));
            if (rt.flow)  // channels 0, 1 = u, v (merx/preprocessing/preprocess.h)
              rt.roi[i] = prep::flow_roi_magnitudes(r.data.data(), r.data.data() + s * s, static_cast<int>(s),
                                                    r.landmarks, config.flow_size, au_set("cross"));
            ++(outcome == prep::CacheOutcome::Hit ? cached : computed);
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mutex);
            rt.failed[samples[i]->key] = e.what();
          }
        });
      });
      cv::setNumThreads(cv_threads);
      for (const auto& [k, why] : rt.failed) spdlog::warn("{}: left out of every cell: {}", k, why);
      im.stats.computed += computed;
      im.stats.cached += cached;
      im.stats.failed += rt.failed.size();
      im.recipes.push_back(std::move(rt));
      it = im.recipes.end() - 1;
    }
    im.point_recipe[pi] = static_cast<size_t>(it - im.recipes.begin());
  }
  im.stats.recipes = im.recipes.size();
  im.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

CellData RunInputs::cell_data(const Plan& plan, const Cell& cell) const {
  const Impl& im = *impl_;
  const auto pl = im.point_labels.find(cell.point);
  const auto pr = im.point_recipe.find(cell.point);
  if (pl == im.point_labels.end() || pr == im.point_recipe.end())
    throw std::invalid_argument("inputs: sweep point " + std::to_string(cell.point) + " was not built");
  const Impl::LabelSet& ls = im.label_sets[pl->second];
  const Impl::RecipeTensors& rt = im.recipes[pr->second];
  size_t fold = plan.folds.size();
  for (size_t i = 0; i < plan.folds.size(); ++i)
    if (plan.folds[i].id == cell.fold) fold = i;
  if (fold == plan.folds.size()) throw std::invalid_argument("inputs: unknown fold '" + cell.fold + "'");
  const FoldSplit& split = ls.folds.at(fold);

  CellData data;
  data.classes = ls.samples->classes;
  const std::vector<int>& au_ids = au_set("cross");
  const std::string source = au_source(plan.points.at(cell.point));  // one AU source per cell, never mixed
  const std::vector<float> no_au(au_ids.size(), std::numeric_limits<float>::quiet_NaN());

  std::vector<int64_t> train_rows, test_rows;
  std::vector<std::string> train_sources;
  std::vector<float> au;
  bool any_au = false;
  for (const FoldSample& fs : split.train) {
    const SampleRecord& s = *fs.sample;
    if (auto f = rt.failed.find(s.key); f != rt.failed.end()) {
      data.excluded.emplace_back(s.key, f->second);
      continue;
    }
    train_rows.push_back(rt.row.at(s.key));
    data.train.y.push_back(fs.class_index);
    data.train.keys.push_back(s.key);
    data.train.subjects.push_back(s.global_subject);
    train_sources.push_back(s.dataset);
    std::vector<float> row;
    if (source == "openface") {
      const auto o = im.openface.find(s.key);
      row = o != im.openface.end() ? o->second : no_au;
    } else if (source == "flow_roi") {  // raw: each training run scales its fit rows (au_flow_roi_raw)
      const auto& r = rt.roi.at(static_cast<size_t>(rt.row.at(s.key)));
      row = r.size() == au_ids.size() ? r : no_au;
    } else {
      row = au_row(s, au_ids);
    }
    any_au = any_au || std::any_of(row.begin(), row.end(), [](float v) { return !std::isnan(v); });
    au.insert(au.end(), row.begin(), row.end());
  }
  std::set<std::string> distinct(train_sources.begin(), train_sources.end());
  data.source_domains.assign(distinct.begin(), distinct.end());  // sorted by name
  for (const auto& name : train_sources)
    data.train.domain.push_back(
        std::lower_bound(data.source_domains.begin(), data.source_domains.end(), name) -
        data.source_domains.begin());
  data.train.x = rt.x.index_select(0, torch::tensor(train_rows, torch::kLong));
  if (any_au) {
    data.train.au =
        torch::tensor(au, torch::kFloat)
            .reshape({static_cast<int64_t>(train_rows.size()), static_cast<int64_t>(au_ids.size())});
    data.train.au_ids.assign(au_ids.begin(), au_ids.end());
    data.train.au_flow_roi_raw = source == "flow_roi";
  }

  std::vector<int64_t> test_y;
  std::vector<std::string> test_keys;
  for (const FoldSample& fs : split.test) {
    const SampleRecord& s = *fs.sample;
    if (auto f = rt.failed.find(s.key); f != rt.failed.end()) {
      data.excluded.emplace_back(s.key, f->second);
      continue;
    }
    test_rows.push_back(rt.row.at(s.key));
    test_y.push_back(fs.class_index);
    test_keys.push_back(s.key);
  }
  std::set<std::string> evaluated(test_keys.begin(), test_keys.end());
  data.test = TestSplit(rt.x.index_select(0, torch::tensor(test_rows, torch::kLong)), std::move(test_y),
                        std::move(test_keys));

  // Counterfactual twins of the test datasets: the twin clips paired with evaluated test clips.
  Counterfactual& cf = data.counterfactual;
  const Fold& f = plan.folds[fold];
  for (const auto& d : plan.datasets)
    if (!d.counterfactual_of.empty() &&
        std::find(f.test.begin(), f.test.end(), d.counterfactual_of) != f.test.end()) {
      cf.twin_datasets.push_back(d.name);
      cf.unmatched[d.name];
    }
  if (cf.twin_datasets.empty()) return data;
  auto twin_name = [&](const std::string& key) {  // the twin a key of the twin or of its original belongs to
    const std::string dataset = key.substr(0, key.find('/'));
    if (const DatasetSpec* t = plan.twin_of(dataset)) return t->name;
    return dataset;
  };
  for (const auto& key : split.counterfactual_unmatched) cf.unmatched[twin_name(key)].push_back(key);
  std::vector<int64_t> twin_rows, twin_y;
  std::vector<std::string> twin_keys;
  for (const TwinPair& p : split.counterfactual) {
    const SampleRecord& t = *p.twin.sample;
    if (!evaluated.count(p.original->key) || rt.failed.count(t.key)) {
      auto& list = cf.unmatched[t.dataset];
      list.push_back(rt.failed.count(t.key) ? t.key : p.original->key);
      continue;
    }
    twin_rows.push_back(rt.row.at(t.key));
    twin_y.push_back(p.twin.class_index);
    twin_keys.push_back(t.key);
    cf.originals.push_back(p.original->key);
  }
  cf.twins = TestSplit(rt.x.index_select(0, torch::tensor(twin_rows, torch::kLong)), std::move(twin_y),
                       std::move(twin_keys));
  return data;
}

}  // namespace merx::engine
