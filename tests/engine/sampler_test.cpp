// Batch samplers and the source_val split: exact epoch lengths and counts, worked out by hand below.
#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include <doctest/doctest.h>

#include "merx/engine/sampler.h"
#include "merx/engine/validation.h"

using merx::engine::BatchSampler;
using merx::engine::SamplerItem;

namespace {

std::vector<SamplerItem> items_with_domains(const std::vector<size_t>& sizes) {
  std::vector<SamplerItem> v;
  for (size_t d = 0; d < sizes.size(); ++d)
    for (size_t i = 0; i < sizes[d]; ++i) v.push_back({static_cast<int64_t>(d), 0});
  return v;
}

}  // namespace

TEST_CASE(
    "domain_balanced: epoch = ceil(largest source / b) steps, b per source per step, exact visit counts") {
  // Sources of 10, 23 and 4 clips, b = 4: ceil(23 / 4) = 6 steps of 3 x 4 = 12 clips; 24 draws per source
  // per epoch. Source 0: 24 = 2 x 10 + 4 -> four clips drawn 3 times, six twice. Source 1: 24 = 23 + 1 ->
  // one clip twice, 22 once. Source 2: 24 = 6 x 4 -> every clip 6 times.
  const auto items = items_with_domains({10, 23, 4});
  BatchSampler s("domain_balanced", 4, items, 3, 1, 7);
  CHECK(s.steps_per_epoch() == 6);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto batches = s.next_epoch();
    REQUIRE(batches.size() == 6);
    std::map<size_t, int> visits;
    std::vector<std::vector<size_t>> per_domain(3);
    for (const auto& b : batches) {
      REQUIRE(b.size() == 12);
      for (size_t j = 0; j < 12; ++j) {
        CHECK(items[b[j]].domain == static_cast<int64_t>(j / 4));  // source 0 first, then 1, then 2
        ++visits[b[j]];
        per_domain[j / 4].push_back(b[j]);
      }
    }
    auto histogram = [&](size_t lo, size_t hi) {
      std::map<int, int> h;  // visits -> number of clips
      for (size_t i = lo; i < hi; ++i) ++h[visits[i]];
      return h;
    };
    CHECK(histogram(0, 10) == std::map<int, int>{{2, 6}, {3, 4}});
    CHECK(histogram(10, 33) == std::map<int, int>{{1, 22}, {2, 1}});
    CHECK(histogram(33, 37) == std::map<int, int>{{6, 4}});
    // Cycling: the first n_d draws of a source within an epoch are a permutation of its clips.
    const std::vector<size_t> n = {10, 23, 4};
    for (size_t d = 0; d < 3; ++d) {
      std::set<size_t> first(per_domain[d].begin(),
                             per_domain[d].begin() + static_cast<std::ptrdiff_t>(n[d]));
      CHECK(first.size() == n[d]);
    }
  }
}

TEST_CASE("samplers are reproducible from their seed and differ between seeds and epochs") {
  const auto items = items_with_domains({10, 23, 4});
  BatchSampler a("domain_balanced", 4, items, 3, 1, 11), b("domain_balanced", 4, items, 3, 1, 11),
      c("domain_balanced", 4, items, 3, 1, 12);
  const auto a1 = a.next_epoch(), b1 = b.next_epoch(), c1 = c.next_epoch();
  CHECK(a1 == b1);
  CHECK(a1 != c1);
  CHECK(a.next_epoch() != a1);  // a fresh shuffle every epoch
}

TEST_CASE("class_balanced: floor(b / K) of every class present per step, the remainder in rotation") {
  // Classes 0 (7 clips), 1 (2), 3 (5); class 2 absent, so K' = 3. N = 14, b = 5: ceil(14 / 5) = 3 steps;
  // each step gives 1 clip per class and 2 extra slots: step 0 to classes 0 and 1, step 1 to the third
  // present class (3) and 0, step 2 to 1 and 3.
  std::vector<SamplerItem> items;
  for (int i = 0; i < 7; ++i) items.push_back({0, 0});
  for (int i = 0; i < 2; ++i) items.push_back({0, 1});
  for (int i = 0; i < 5; ++i) items.push_back({0, 3});
  BatchSampler s("class_balanced", 5, items, 1, 4, 3);
  CHECK(s.steps_per_epoch() == 3);
  const auto batches = s.next_epoch();
  REQUIRE(batches.size() == 3);
  const std::vector<std::map<int64_t, int>> want = {
      {{0, 2}, {1, 2}, {3, 1}}, {{0, 2}, {1, 1}, {3, 2}}, {{0, 1}, {1, 2}, {3, 2}}};
  for (size_t step = 0; step < 3; ++step) {
    std::map<int64_t, int> got;
    for (size_t i : batches[step]) ++got[items[i].label];
    CHECK(got == want[step]);
  }
  // Class 1 has 2 clips and is drawn 5 times: 2 full permutations and one more clip.
  std::map<size_t, int> visits;
  for (const auto& b : batches)
    for (size_t i : b)
      if (items[i].label == 1) ++visits[i];
  CHECK(visits.size() == 2);
  CHECK(visits[7] + visits[8] == 5);
  CHECK(std::abs(visits[7] - visits[8]) == 1);
}

