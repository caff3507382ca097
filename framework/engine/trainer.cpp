#include "engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <sstream>

#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <spdlog/spdlog.h>

#include "merx/errors.h"
#include "merx/preprocessing/au_roi.h"
#include "merx/spec/settings.h"

namespace merx::engine::detail {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

torch::Tensor long_tensor(const std::vector<int64_t>& v, torch::Device device) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kLong)).to(device);
}

std::unique_ptr<torch::optim::OptimizerOptions> group_options(const TrainingSettings& t, double lr,
                                                              double wd) {
  namespace o = torch::optim;
  if (t.optimizer == "adam") return std::make_unique<o::AdamOptions>(o::AdamOptions(lr).weight_decay(wd));
  if (t.optimizer == "adamw") return std::make_unique<o::AdamWOptions>(o::AdamWOptions(lr).weight_decay(wd));
  if (t.optimizer == "sgd")
    return std::make_unique<o::SGDOptions>(o::SGDOptions(lr).momentum(t.momentum).weight_decay(wd));
  throw UserError("training.optimizer: unknown optimizer '" + t.optimizer + "' (adam, adamw, sgd)");
}

// The lr factor of an epoch (0-based): step decays by gamma every step_size epochs; cosine anneals from lr
// to 0 over `epochs` (torch's CosineAnnealingLR with T_max = epochs, eta_min = 0, stepped per epoch).
double lr_factor(const TrainingSettings& t, int64_t epoch) {
  if (t.schedule == "step") return std::pow(t.gamma, static_cast<double>(epoch / t.step_size));
  if (t.schedule == "cosine")
    return 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(t.epochs)));
  return 1.0;
}

// Steps mode: the schedule over optimiser steps (step_size counts steps; cosine anneals over `steps`).
double lr_factor_at_step(const TrainingSettings& t, int64_t step) {
  if (t.schedule == "step") return std::pow(t.gamma, static_cast<double>(step / t.step_size));
  if (t.schedule == "cosine")
    return 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(t.steps)));
  return 1.0;
}

}  // namespace

