// run_cell: training runs (engine/trainer.h), model selection (methods.md §3) and evaluation.
#include "merx/engine/cell.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>
#include <torch/utils.h>

#include "engine/trainer.h"
#include "merx/engine/sampler.h"
#include "merx/engine/validation.h"
#include "merx/errors.h"

namespace merx::engine {

TestSplit::TestSplit(torch::Tensor x, std::vector<int64_t> y, std::vector<std::string> keys)
    : x_(std::move(x)), y_(std::move(y)), keys_(std::move(keys)) {
  const int64_t m = x_.defined() ? x_.size(0) : 0;
  if (static_cast<size_t>(m) != y_.size() || y_.size() != keys_.size())
    throw std::invalid_argument("test split: " + std::to_string(m) + " inputs, " + std::to_string(y_.size()) +
                                " labels and " + std::to_string(keys_.size()) + " keys");
}

torch::Tensor Model::logits(const torch::Tensor& x) {
  return head->forward(backbone->forward(x));
}

void Model::set_training(bool on) {
  backbone->train(on);
  head->train(on);
}

Evaluation evaluate(Model& model, const TestSplit& test, const std::vector<std::string>& classes,
                    int64_t batch, torch::Device device) {
  if (batch < 1) throw std::invalid_argument("evaluation batch must be >= 1");
  const int64_t k = static_cast<int64_t>(classes.size());
  for (int64_t y : test.y_)
    if (y < 0 || y >= k) throw std::invalid_argument("test label " + std::to_string(y) + " outside [0, K)");
  torch::NoGradGuard no_grad;
  model.set_training(false);
  Evaluation ev;
  std::vector<int> truth, pred;
  const int64_t m = static_cast<int64_t>(test.size());
  for (int64_t lo = 0; lo < m; lo += batch) {
    const int64_t n = std::min(batch, m - lo);
    const torch::Tensor logits =
        model.logits(test.x_.narrow(0, lo, n).to(device, torch::kFloat)).to(torch::kCPU);
    const torch::Tensor probs = torch::softmax(logits, 1);
    const auto a = logits.accessor<float, 2>();
    const auto p = probs.accessor<float, 2>();
    for (int64_t i = 0; i < n; ++i) {
      int best = 0;
      for (int64_t c = 1; c < k; ++c)
        if (a[i][c] > a[i][best]) best = static_cast<int>(c);
      const size_t s = static_cast<size_t>(lo + i);
      Prediction pr;
      pr.sample_key = test.keys_[s];
      pr.true_class = classes[static_cast<size_t>(test.y_[s])];
      pr.predicted_class = classes[static_cast<size_t>(best)];
      pr.probabilities = nlohmann::json::object();
      for (int64_t c = 0; c < k; ++c)
        pr.probabilities[classes[static_cast<size_t>(c)]] = static_cast<double>(p[i][c]);
      ev.predictions.push_back(std::move(pr));
      truth.push_back(static_cast<int>(test.y_[s]));
      pred.push_back(best);
    }
  }
  ev.confusion = metrics::Confusion::from(classes, truth, pred);
  return ev;
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double or_nan(const std::optional<double>& v) {
  return v ? *v : std::numeric_limits<double>::quiet_NaN();
}

// UF1 of the model on training-side samples `positions` (validation clips), evaluation mode.
std::optional<double> held_out_uf1(detail::Trainer& t, const CellConfig& config, const CellData& data,
                                   const std::vector<size_t>& positions) {
  std::vector<int64_t> idx(positions.begin(), positions.end());
  const torch::Tensor x =
      data.train.x.index_select(0, torch::tensor(idx, torch::kLong).to(data.train.x.device()));
  std::vector<int> truth;
  for (size_t p : positions) truth.push_back(static_cast<int>(data.train.y[p]));
  const std::vector<int> pred = detail::predict(t.model(), x, config.eval_batch, config.device);
  return metrics::uf1(metrics::Confusion::from(data.classes, truth, pred));
}

// Keeps the best epoch's weights: strictly better replaces, so ties keep the earliest epoch.
struct BestEpoch {
  double value = -std::numeric_limits<double>::infinity();
  std::optional<int64_t> epoch;
  std::vector<torch::Tensor> state;
  void offer(const std::optional<double>& v, int64_t e, Model& m) {
    if (v && *v > value) {
      value = *v;
      epoch = e;
      state = detail::snapshot(m);
    }
  }
};

// Steps mode: the optimiser steps between evaluation points, the same for every method on this fold —
// eval_every, or the sampler's steps for one pass over all of the cell's real training clips.
int64_t eval_period(const TrainingSettings& t, const CellData& data) {
  if (t.steps <= 0) return 0;
  if (t.eval_every > 0) return std::min(t.eval_every, t.steps);
  std::vector<SamplerItem> items(data.train.size());
  for (size_t i = 0; i < items.size(); ++i) items[i] = {data.train.domain[i], data.train.y[i]};
  const BatchSampler pass(t.sampler, t.batch, std::move(items),
                          static_cast<int64_t>(data.source_domains.size()),
                          static_cast<int64_t>(data.classes.size()), 0);
  return std::min(pass.steps_per_epoch(), t.steps);
}

// The twin clips predicted by the reported model (docs/engine.md "Counterfactual twins"): the fold-scope
// metrics shortcut_flip_rate, counterfactual_n and counterfactual_unmatched, and the artifact
// "engine.counterfactual" with every pair's predictions (the predictions table holds test clips only: its
// rows are what a cell's and a group's metrics are computed over).
void evaluate_twins(Model& model, const CellConfig& config, const CellData& data,
                    const std::vector<Prediction>& test_predictions, CellResult& r) {
  const Counterfactual& cf = data.counterfactual;
  if (cf.twin_datasets.empty()) return;
  const Evaluation ev = evaluate(model, cf.twins, data.classes, config.eval_batch, config.device);
  std::map<std::string, const Prediction*> original;
  for (const auto& p : test_predictions) original[p.sample_key] = &p;
  std::vector<std::string> late;  // twin clips whose original was not evaluated (not from RunInputs)
  int64_t n = 0, flips = 0;
  nlohmann::json pairs = nlohmann::json::array();
  for (size_t i = 0; i < ev.predictions.size(); ++i) {
    const Prediction& twin = ev.predictions[i];
    const auto o = original.find(cf.originals.at(i));
    if (o == original.end()) {  // cannot happen with CellData from RunInputs
      late.push_back(twin.sample_key);
      continue;
    }
    const bool flip = twin.predicted_class != o->second->predicted_class;
    ++n;
    flips += flip;
    pairs.push_back({{"key", o->first},
                     {"twin", twin.sample_key},
                     {"predicted", o->second->predicted_class},
                     {"twin_predicted", twin.predicted_class},
                     {"twin_true", twin.true_class},
                     {"twin_probabilities", twin.probabilities},
                     {"flip", flip}});
  }
  for (const auto& [name, keys] : cf.unmatched)
    if (!keys.empty())
      spdlog::warn(
          "{}: counterfactual twin `{}`: {} clip{} without a partner (e.g. {}); counted as "
          "counterfactual_unmatched, left out of shortcut_flip_rate",
          config.label.empty() ? "cell" : config.label, name, keys.size(), keys.size() == 1 ? "" : "s",
          keys.front());
  for (const auto& key : late) spdlog::warn("{}: counterfactual pair of {} not evaluated", config.label, key);
  MetricRow rate{MetricScope::Fold, "", "shortcut_flip_rate", std::nullopt, std::nullopt, "", n, 0};
  if (n > 0)
    rate.value = static_cast<double>(flips) / static_cast<double>(n);
  else
    rate.reason = "no test clip has a counterfactual twin clip";
  r.metrics.push_back(rate);
  r.metrics.push_back({MetricScope::Fold, "", "counterfactual_n", std::nullopt, static_cast<double>(n),
                       "test clips paired with a twin clip", n, 0});
  nlohmann::json unmatched = nlohmann::json::object();
  int64_t u = static_cast<int64_t>(late.size());
  for (const auto& [name, keys] : cf.unmatched) {
    unmatched[name] = keys;
    u += static_cast<int64_t>(keys.size());
  }
  r.metrics.push_back({MetricScope::Fold, "", "counterfactual_unmatched", std::nullopt,
                       static_cast<double>(u), "clips without a partner", u, 0});
  r.artifacts.push_back(
      {"engine.counterfactual",
       {{"datasets", cf.twin_datasets}, {"flips", flips}, {"pairs", pairs}, {"unmatched", unmatched}}});
}

}  // namespace

CellOutcome run_cell(const CellConfig& config, const PluginRegistry& registry, const CellData& data) {
  CellOutcome out;
  CellResult& r = out.result;
  const TrainingSettings& t = config.training;
  r.status = CellStatus::Done;
  r.selection = t.selection;
  r.device = config.device.str();
  r.threads = torch::get_num_threads();

  const size_t n = data.train.size();
  std::vector<std::unique_ptr<detail::Trainer>> runs;  // every training run of the cell; the last is reported
  nlohmann::json info = {
      {"sampler", t.sampler},           {"batch", t.batch},       {"epochs", t.epochs}, {"train_clips", n},
      {"test_clips", data.test.size()}, {"classes", data.classes}};
  std::vector<CurvePoint> selection_curves;
  int64_t period = 0;
  int64_t epochs = t.epochs;  // evaluation points: epochs, or with `steps` ceil(steps / period)
  try {
    if (n == 0) throw UserError("the fold has no training clips");
    if (data.test.size() == 0) throw UserError("the fold has no test clips");
    if (t.steps > 0) {
      period = eval_period(t, data);
      epochs = (t.steps + period - 1) / period;
      info.erase("epochs");  // the default would mislead: this cell trains by steps
      info["steps"] = t.steps;
      info["eval_every"] = period;
      info["eval_points"] = epochs;
    }
    std::vector<size_t> all(n);
    std::iota(all.begin(), all.end(), size_t(0));

    if (t.selection == "last") {
      runs.push_back(std::make_unique<detail::Trainer>(config, registry, data, all, period));
      runs.back()->train(epochs, {});
      r.chosen_epoch = epochs - 1;
    } else if (t.selection == "source_val" || t.selection == "oracle") {
      std::vector<size_t> fit = all, val;
      if (t.selection == "source_val") {
        std::vector<SplitItem> items(n);
        for (size_t i = 0; i < n; ++i)
          items[i] = {data.train.keys[i], data.source_domains.at(static_cast<size_t>(data.train.domain[i])),
                      data.train.subjects[i], data.train.y[i]};
        ValidationSplit split = source_val_split(items, data.classes, t.val_fraction,
                                                 derive_seed(config.cell_seed, "source_val"));
        if (split.validation.empty())
          throw UserError(
              "selection source_val: no validation clips can be held out (every source has a single "
              "subject); use selection `last`");
        r.validation_split = split.record;
        val = split.validation;
        fit.clear();
        std::vector<bool> held(n, false);
        for (size_t v : val) held[v] = true;
        for (size_t i = 0; i < n; ++i)
          if (!held[i]) fit.push_back(i);
        info["validation_clips"] = val.size();
      }
      runs.push_back(std::make_unique<detail::Trainer>(config, registry, data, fit, period));
      detail::Trainer& run = *runs.back();
      BestEpoch best;
      const std::string curve = t.selection == "source_val" ? "source_val_uf1" : "oracle_test_uf1";
      run.train(epochs, [&](int64_t e) {
        const std::optional<double> v = t.selection == "source_val"
                                            ? held_out_uf1(run, config, data, val)
                                            : metrics::uf1(evaluate(run.model(), data.test, data.classes,
                                                                    config.eval_batch, config.device)
                                                               .confusion);
        selection_curves.push_back({e, curve, or_nan(v)});
        best.offer(v, e, run.model());
      });
      if (best.epoch) {
        detail::restore(run.model(), best.state);
        r.chosen_epoch = best.epoch;
        if (period > 0) info["chosen_step"] = std::min(t.steps, (*best.epoch + 1) * period);
      } else {
        r.chosen_epoch = epochs - 1;  // no epoch had a defined score: the last one is reported
        info["selection_note"] = "no epoch had a defined " + curve + "; the last epoch is reported";
      }
    } else if (t.selection == "loo_source") {
      // Each source in turn is the validation set of a run on the others; the epoch with the best mean UF1
      // over those runs is chosen, and a run on all sources is stopped there (same seeds, same schedule).
      std::map<int64_t, std::vector<size_t>> by_source;
      for (size_t i = 0; i < n; ++i) by_source[data.train.domain[i]].push_back(i);
      if (by_source.size() < 3)
        throw UserError("selection loo_source needs at least 3 source datasets; this fold trains on " +
                        std::to_string(by_source.size()));
      std::vector<double> sum(static_cast<size_t>(epochs), 0.0);
      std::vector<int64_t> count(static_cast<size_t>(epochs), 0);
      nlohmann::json held = nlohmann::json::array();
      for (const auto& [d, positions] : by_source) {
        const std::string name = data.source_domains.at(static_cast<size_t>(d));
        held.push_back(name);
        std::vector<size_t> rest;
        for (size_t i = 0; i < n; ++i)
          if (data.train.domain[i] != d) rest.push_back(i);
        detail::Trainer run(config, registry, data, rest, period);
        run.train(epochs, [&](int64_t e) {
          const auto v = held_out_uf1(run, config, data, positions);
          selection_curves.push_back({e, "loo_source_uf1/" + name, or_nan(v)});
          if (v) {
            sum[static_cast<size_t>(e)] += *v;
            ++count[static_cast<size_t>(e)];
          }
        });
        info["loo_source_fit_seconds"] = info.value("loo_source_fit_seconds", 0.0) + run.fit_seconds();
        info["loo_source_train_seconds"] = info.value("loo_source_train_seconds", 0.0) + run.train_seconds();
      }
      int64_t chosen = epochs - 1;
      double best = -std::numeric_limits<double>::infinity();
      for (int64_t e = 0; e < epochs; ++e) {
        const size_t i = static_cast<size_t>(e);
        const double mean =
            count[i] ? sum[i] / static_cast<double>(count[i]) : std::numeric_limits<double>::quiet_NaN();
        selection_curves.push_back({e, "loo_source_uf1", mean});
        if (count[i] && mean > best) {
          best = mean;
          chosen = e;
        }
      }
      r.validation_split = {{"method", "loo_source"}, {"sources", held}};
      runs.push_back(std::make_unique<detail::Trainer>(config, registry, data, all, period));
      runs.back()->train(chosen + 1, {});
      r.chosen_epoch = chosen;
    } else {
      throw UserError("training.selection: unknown selection '" + t.selection + "'");
    }

    detail::Trainer& reported = *runs.back();
    out.model = reported.model();
    info["steps_per_epoch"] = reported.steps_per_epoch();
    info["epochs_run"] = reported.epochs_done();
    info["steps_run"] = reported.steps_done();
    info["augmented_clips"] = reported.extended();
    if (const auto q = reported.au_flow_roi_q95()) info["au_flow_roi_q95"] = *q;
    info["sources"] = reported.sources();

    const auto e0 = Clock::now();
    Evaluation ev = evaluate(out.model, data.test, data.classes, config.eval_batch, config.device);
    r.predictions = std::move(ev.predictions);
    r.metrics = metrics::metric_rows(ev.confusion, MetricScope::Fold);
    r.confusion = metrics::confusion_entries(ev.confusion, MetricScope::Fold);
    evaluate_twins(out.model, config, data, r.predictions, r);
    r.eval_seconds = since(e0);
  } catch (const detail::Interrupted& e) {
    r.status = CellStatus::Interrupted;
    r.error = e.what();
  } catch (const c10::OutOfMemoryError& e) {  // CUDA (or CPU allocator) out of memory: this cell only
    r.status = CellStatus::Failed;
    r.error = std::string("out of memory: ") + e.what_without_backtrace();
  } catch (const std::exception& e) {  // NonFiniteLoss, plugin and data problems
    r.status = CellStatus::Failed;
    r.error = e.what();
  }
  if (!runs.empty()) {
    double fit = 0, train = 0;
    for (const auto& run : runs) {
      fit += run->fit_seconds();
      train += run->train_seconds();
    }
    r.fit_seconds = fit + info.value("loo_source_fit_seconds", 0.0);
    r.train_seconds = train + info.value("loo_source_train_seconds", 0.0);
    r.curves = runs.back()->curves();
  }
  r.curves.insert(r.curves.end(), selection_curves.begin(), selection_curves.end());
  if (r.status != CellStatus::Done) {
    r.metrics.clear();
    r.confusion.clear();
    r.predictions.clear();
  }
  r.artifacts.push_back({"engine.training", info});
  if (!runs.empty()) {  // the reported run's augmenter (interface >= 2): "<plugin>.<key>"
    for (const auto& [name, value] : runs.back()->augmenter_artifacts()) r.artifacts.push_back({name, value});
    if (!runs.back()->augmenter_warnings().empty())  // interface >= 3
      r.artifacts.push_back({"engine.augmenter_warnings", runs.back()->augmenter_warnings()});
  }
  if (!data.excluded.empty()) {
    nlohmann::json ex = nlohmann::json::array();
    for (const auto& [key, reason] : data.excluded) ex.push_back({{"key", key}, {"reason", reason}});
    r.artifacts.push_back({"engine.excluded_samples", ex});
  }
  return out;
}

}  // namespace merx::engine