TEST_CASE("shuffle: one permutation per epoch cut into batches of b, the last one shorter") {
  std::vector<SamplerItem> items(10, {0, 0});
  BatchSampler s("shuffle", 4, items, 1, 1, 5);
  CHECK(s.steps_per_epoch() == 3);
  const auto batches = s.next_epoch();
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].size() == 4);
  CHECK(batches[1].size() == 4);
  CHECK(batches[2].size() == 2);
  std::vector<size_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("samplers refuse bad settings") {
  const auto items = items_with_domains({3, 3});
  CHECK_THROWS_AS(BatchSampler("domain_balanced", 0, items, 2, 1, 1), std::invalid_argument);
  CHECK_THROWS_AS(BatchSampler("round_robin", 2, items, 2, 1, 1), std::invalid_argument);
  CHECK_THROWS_AS(BatchSampler("shuffle", 2, items, 1, 1, 1), std::invalid_argument);  // domain 1 >= D
  CHECK_THROWS_AS(BatchSampler("domain_balanced", 2, items, 3, 1, 1),
                  std::invalid_argument);  // source 2 empty
  CHECK_THROWS_AS(BatchSampler("shuffle", 2, {}, 1, 1, 1), std::invalid_argument);
}

TEST_CASE("Rng draws stay in range and shuffles are permutations") {
  merx::engine::Rng rng(1);
  CHECK(rng.below(1) == 0);
  std::map<uint64_t, int> seen;
  for (int i = 0; i < 3000; ++i) ++seen[rng.below(3)];
  CHECK(seen.size() == 3);
  for (const auto& [v, n] : seen) {
    CHECK(v < 3);
    CHECK(n > 850);  // expected 1000 each; 850 is more than 5 standard deviations (sqrt(667) = 26) below
  }
  std::vector<int> v = {1, 2, 3, 4, 5, 6};
  rng.shuffle(v);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int>{1, 2, 3, 4, 5, 6});
  CHECK(merx::engine::derive_seed(42, "sampler") != merx::engine::derive_seed(42, "init"));
  CHECK(merx::engine::derive_seed(42, "sampler") != merx::engine::derive_seed(43, "sampler"));
}

namespace {

// Source `a`: five subjects of four clips (class counts 0: 8, 1: 9, 2: 3; class 2 only in s3 and s4).
// Source `b`: one subject. Source `c`: three subjects of two clips: s1 {0, 0}, s2 {1, 1}, s3 {0, 1}.
// Seeds 1..8 cover both choices in `c` (checked below).
std::vector<merx::engine::SplitItem> split_items() {
  std::vector<merx::engine::SplitItem> v;
  auto add = [&](const std::string& src, const std::string& subj, std::vector<int64_t> labels) {
    for (size_t i = 0; i < labels.size(); ++i)
      v.push_back({src + "/" + subj + "/c" + std::to_string(i), src, src + "/" + subj, labels[i]});
  };
  add("a", "s1", {0, 0, 1, 1});
  add("a", "s2", {0, 1, 1, 1});
  add("a", "s3", {2, 2, 0, 1});
  add("a", "s4", {2, 0, 1, 1});
  add("a", "s5", {0, 0, 0, 1});
  add("b", "s1", {0, 1, 2});
  add("c", "s1", {0, 0});
  add("c", "s2", {1, 1});
  add("c", "s3", {0, 1});
  return v;
}

}  // namespace

TEST_CASE("source_val holds out whole subjects, ~20 percent per source, every class where possible") {
  const auto items = split_items();
  const std::vector<std::string> classes = {"negative", "positive", "surprise"};
  std::set<std::string> c_choices;
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u}) {
    const auto split = merx::engine::source_val_split(items, classes, 0.2, seed);
    std::map<std::string, std::set<std::string>> held_subjects;
    std::map<std::string, std::set<int64_t>> held_classes;
    std::map<std::string, int> held_clips;
    std::set<size_t> held(split.validation.begin(), split.validation.end());
    for (size_t i : split.validation) {
      held_subjects[items[i].source].insert(items[i].subject);
      held_classes[items[i].source].insert(items[i].label);
      ++held_clips[items[i].source];
    }
    // Subject-disjoint: no held-out subject keeps a clip in training.
    for (size_t i = 0; i < items.size(); ++i)
      if (!held.count(i)) CHECK(held_subjects[items[i].source].count(items[i].subject) == 0);
    // a: t = round(0.2 x 20) = 4; class 2 (rarest) needs s3 or s4 (4 clips each), which also hold classes
    // 0 and 1, so one of them alone is the split.
    CHECK(held_clips["a"] == 4);
    CHECK(held_subjects["a"].size() == 1);
    CHECK((held_subjects["a"].count("a/s3") + held_subjects["a"].count("a/s4")) == 1);
    CHECK(held_classes["a"] == std::set<int64_t>{0, 1, 2});
    CHECK(split.record["sources"]["a"]["classes_missing"].empty());
    // b: a single subject gives nothing.
    CHECK(held_clips["b"] == 0);
    CHECK(split.record["sources"]["b"].contains("note"));
    // c: t = 1, so coverage may hold out at most 2 clips: class 0 takes s1 or s3 (two clips each, the
    // shuffled order decides); s3 also has class 1, while after s1 class 1 would need two more clips.
    CHECK(held_clips["c"] == 2);
    REQUIRE(held_subjects["c"].size() == 1);
    if (held_subjects["c"].count("c/s3")) {
      CHECK(split.record["sources"]["c"]["classes_missing"].empty());
    } else {
      CHECK(held_subjects["c"].count("c/s1") == 1);
      CHECK(split.record["sources"]["c"]["classes_missing"] == nlohmann::json::array({"positive"}));
    }
    CHECK(split.record["samples"].size() == split.validation.size());
    c_choices.insert(*held_subjects["c"].begin());
    // Reproducible from the seed.
    CHECK(merx::engine::source_val_split(items, classes, 0.2, seed).validation == split.validation);
  }
  CHECK(c_choices == std::set<std::string>{"c/s1", "c/s3"});
  CHECK_THROWS_AS(merx::engine::source_val_split(items, classes, 0.0, 1), std::invalid_argument);
  CHECK_THROWS_AS(merx::engine::source_val_split(items, {"one"}, 0.2, 1), std::invalid_argument);
}