Trainer::Trainer(const CellConfig& config, const PluginRegistry& registry, const CellData& data,
                 const std::vector<size_t>& positions, int64_t period)
    : config_(config), lane_(config.device) {
  const TrainSet& ts = data.train;
  const torch::Device device = config.device;
  const size_t k = data.classes.size();
  if (positions.empty()) throw UserError("no training clips");

  // Sources of this run, sorted by name; their indices re-numbered.
  std::vector<bool> present(data.source_domains.size(), false);
  for (size_t p : positions) present.at(static_cast<size_t>(ts.domain.at(p))) = true;
  std::vector<int64_t> remap(data.source_domains.size(), -1);
  std::vector<std::pair<std::string, size_t>> named;
  for (size_t d = 0; d < present.size(); ++d)
    if (present[d]) named.emplace_back(data.source_domains[d], d);
  std::sort(named.begin(), named.end());
  for (size_t i = 0; i < named.size(); ++i) {
    sources_.push_back(named[i].first);
    remap[named[i].second] = static_cast<int64_t>(i);
  }
  std::vector<int64_t> idx;
  for (size_t p : positions) {
    idx.push_back(static_cast<int64_t>(p));
    domain_.push_back(remap[static_cast<size_t>(ts.domain[p])]);
    labels_.push_back(ts.y[p]);
  }
  const torch::Tensor index = long_tensor(idx, ts.x.device());
  x_ = ts.x.index_select(0, index).to(device, torch::kFloat);
  y_ = long_tensor(labels_, device);

  // Backbone and head: the same initialisation for every method at this (fold, seed). Everything up to the
  // regularizer's setup seeds and draws from torch's default generators: one cell at a time (rng_lane.h).
  std::unique_lock<std::mutex> draws(default_generator_mutex());
  torch::manual_seed(derive_seed(config.cell_seed, "init"));
  model_.backbone = registry.create<Backbone>(config.backbone.name, config.backbone.params);
  const InputShape in = model_.backbone->input_shape();
  const std::vector<int64_t> want = {in.channels, in.height, in.width};
  const std::vector<int64_t> have(x_.sizes().begin() + 1, x_.sizes().end());
  if (want != have)
    throw UserError("backbone `" + config.backbone.name + "` expects inputs " + shape_text(want) +
                    ", the recipe makes " + shape_text(have));
  model_.head =
      torch::nn::Linear(torch::nn::LinearOptions(model_.backbone->feature_dim(), static_cast<int64_t>(k)));
  model_.backbone->to(device);
  model_.head->to(device);

  // Augmenter: fitted on this run's training samples only.
  const auto fit0 = Clock::now();
  const std::string aug_purpose = "augmenter:" + config.augmenter.name;
  torch::manual_seed(derive_seed(config.cell_seed, aug_purpose));
  augmenter_ = registry.create<Augmenter>(config.augmenter.name, config.augmenter.params);
  SampleSet fit_set;
  fit_set.x = x_;
  fit_set.y = y_;
  fit_set.domain = long_tensor(domain_, device);
  if (ts.au.defined()) {
    torch::Tensor au = ts.au.index_select(0, index.to(ts.au.device()));
    if (ts.au_flow_roi_raw) {
      // flow_roi magnitudes to 0..5 by the 95th percentile of the rows this run fits on: the validation
      // rows of source_val (and the held-out source of loo_source) must not shape the augmenter.
      au = au.to(torch::kCPU, torch::kFloat).contiguous();
      const int64_t rows = au.size(0), cols = au.size(1);
      std::vector<std::vector<float>> m(static_cast<size_t>(rows));
      const float* a = au.data_ptr<float>();
      for (int64_t i = 0; i < rows; ++i) m[static_cast<size_t>(i)].assign(a + i * cols, a + (i + 1) * cols);
      au_flow_roi_q95_ = prep::scale_flow_roi(m);
      std::vector<float> flat;
      flat.reserve(static_cast<size_t>(rows * cols));
      for (const auto& row : m) flat.insert(flat.end(), row.begin(), row.end());
      au = torch::tensor(flat, torch::kFloat).reshape({rows, cols});
    }
    fit_set.au = au.to(device);
  }
  fit_set.au_ids = ts.au_ids;
  for (size_t p : positions) fit_set.keys.push_back(ts.keys.at(p));
  AugmenterSetup aug_setup{sources_, data.classes, derive_seed(config.cell_seed, aug_purpose), device, {}};
  // Interface version 2 and later: the synthetic domain and artifacts() exist; version 3: channels,
  // synthetic_loss_weight() and warnings() (merx/augmenter.h).
  const PluginInfo* aug_info = registry.find(PluginKind::Augmenter, config.augmenter.name);
  const bool aug_v2 = aug_info != nullptr && aug_info->api_version >= 2;
  const bool aug_v3 = aug_info != nullptr && aug_info->api_version >= 3;
  if (aug_v3) aug_setup.channels = recipe_channel_names(config.recipe);
  augmenter_->fit(aug_setup, fit_set);
  const size_t real_sources = sources_.size();
  const size_t n_real = labels_.size();
  if (augmenter_->mode() == AugmenterMode::Extend) {
    SampleSet more = augmenter_->extend(fit_set);
    if (more.x.defined() && more.x.size(0) > 0) {
      const int64_t m = more.x.size(0);
      const bool ok = more.x.dim() == 4 && more.x.sizes().slice(1) == x_.sizes().slice(1) &&
                      more.y.defined() && more.y.numel() == m && more.domain.defined() &&
                      more.domain.numel() == m;
      if (!ok)
        throw std::runtime_error("augmenter `" + config.augmenter.name + "`: extend() returned x " +
                                 shape_text(more.x.sizes().vec()) + " with " +
                                 std::to_string(more.y.defined() ? more.y.numel() : 0) + " labels and " +
                                 std::to_string(more.domain.defined() ? more.domain.numel() : 0) +
                                 " domains; expected [M, " + shape_text(have).substr(1) + " and M of each");
      const auto my = more.y.to(torch::kCPU, torch::kLong), md = more.domain.to(torch::kCPU, torch::kLong);
      for (int64_t i = 0; i < m; ++i) {
        const int64_t c = my[i].item<int64_t>(), d = md[i].item<int64_t>();
        const int64_t synthetic = static_cast<int64_t>(real_sources);
        if (aug_v2 && d == synthetic && sources_.size() == real_sources) {
          if (std::find(sources_.begin(), sources_.end(), "synthetic") != sources_.end())
            throw UserError("augmenter `" + config.augmenter.name +
                            "`: generated samples use the domain `synthetic`, which is also a dataset name "
                            "in this cell; rename the dataset");
          sources_.push_back("synthetic");
        }
        if (c < 0 || c >= static_cast<int64_t>(k) || d < 0 || d >= static_cast<int64_t>(sources_.size()))
          throw std::runtime_error("augmenter `" + config.augmenter.name + "`: generated sample " +
                                   std::to_string(i) + " has class " + std::to_string(c) + " / domain " +
                                   std::to_string(d) + " outside the cell's classes / sources");
        labels_.push_back(c);
        domain_.push_back(d);
      }
      x_ = torch::cat({x_, more.x.to(device, torch::kFloat)});
      y_ = long_tensor(labels_, device);
      extended_ = static_cast<size_t>(m);
    }
  }
  sample_weight_.assign(labels_.size(), 1.0f);
  if (aug_v3 && extended_ > 0) {
    const double w = augmenter_->synthetic_loss_weight();
    if (!std::isfinite(w) || w < 0)
      throw std::runtime_error("augmenter `" + config.augmenter.name + "`: synthetic_loss_weight() is " +
                               std::to_string(w) + "; expected a finite value >= 0");
    for (size_t i = n_real; i < sample_weight_.size(); ++i) sample_weight_[i] = static_cast<float>(w);
    weighted_ = w != 1.0;
  }
  if (aug_v3) {
    augmenter_warnings_ = augmenter_->warnings();
    const std::string who = config.label.empty() ? std::string("cell") : config.label;
    for (const auto& w : augmenter_warnings_)
      spdlog::warn("{}: augmenter `{}`: {}", who, config.augmenter.name, w);
  }
  if (aug_v2) {
    const nlohmann::json a = augmenter_->artifacts();
    if (a.is_object())
      for (auto it = a.begin(); it != a.end(); ++it)
        augmenter_artifacts_.push_back({config.augmenter.name + "." + it.key(), it.value()});
  }
  fit_seconds_ = since(fit0);

  // Regularizer: its own modules, its own seed.
  const std::string reg_purpose = "regularizer:" + config.regularizer.name;
  torch::manual_seed(derive_seed(config.cell_seed, reg_purpose));
  regularizer_ = registry.create<Regularizer>(config.regularizer.name, config.regularizer.params);
  const RegularizerRequirements req = regularizer_->requirements();
  if (static_cast<int64_t>(real_sources) < req.min_source_domains)  // the synthetic domain is no dataset
    throw UserError("regularizer `" + config.regularizer.name + "` needs at least " +
                    std::to_string(req.min_source_domains) + " source datasets; this training run has " +
                    std::to_string(real_sources));
  if (req.needs_domain_balanced && config.training.sampler != "domain_balanced")
    throw UserError("regularizer `" + config.regularizer.name +
                    "` needs training.sampler `domain_balanced`, not `" + config.training.sampler + "`");
  regularizer_->setup(RegularizerSetup{sources_, model_.backbone->feature_dim(), static_cast<int64_t>(k),
                                       config.training.sampler, derive_seed(config.cell_seed, reg_purpose),
                                       device});
  regularizer_->to(device);
  const PluginInfo* reg_info = registry.find(PluginKind::Regularizer, config.regularizer.name);
  reg_v2_ = reg_info != nullptr && reg_info->api_version >= 2;  // diagnostics() exists (merx/regularizer.h)
  draws.unlock();

  steps_mode_ = config.training.steps > 0;
  // Steps mode: the sampler sees the real clips only, so its batches are those of a run without the
  // augmenter; the generated samples are appended from their own stream (next_batch).
  const size_t sampled = steps_mode_ ? n_real : labels_.size();
  std::vector<SamplerItem> items(sampled);
  for (size_t i = 0; i < items.size(); ++i) items[i] = {domain_[i], labels_[i]};
  sampler_ =
      std::make_unique<BatchSampler>(config.training.sampler, config.training.batch, std::move(items),
                                     static_cast<int64_t>(steps_mode_ ? real_sources : sources_.size()),
                                     static_cast<int64_t>(k), derive_seed(config.cell_seed, "sampler"));
  if (steps_mode_) {
    if (period < 1) throw std::invalid_argument("trainer: steps mode needs an evaluation period >= 1");
    period_ = period;
    total_steps_ = config.training.steps;
    synthetic_rng_ = std::make_unique<Rng>(derive_seed(config.cell_seed, "sampler:synthetic"));
    const double b = static_cast<double>(config.training.batch);
    if (config.training.sampler == "domain_balanced") {
      // Per domain: a source's generated samples at b * (generated / real) of that source per step, the
      // `synthetic` domain at b per step like any domain.
      std::vector<size_t> real_count(sources_.size(), 0);
      for (size_t i = 0; i < n_real; ++i) ++real_count[static_cast<size_t>(domain_[i])];
      std::vector<SyntheticPool> pools(sources_.size());
      for (size_t i = n_real; i < labels_.size(); ++i)
        pools[static_cast<size_t>(domain_[i])].members.push_back(i);
      for (size_t d = 0; d < pools.size(); ++d) {
        if (pools[d].members.empty()) continue;
        pools[d].rate = d >= real_sources ? b
                                          : b * static_cast<double>(pools[d].members.size()) /
                                                static_cast<double>(real_count[d]);
        synthetic_pools_.push_back(std::move(pools[d]));
      }
    } else if (labels_.size() > n_real) {
      // One pool at the generated samples' share of a b-clip batch: b * generated / real per step.
      SyntheticPool pool;
      for (size_t i = n_real; i < labels_.size(); ++i) pool.members.push_back(i);
      pool.rate = b * static_cast<double>(pool.members.size()) / static_cast<double>(n_real);
      synthetic_pools_.push_back(std::move(pool));
    }
  } else {
    total_steps_ = sampler_->steps_per_epoch() * config.training.epochs;
  }
  build_optimizer();
}

