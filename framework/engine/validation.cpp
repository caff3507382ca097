#include "merx/engine/validation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "merx/engine/sampler.h"
#include "merx/hash.h"

namespace merx::engine {
namespace {

struct Subject {
  std::string id;
  std::vector<size_t> items;
  std::vector<int64_t> counts;  // per class
  size_t rank = 0;              // position in the shuffled order
  bool held = false;
};

}  // namespace

ValidationSplit source_val_split(const std::vector<SplitItem>& items, const std::vector<std::string>& classes,
                                 double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction < 1)) throw std::invalid_argument("source_val: fraction must be in (0, 1)");
  const size_t k = classes.size();
  for (const auto& it : items)
    if (it.label < 0 || static_cast<size_t>(it.label) >= k)
      throw std::invalid_argument("source_val: class index " + std::to_string(it.label) + " of " + it.key +
                                  " outside [0, " + std::to_string(k) + ")");

  std::map<std::string, std::vector<size_t>> by_source;  // sorted by name
  for (size_t i = 0; i < items.size(); ++i) by_source[items[i].source].push_back(i);

  ValidationSplit out;
  out.record = {{"method", "source_val"},
                {"fraction", fraction},
                {"seed", seed},
                {"sources", nlohmann::json::object()}};
  std::vector<size_t> held_items;
  for (const auto& [source, positions] : by_source) {
    // Subjects in name order, then shuffled with this source's own generator.
    std::map<std::string, Subject> subj;
    for (size_t i : positions) {
      auto& s = subj[items[i].subject];
      s.id = items[i].subject;
      if (s.counts.empty()) s.counts.assign(k, 0);
      s.items.push_back(i);
      ++s.counts[static_cast<size_t>(items[i].label)];
    }
    std::vector<Subject*> order;
    for (auto& [id, s] : subj) order.push_back(&s);
    Rng rng(hash64(std::to_string(seed) + "/" + source));
    rng.shuffle(order);
    for (size_t r = 0; r < order.size(); ++r) order[r]->rank = r;

    std::vector<int64_t> train_counts(k, 0), val_counts(k, 0);
    for (size_t i : positions) ++train_counts[static_cast<size_t>(items[i].label)];
    const size_t n = positions.size();
    const size_t target =
        std::max<size_t>(1, static_cast<size_t>(std::llround(fraction * static_cast<double>(n))));
    size_t held = 0, held_subjects = 0;

    // Moving s keeps at least one training subject and a training clip of every class training has.
    auto allowed = [&](const Subject& s) {
      if (s.held || held_subjects + 1 >= order.size()) return false;
      for (size_t c = 0; c < k; ++c)
        if (s.counts[c] > 0 && train_counts[c] - s.counts[c] <= 0) return false;
      return true;
    };
    auto move = [&](Subject& s) {
      s.held = true;
      ++held_subjects;
      held += s.items.size();
      for (size_t c = 0; c < k; ++c) {
        train_counts[c] -= s.counts[c];
        val_counts[c] += s.counts[c];
      }
    };

    // Coverage: rarest class first.
    std::vector<size_t> class_order;
    for (size_t c = 0; c < k; ++c)
      if (train_counts[c] > 0) class_order.push_back(c);
    std::stable_sort(class_order.begin(), class_order.end(),
                     [&](size_t a, size_t b) { return train_counts[a] < train_counts[b]; });
    for (size_t c : class_order) {
      if (val_counts[c] > 0) continue;
      Subject* best = nullptr;
      for (Subject* s : order)
        if (s->counts[c] > 0 && allowed(*s) && held + s->items.size() <= 2 * target &&
            (!best || s->items.size() < best->items.size()))
          best = s;
      if (best) move(*best);
    }
    // Fill towards the target.
    for (Subject* s : order) {
      if (held >= target) break;
      const auto dist = [&](size_t v) { return v > target ? v - target : target - v; };
      if (allowed(*s) && dist(held + s->items.size()) < dist(held)) move(*s);
    }

    nlohmann::json rec = {{"clips", n}, {"validation_clips", held}};
    nlohmann::json subjects = nlohmann::json::array(), missing = nlohmann::json::array();
    for (auto& [id, s] : subj)
      if (s.held) {
        subjects.push_back(id);
        held_items.insert(held_items.end(), s.items.begin(), s.items.end());
      }
    for (size_t c = 0; c < k; ++c)
      if (val_counts[c] == 0 && train_counts[c] > 0) missing.push_back(classes[c]);
    rec["subjects"] = subjects;
    rec["classes_missing"] = missing;
    if (order.size() < 2) rec["note"] = "a single subject: no subject-disjoint validation clips";
    out.record["sources"][source] = rec;
  }
  std::sort(held_items.begin(), held_items.end());
  out.validation = held_items;
  nlohmann::json keys = nlohmann::json::array();
  for (size_t i : held_items) keys.push_back(items[i].key);
  out.record["samples"] = keys;
  return out;
}

}  // namespace merx::engine
