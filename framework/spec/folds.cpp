// Fold membership for every protocol: which labelled samples a fold trains and tests on.
#include "merx/spec/folds.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

namespace merx {

int LabelledSamples::class_index(const std::string& name) const {
  auto it = std::find(classes.begin(), classes.end(), name);
  return it == classes.end() ? -1 : static_cast<int>(it - classes.begin());
}

DatasetSource dataset_source(const DatasetSpec& d) {
  return DatasetSource{d.name, d.adapter, d.root, d.annotations, d.annotations_sha256, d.options};
}

namespace {

size_t fold_position(const Plan& plan, const Fold& fold) {
  for (size_t i = 0; i < plan.folds.size(); ++i)
    if (plan.folds[i].id == fold.id) return i;
  throw std::invalid_argument("fold '" + fold.id + "' is not a fold of plan '" + plan.name + "'");
}

void check_matches(const Plan& plan, const std::vector<LoadResult>& datasets) {
  if (datasets.size() != plan.datasets.size())
    throw std::invalid_argument("fold samples: " + std::to_string(datasets.size()) + " loaded datasets for " +
                                std::to_string(plan.datasets.size()) + " datasets of the plan");
  for (size_t i = 0; i < datasets.size(); ++i)
    if (datasets[i].dataset != plan.datasets[i].name)
      throw std::invalid_argument("fold samples: loaded dataset " + std::to_string(i) + " is '" +
                                  datasets[i].dataset + "', the plan's is '" + plan.datasets[i].name + "'");
}

// "<subject>/<clip>[#occurrence]": a sample's key without its dataset, what a twin shares with its original.
std::string local_key(const SampleRecord& s) {
  return s.key.substr(std::min(s.key.size(), s.dataset.size() + 1));
}

// FoldSplit::counterfactual and counterfactual_unmatched (folds.h).
void pair_twins(const LabelledSamples& samples, FoldSplit& out) {
  if (samples.twins.empty()) return;
  std::map<std::string, const LoadResult*> twin_of;  // original name -> its twin's samples
  for (const auto& d : samples.datasets)
    if (auto t = samples.twins.find(d.dataset); t != samples.twins.end()) twin_of[t->second] = &d;
  std::map<std::string, std::set<std::string>> tested;  // original -> local subjects this fold tests on
  std::map<std::string, std::set<std::string>> paired;  // original -> local keys paired
  std::map<std::string, std::map<std::string, FoldSample>> index;  // original -> local key -> twin sample
  for (const auto& [original, twin] : twin_of)
    for (const auto& s : twin->samples)
      if (s.label && samples.class_index(*s.label) >= 0)
        index[original].emplace(local_key(s), FoldSample{&s, samples.class_index(*s.label)});
  std::vector<std::string> missing;
  for (const FoldSample& fs : out.test) {
    const SampleRecord& s = *fs.sample;
    if (!twin_of.count(s.dataset)) continue;
    tested[s.dataset].insert(s.subject);
    const std::string lk = local_key(s);
    const auto& ix = index[s.dataset];
    if (auto it = ix.find(lk); it != ix.end()) {
      out.counterfactual.push_back({&s, it->second});
      paired[s.dataset].insert(lk);
    } else {
      missing.push_back(s.key);
    }
  }
  std::sort(missing.begin(), missing.end());
  std::vector<std::string> extra;
  for (const auto& [original, ix] : index)
    for (const auto& [lk, fs] : ix)
      if (tested[original].count(fs.sample->subject) && !paired[original].count(lk))
        extra.push_back(fs.sample->key);
  std::sort(extra.begin(), extra.end());
  out.counterfactual_unmatched = std::move(missing);
  out.counterfactual_unmatched.insert(out.counterfactual_unmatched.end(), extra.begin(), extra.end());
}

}  // namespace

LabelledSamples label_samples(const Plan& plan, const LabelSettings& labels, std::vector<LoadResult> datasets) {
  check_matches(plan, datasets);
  LabelledSamples out;
  out.datasets = std::move(datasets);
  for (const auto& d : plan.datasets)
    if (!d.counterfactual_of.empty()) out.twins[d.name] = d.counterfactual_of;
  if (!labels.classes.empty()) {
    out.classes = labels.classes;
  } else {
    std::set<std::string> distinct;
    for (const auto& d : out.datasets)
      for (const auto& s : d.samples)
        if (s.label) distinct.insert(*s.label);
    out.classes.assign(distinct.begin(), distinct.end());
  }
  // A fixed class list (megc3, custom) must cover every label; only a membership list can bring in another.
  std::vector<Problem> problems;
  for (const auto& d : out.datasets)
    for (const auto& s : d.samples) {
      if (!s.label) {
        out.unlabelled.push_back(s.key);
      } else if (out.class_index(*s.label) < 0) {
        std::string list;
        for (const auto& c : out.classes) list += (list.empty() ? "" : ", ") + c;
        problems.push_back({labels.membership.empty() ? s.source_file : labels.membership.string(),
                            s.key + ": label '" + *s.label + "' is not a class of the `" + labels.name +
                                "` labels (" + list + ")"});
      }
    }
  if (!problems.empty()) throw ValidationError(problems);
  return out;
}

LabelledSamples load_samples(const Plan& plan, const SweepPoint& point, const SampleLoadOptions& options) {
  const LabelSettings& ls = point.labels;
  std::optional<Membership> membership;
  if (!ls.membership.empty()) membership = Membership::read(ls.membership);
  LoadOptions lo;
  lo.mode = options.mode;
  lo.labels.name = ls.name;
  lo.labels.map = ls.map;
  lo.labels.unmapped = ls.unmapped;
  lo.membership = membership ? &*membership : nullptr;
  lo.frames = options.frames;
  // Every dataset is loaded before any problem is reported, so one pass lists the problems of all of them.
  std::vector<LoadResult> loaded;
  loaded.reserve(plan.datasets.size());
  std::vector<Problem> problems;
  for (size_t i = 0; i < plan.datasets.size(); ++i) {
    try {
      loaded.push_back(load_dataset(dataset_source(plan.datasets[i]), lo));
    } catch (const ValidationError& e) {
      problems.insert(problems.end(), e.problems().begin(), e.problems().end());
    } catch (const UserError& e) {
      problems.push_back({"datasets[" + std::to_string(i) + "]", e.what()});
    }
  }
  if (!problems.empty()) throw DatasetError(std::move(problems));
  return label_samples(plan, ls, std::move(loaded));
}

std::map<std::string, int64_t> kfold_subject_assignment(const LabelledSamples& samples, int64_t k) {
  if (k < 1) throw std::invalid_argument("kfold_subject: k must be at least 1, got " + std::to_string(k));
  std::map<std::string, int64_t> count;
  for (const auto& d : samples.datasets)
    if (!samples.twins.count(d.dataset))  // twins are no domains: their subjects are in no fold
      for (const auto& s : d.samples)
        if (s.label && samples.class_index(*s.label) >= 0) ++count[s.global_subject];
  std::vector<std::pair<std::string, int64_t>> order(count.begin(), count.end());  // sorted by id
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<int64_t> load(static_cast<size_t>(k), 0);
  std::map<std::string, int64_t> fold_of;
  for (const auto& [subject, n] : order) {
    const size_t f = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[f] += n;
    fold_of[subject] = static_cast<int64_t>(f);
  }
  return fold_of;
}

FoldSplit fold_samples(const Plan& plan, const Fold& fold, const LabelledSamples& samples) {
  const size_t pos = fold_position(plan, fold);
  check_matches(plan, samples.datasets);
  const Fold& f = plan.folds[pos];
  const std::string& protocol = plan.protocol.name;
  std::map<std::string, int64_t> kfold;
  int64_t kfold_index = -1;
  if (protocol == "kfold_subject") {
    kfold = kfold_subject_assignment(samples, plan.protocol.k);
    if (f.id.size() < 2 || f.id[0] != 'k')
      throw std::invalid_argument("kfold_subject fold id '" + f.id + "' is not k<i>");
    kfold_index = std::stoll(f.id.substr(1));
  } else if (protocol != "lodo" && protocol != "hde" && protocol != "loso") {
    throw std::invalid_argument("fold samples: unknown protocol '" + protocol + "'");
  }
  auto listed = [](const std::vector<std::string>& names, const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };

  FoldSplit out;
  out.fold = f.id;
  out.train_counts.assign(samples.classes.size(), 0);
  out.test_counts.assign(samples.classes.size(), 0);
  std::set<std::string> train_subjects, test_subjects;
  for (const auto& d : samples.datasets) {
    if (samples.twins.count(d.dataset)) continue;  // paired below, never trained or tested on
    for (const auto& s : d.samples) {
      if (!s.label) continue;
      const int c = samples.class_index(*s.label);
      if (c < 0) continue;  // label_samples refuses such samples; a hand-made LabelledSamples may not
      bool train = false, test = false;
      if (protocol == "loso") {
        test = s.global_subject == f.subject;
        train = !test && listed(f.train, s.dataset);
      } else if (protocol == "kfold_subject") {
        test = kfold.at(s.global_subject) == kfold_index;
        train = !test;
      } else {  // lodo, hde
        test = listed(f.test, s.dataset);
        train = !test && listed(f.train, s.dataset);
      }
      if (test) {
        out.test.push_back({&s, c});
        ++out.test_counts[static_cast<size_t>(c)];
        test_subjects.insert(s.global_subject);
      } else if (train) {
        out.train.push_back({&s, c});
        ++out.train_counts[static_cast<size_t>(c)];
        train_subjects.insert(s.global_subject);
      }
    }
  }
  out.train_subjects.assign(train_subjects.begin(), train_subjects.end());
  out.test_subjects.assign(test_subjects.begin(), test_subjects.end());
  pair_twins(samples, out);
  return out;
}

std::vector<FoldSplit> fold_samples(const Plan& plan, const LabelledSamples& samples) {
  std::vector<FoldSplit> out;
  out.reserve(plan.folds.size());
  for (const auto& f : plan.folds) out.push_back(fold_samples(plan, f, samples));
  return out;
}

}  // namespace merx