Trainer::~Trainer() = default;

void Trainer::build_optimizer() {
  namespace o = torch::optim;
  const TrainingSettings& t = config_.training;
  std::vector<o::OptimizerParamGroup> groups;
  base_lr_.clear();
  clip_params_.clear();
  std::vector<torch::Tensor> main = model_.backbone->parameters();
  for (const auto& p : model_.head->parameters()) main.push_back(p);
  auto add = [&](std::vector<torch::Tensor> params, double lr, double wd) {
    if (params.empty()) return;
    clip_params_.insert(clip_params_.end(), params.begin(), params.end());
    base_lr_.push_back(lr);
    groups.emplace_back(std::move(params), group_options(t, lr, wd));
  };
  add(main, t.lr, t.weight_decay);
  for (auto& g : regularizer_->param_groups())
    add(g.parameters, g.lr < 0 ? t.lr : g.lr, g.weight_decay < 0 ? t.weight_decay : g.weight_decay);
  if (t.optimizer == "adam")
    optimizer_ =
        std::make_unique<o::Adam>(std::move(groups), o::AdamOptions(t.lr).weight_decay(t.weight_decay));
  else if (t.optimizer == "adamw")
    optimizer_ =
        std::make_unique<o::AdamW>(std::move(groups), o::AdamWOptions(t.lr).weight_decay(t.weight_decay));
  else
    optimizer_ = std::make_unique<o::SGD>(
        std::move(groups), o::SGDOptions(t.lr).momentum(t.momentum).weight_decay(t.weight_decay));
}

std::vector<size_t> Trainer::next_batch() {
  if (pending_pos_ >= pending_.size()) {
    pending_ = sampler_->next_epoch();
    pending_pos_ = 0;
  }
  std::vector<size_t> batch = std::move(pending_[pending_pos_++]);
  for (auto& p : synthetic_pools_) {
    p.carry += p.rate;
    const auto n = static_cast<size_t>(std::floor(p.carry + 1e-9));
    p.carry -= static_cast<double>(n);
    for (size_t j = 0; j < n; ++j) {
      if (p.pos == p.order.size()) {
        p.order = p.members;
        synthetic_rng_->shuffle(p.order);
        p.pos = 0;
      }
      batch.push_back(p.order[p.pos++]);
    }
  }
  return batch;
}

void Trainer::set_lr(int64_t epoch) {
  set_lr_factor(lr_factor(config_.training, epoch));
}

void Trainer::set_lr_factor(double f) {
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size() && i < base_lr_.size(); ++i)
    groups[i].options().set_lr(base_lr_[i] * f);
}

void Trainer::train(int64_t until, const std::function<void(int64_t)>& after_epoch) {
  namespace F = torch::nn::functional;
  const auto t0 = Clock::now();
  if (epochs_done_ == 0) lane_.seed(derive_seed(config_.cell_seed, "dropout"));
  const torch::Device device = config_.device;
  const bool transform = augmenter_->mode() == AugmenterMode::Transform;
  for (int64_t epoch = epochs_done_; epoch < until; ++epoch) {
    model_.set_training(true);
    regularizer_->train(true);
    if (!steps_mode_) set_lr(epoch);
    std::vector<std::string> names = {"loss"};
    std::vector<double> sums = {0.0};
    int64_t steps = 0;
    std::vector<std::vector<size_t>> batches;
    if (steps_mode_) {
      const int64_t n = std::min(period_, total_steps_ - step_);
      for (int64_t s = 0; s < n; ++s) batches.push_back(next_batch());
    } else {
      batches = sampler_->next_epoch();
    }
    for (auto& batch : batches) {
      if (config_.stop && config_.stop->load())
        throw Interrupted("interrupted at step " + std::to_string(step_));
      if (config_.on_batch) config_.on_batch(step_, batch);
      if (regularizer_->reset_optimizer_before(step_)) {
        build_optimizer();
        if (!steps_mode_) set_lr(epoch);
      }
      if (steps_mode_) set_lr_factor(lr_factor_at_step(config_.training, step_));
      // Per-domain sub-batches are contiguous runs after a stable sort by domain.
      std::stable_sort(batch.begin(), batch.end(),
                       [&](size_t a, size_t b) { return domain_[a] < domain_[b]; });
      std::vector<int64_t> idx(batch.begin(), batch.end()), dom(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) dom[i] = domain_[batch[i]];
      const torch::Tensor index = long_tensor(idx, device);
      torch::Tensor xb = x_.index_select(0, index), yb = y_.index_select(0, index);
      // Augmenter, forward pass (dropout) and objective may draw: under this run's RngLane.
      std::optional<RngLane::Guard> draws;
      draws.emplace(lane_);
      if (transform) {
        SampleSet sb;
        sb.x = xb;
        sb.y = yb;
        sb.domain = long_tensor(dom, device);
        augmenter_->transform(sb, step_);
        if (!sb.x.defined() || sb.x.sizes() != xb.sizes() || !sb.y.defined() || sb.y.numel() != yb.numel())
          throw std::runtime_error("augmenter `" + config_.augmenter.name +
                                   "`: transform() changed the batch shape");
        xb = sb.x;
        yb = sb.y;
      }
      const torch::Tensor features = model_.backbone->forward(xb);
      const torch::Tensor logits = model_.head->forward(features);
      StepInput in;
      in.head = model_.head;
      in.step = step_;
      in.total_steps = total_steps_;
      for (size_t lo = 0; lo < dom.size();) {
        size_t hi = lo;
        while (hi < dom.size() && dom[hi] == dom[lo]) ++hi;
        const int64_t a = static_cast<int64_t>(lo), n = static_cast<int64_t>(hi - lo);
        DomainBatch db{dom[lo], features.narrow(0, a, n), logits.narrow(0, a, n), yb.narrow(0, a, n)};
        if (weighted_) {  // generated samples weighted, divided by the count (not the weight sum)
          std::vector<float> w(static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i)
            w[static_cast<size_t>(i)] = sample_weight_[batch[lo + static_cast<size_t>(i)]];
          const torch::Tensor wt = torch::tensor(w, torch::kFloat).to(device);
          const torch::Tensor ce =
              F::cross_entropy(db.logits, db.labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
          in.domain_losses.push_back((ce * wt).sum() / static_cast<double>(n));
        } else {
          in.domain_losses.push_back(F::cross_entropy(db.logits, db.labels));
        }
        in.domains.push_back(std::move(db));
        lo = hi;
      }
      Objective obj = regularizer_->objective(in);
      draws.reset();
      std::vector<double> values = {obj.total.item<double>()};
      bool finite = std::isfinite(values[0]);
      for (const auto& [name, v] : obj.components) {
        values.push_back(v.item<double>());
        finite = finite && std::isfinite(values.back());
      }
      if (!finite) {
        std::ostringstream msg;
        msg << "non-finite loss at step " << step_ << " (epoch " << epoch << ", batch " << steps << " of "
            << sampler_->steps_per_epoch() << "): loss=" << values[0];
        for (size_t i = 0; i < obj.components.size(); ++i)
          msg << ", " << obj.components[i].first << "=" << values[i + 1];
        throw NonFiniteLoss(msg.str());
      }
      if (steps == 0)
        for (const auto& c : obj.components) names.push_back("loss/" + c.first);
      if (sums.size() < names.size()) sums.resize(names.size(), 0.0);
      for (size_t i = 0; i < values.size() && i < sums.size(); ++i) sums[i] += values[i];
      optimizer_->zero_grad();
      obj.total.backward();
      if (config_.training.grad_clip > 0)
        torch::nn::utils::clip_grad_norm_(clip_params_, config_.training.grad_clip);
      optimizer_->step();
      ++step_;
      ++steps;
    }
    for (size_t i = 0; i < names.size(); ++i)
      curves_.push_back({epoch, names[i], steps > 0 ? sums[i] / static_cast<double>(steps) : 0.0});
    if (reg_v2_) {  // API >= 2: the regularizer's own figures of this epoch, e.g. BRL's ||W_d - W||
      torch::NoGradGuard no_grad;
      for (const auto& [name, value] : regularizer_->diagnostics())
        curves_.push_back({epoch, config_.regularizer.name + "/" + name, value});
    }
    if (steps_mode_) curves_.push_back({epoch, "step", static_cast<double>(step_)});  // steps done so far
    epochs_done_ = epoch + 1;
    if (after_epoch) after_epoch(epoch);
    if (config_.on_epoch) config_.on_epoch(epoch, until);
  }
  train_seconds_ += since(t0);
}

namespace {
std::vector<torch::nn::Module*> modules(Model& model) {
  return {static_cast<torch::nn::Module*>(model.backbone.get()),
          static_cast<torch::nn::Module*>(model.head.get())};
}
}  // namespace

std::vector<torch::Tensor> snapshot(Model& model) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (torch::nn::Module* m : modules(model)) {
    for (const auto& p : m->parameters()) out.push_back(p.detach().clone());
    for (const auto& b : m->buffers()) out.push_back(b.detach().clone());
  }
  return out;
}

void restore(Model& model, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (torch::nn::Module* m : modules(model)) {
    for (auto& p : m->parameters()) p.copy_(state.at(i++));
    for (auto& b : m->buffers()) b.copy_(state.at(i++));
  }
}

std::vector<int> predict(Model& model, const torch::Tensor& x, int64_t batch, torch::Device device) {
  if (batch < 1) throw std::invalid_argument("evaluation batch must be >= 1");
  torch::NoGradGuard no_grad;
  model.set_training(false);
  std::vector<int> out;
  const int64_t m = x.size(0);
  for (int64_t lo = 0; lo < m; lo += batch) {
    const int64_t n = std::min(batch, m - lo);
    const torch::Tensor logits = model.logits(x.narrow(0, lo, n).to(device, torch::kFloat)).to(torch::kCPU);
    const auto a = logits.accessor<float, 2>();
    for (int64_t i = 0; i < n; ++i) {
      int best = 0;
      for (int64_t c = 1; c < a.size(1); ++c)
        if (a[i][c] > a[i][best]) best = static_cast<int>(c);
      out.push_back(best);
    }
  }
  return out;
}

}  // namespace merx::engine::detail
