// The `shift` presets (docs/demo-corpus.md, "The `shift` preset"): the nod's share per class and domain,
// the coding differences, the label noise, the low-intensity tail, disjoint identities, the counterfactual
// twins, and the nod in the flow after merx prep's own alignment. Statistics are read from the
// ground_truth.csv of the full `shift` plan (written without frames, several seeds: tight binomial bounds);
// files, twins and motion from the generated shift_tiny corpus.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include <tbb/parallel_for.h>
#include <nlohmann/json.hpp>

#include "corpus.h"
#include "merx/datasets/load.h"
#include "merx/preprocessing/preprocess.h"
#include "merx/synth/synth.h"
#include "synth/internal.h"
#include "synth/write.h"

using namespace merx;
using namespace merx::test;

namespace {

// The ground truth of a preset's plan for a seed, written by the generator's own writer into a temporary
// folder and read back as text. Base faces are stand-ins (no pixels): the plan only needs who they are,
// three people, the video with four images as in `default`.
std::vector<CsvRow> planned_truth(const std::string& preset, uint64_t seed) {
  using namespace merx::synth::detail;
  Sources sources;
  for (const char* who : {"hopper", "collins", "video", "video", "video", "video"}) {
    BaseFace f;
    f.identity = who;
    f.label = std::string(who) + "@" + std::to_string(sources.faces.size());
    sources.faces.push_back(f);
  }
  const Plan plan = make_plan(merx::synth::detail::preset(preset), seed, sources);
  const fs::path dir =
      fs::temp_directory_path() / ("merx_shift_plan_" + std::to_string(::getpid()) + "_" + preset);
  fs::create_directories(dir);
  write_ground_truth(dir, plan, sources.faces, std::vector<double>(plan.subjects.size(), 60.0));
  auto rows = read_csv(dir / "ground_truth.csv");
  fs::remove_all(dir);
  return rows;
}

const std::vector<std::string> kDomains = {"casme2_like", "samm_like", "smic_like"};

// docs/demo-corpus.md, the table of P(cue | class) (class = the true label).
double table_p(const std::string& domain, const std::string& cls) {
  if (domain == "casme2_like") return cls == "negative" ? 0.90 : 0.10;
  if (domain == "samm_like") return cls == "positive" ? 0.90 : 0.10;
  return 0.30;
}

double max_au(const CsvRow& r) {
  double m = 0;
  for (const auto& [k, v] : r)
    if (k.size() == 4 && k.rfind("AU", 0) == 0 && k != "AU45") m = std::max(m, std::stod(v));
  return m;
}

// Binomial bound: |share - p| <= 4 standard deviations (+ 1/n for rounding), a false alarm ~1e-4 per cell.
void check_share(size_t hits, size_t n, double p, const std::string& what) {
  CAPTURE(what);
  REQUIRE(n > 0);
  const double share = double(hits) / double(n), sd = std::sqrt(p * (1 - p) / double(n));
  if (verbose()) MESSAGE(what << ": " << hits << "/" << n << " = " << share << " (declared " << p << ")");
  CHECK(std::abs(share - p) <= 4 * sd + 1.0 / double(n));
}

}  // namespace

TEST_CASE("shift: the nod is drawn with P(cue | class, domain) of the declared table") {
  for (const std::string preset : {"shift", "shift_invariant"}) {
    std::map<std::pair<std::string, std::string>, std::pair<size_t, size_t>> cells;  // (hits, n)
    for (uint64_t seed = 1; seed <= 20; ++seed)
      for (const auto& r : planned_truth(preset, seed)) {
        if (r.at("dataset").find("_cf") != std::string::npos) continue;  // twins: the cue toggled
        auto& c = cells[{r.at("dataset"), r.at("true_label")}];
        c.first += r.at("cue") == "1";
        ++c.second;
        CHECK(r.at("cue_kind") == (r.at("cue") == "1" ? "nod" : ""));
      }
    for (const auto& [key, c] : cells) {
      const double p = preset == "shift" ? table_p(key.first, key.second) : 0.30;
      check_share(c.first, c.second, p, preset + " " + key.first + " " + key.second);
    }
    // Every class of every domain was seen (smic_like has no others).
    CHECK(cells.size() == 11);
  }
}

TEST_CASE("shift: label noise, the coding differences of 1+2+4 and 17, the low-intensity tail") {
  std::map<std::string, std::pair<size_t, size_t>> noise;  // per domain (noisy, n)
  std::map<std::string, std::set<std::string>> written_124, written_17, emotion_17;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const auto rows = planned_truth("shift", seed);
    std::map<std::string, size_t> n, low;
    for (const auto& r : rows) {
      const std::string d = r.at("dataset");
      if (d.find("_cf") != std::string::npos) continue;
      ++n[d];
      auto& z = noise[d];
      ++z.second;
      z.first += r.at("label_noise") == "1";
      CHECK(r.at("class") == r.at("written_label"));  // `class` is the written label
      const std::string p = r.at("pattern");
      // The true label is the pattern's class in the shared definition.
      if (p == "1+2+4" || p == "1+4+15" || p == "4+7" || p == "U14") CHECK(r.at("true_label") == "negative");
      if (p == "17" || p == "25" || p == "7") CHECK(r.at("true_label") == "others");
      if (p.find("12") != std::string::npos) CHECK(r.at("true_label") == "positive");
      if (r.at("label_noise") == "0") {
        if (p == "1+2+4") written_124[d].insert(r.at("written_label"));
        if (p == "17") written_17[d].insert(r.at("written_label")), emotion_17[d].insert(r.at("emotion"));
        // Without noise, written = true except the declared coding differences (and CASME II's fear and
        // sadness forms, which its coders file under others, as in every preset).
        const bool recoded = p == "1+2+4" || p == "17" || (d == "casme2_like" && p == "1+4+15");
        if (!recoded) CHECK(r.at("written_label") == r.at("true_label"));
      } else {
        CHECK(r.at("written_label") != "");
        if (d == "smic_like") CHECK(r.at("written_label") != "others");
      }
      if (r.at("low_intensity") == "1") {
        ++low[d];
        // Apex intensity U(0.5, 1.0), each AU x its factor x U(0.85, 1.15), clamped at 0.5.
        CHECK(max_au(r) <= 1.15 + 1e-9);
        CHECK(max_au(r) >= 0.5);
      } else {
        CHECK(max_au(r) >= 0.85 * 1.0 - 1e-9);  // every mixture starts at 1 or above
      }
    }
    for (const auto& [d, k] : n) CHECK(low[d] == size_t(std::lround(0.2 * double(k))));  // exactly 20 %
  }
  check_share(noise["casme2_like"].first, noise["casme2_like"].second, 0.05, "label noise casme2_like");
  check_share(noise["samm_like"].first, noise["samm_like"].second, 0.10, "label noise samm_like");
  check_share(noise["smic_like"].first, noise["smic_like"].second, 0.15, "label noise smic_like");
  // 1+2+4 (fear form): negative in samm_like, surprise in smic_like (CASME II's coders: fear, i.e. others).
  CHECK(written_124["samm_like"] == std::set<std::string>{"negative"});
  CHECK(written_124["smic_like"] == std::set<std::string>{"surprise"});
  CHECK(written_124["casme2_like"] == std::set<std::string>{"others"});
  // 17 alone: others in casme2_like, negative (written as sadness) in samm_like.
  CHECK(written_17["casme2_like"] == std::set<std::string>{"others"});
  CHECK(written_17["samm_like"] == std::set<std::string>{"negative"});
  CHECK(emotion_17["samm_like"] == std::set<std::string>{"Sadness"});
}

TEST_CASE("shift: shift_invariant is the same plan but for the cue, and twins toggle only the cue") {
  const auto a = planned_truth("shift", 3), b = planned_truth("shift_invariant", 3);
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() == 2 * (155 + 145 + 164));  // default's counts, and a twin of every clip
  size_t cue_differs = 0;
  std::map<std::string, const CsvRow*> by_key;
  for (const auto& r : a) by_key[r.at("key")] = &r;
  for (size_t i = 0; i < a.size(); ++i) {
    CsvRow x = a[i], y = b[i];
    cue_differs += x.at("cue") != y.at("cue");
    for (auto* r : {&x, &y}) r->erase("cue"), r->erase("cue_kind");
    CHECK(x == y);
    const std::string d = a[i].at("dataset");
    if (d.size() > 3 && d.substr(d.size() - 3) == "_cf") {
      const std::string original = d.substr(0, d.size() - 3);
      const std::string key = original + a[i].at("key").substr(d.size());
      REQUIRE(by_key.count(key) == 1);
      CsvRow o = *by_key.at(key), t = a[i];
      CHECK(o.at("cue") != t.at("cue"));
      for (auto* r : {&o, &t}) r->erase("cue"), r->erase("cue_kind"), r->erase("dataset"), r->erase("key");
      CHECK(o == t);
    }
  }
  CHECK(cue_differs > 100);
}

TEST_CASE(
    "shift_tiny: identities disjoint across domains, the twins in datasets.json, every dataset readable") {
  const fs::path corpus = shift_tiny_corpus();
  const auto truth = read_csv(corpus / "ground_truth.csv");
  std::map<std::string, std::set<std::string>> people, bases;
  for (const auto& r : truth)
    if (r.at("dataset").find("_cf") == std::string::npos)
      people[r.at("dataset")].insert(r.at("identity")), bases[r.at("dataset")].insert(r.at("base_face"));
  REQUIRE(people.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = i + 1; j < 3; ++j) {
      std::vector<std::string> both;
      std::set_intersection(people[kDomains[i]].begin(), people[kDomains[i]].end(),
                            people[kDomains[j]].begin(), people[kDomains[j]].end(), std::back_inserter(both));
      CHECK_MESSAGE(both.empty(), kDomains[i] << " and " << kDomains[j] << " share a person");
    }
  // Three people, one per domain (round-robin): hopper, collins, the video.
  CHECK(people["casme2_like"] == std::set<std::string>{"hopper"});
  CHECK(people["samm_like"] == std::set<std::string>{"collins"});
  CHECK(people["smic_like"] == std::set<std::string>{"video"});

  const auto fragment = nlohmann::json::parse(slurp_file(corpus / "datasets.json"));
  REQUIRE(fragment.at("datasets").size() == 6);
  for (size_t i = 0; i < 3; ++i) {
    const auto& o = fragment["datasets"][i];
    const auto& t = fragment["datasets"][i + 3];
    CHECK(o.at("name") == kDomains[i]);
    CHECK_FALSE(o.contains("counterfactual_of"));
    CHECK(t.at("name") == kDomains[i] + "_cf");
    CHECK(t.at("counterfactual_of") == kDomains[i]);
    CHECK(t.at("adapter") == o.at("adapter"));
    CHECK(t.at("options") == o.at("options"));
    CHECK(t.at("root").get<std::string>() ==
          kDomains[i] + "_cf" + o.at("root").get<std::string>().substr(kDomains[i].size()));
  }
  // The official adapters read every domain and its twin, strictly, with the same subjects and clip names
  // and the emotions ground_truth.csv gives (the written labels).
  const auto sources = merx::synth::corpus_sources(corpus);
  REQUIRE(sources.size() == 6);
  std::map<std::string, CsvRow> by_key;
  for (const auto& r : truth) by_key[r.at("key")] = r;
  for (size_t i = 0; i < 3; ++i) {
    const LoadResult o = load_dataset(sources[i]), t = load_dataset(sources[i + 3]);
    REQUIRE(o.samples.size() == t.samples.size());
    CHECK(o.samples.size() == (i == 2 ? 35u : 37u));
    for (size_t k = 0; k < o.samples.size(); ++k) {
      CHECK(o.samples[k].subject == t.samples[k].subject);
      CHECK(o.samples[k].clip == t.samples[k].clip);
      CHECK(o.samples[k].emotion == t.samples[k].emotion);
      CHECK(o.samples[k].emotion == by_key.at(o.samples[k].key).at("emotion"));
      CHECK(by_key.at(t.samples[k].key).at("cue") != by_key.at(o.samples[k].key).at("cue"));
    }
  }
}

TEST_CASE("shift_tiny: a twin's frames equal the original's except while the nod moves the face") {
  const fs::path corpus = shift_tiny_corpus();
  const auto sources = merx::synth::corpus_sources(corpus);
  const auto truth = truth_by_key(corpus);
  size_t still_same = 0, still = 0, moving_differs = 0, apexes = 0;
  for (size_t i = 0; i < 3; ++i) {
    const LoadResult o = load_dataset(sources[i]), t = load_dataset(sources[i + 3]);
    for (size_t k = 0; k < o.samples.size(); ++k) {
      const SampleRecord &a = o.samples[k], &b = t.samples[k];
      const CsvRow& r = truth.at(a.key);
      REQUIRE(a.frames.size() == b.frames.size());
      const int64_t start = std::stoll(r.at("expression_onset")), end = std::stoll(r.at("expression_offset"));
      const int64_t apex = std::stoll(r.at("apex"));
      for (size_t f = 0; f < a.frames.size(); ++f) {
        const int64_t number = a.frame_numbers[f];
        const bool same = slurp_file(a.frames[f]) == slurp_file(b.frames[f]);
        if (number <= start || number >= end) ++still, still_same += same;  // envelope 0: no nod
        if (number == apex) ++apexes, moving_differs += !same;
      }
      // The AU detector's CSV does not see the head: identical.
      CHECK(slurp_file(corpus / r.at("dataset") / "openface" / r.at("subject") / (r.at("clip") + ".csv")) ==
            slurp_file(corpus / (r.at("dataset") + "_cf") / "openface" / r.at("subject") /
                       (r.at("clip") + ".csv")));
    }
  }
  MESSAGE("still frames identical: " << still_same << "/" << still
                                     << "; apex frames different: " << moving_differs << "/" << apexes);
  CHECK(still > 300);
  CHECK(still_same == still);  // onset (and every frame before the movement and after it) byte-identical
  CHECK(apexes == 109);
  CHECK(moving_differs == apexes);  // every twin toggles the cue, so every apex frame differs
}

TEST_CASE("shift_tiny: after merx prep's alignment the nod is a downward flow onset -> apex") {
  // merx prep's own pipeline: dlib landmarks on the onset frame, one eye-alignment transform for the whole
  // clip, TV-L1 onset -> apex (SMIC: the adapter's midpoint apex), flow_uv at 16 x 16 from a 64 px crop.
  // Pairs: a clip and its twin (same onset frame, so the same alignment), six per domain.
  const fs::path corpus = shift_tiny_corpus();
  const auto sources = merx::synth::corpus_sources(corpus);
  const auto truth = truth_by_key(corpus);
  std::vector<std::pair<const SampleRecord*, const SampleRecord*>> pairs;  // (cue = 1, cue = 0)
  std::vector<LoadResult> loaded;
  for (const auto& s : sources) loaded.push_back(load_dataset(s));
  for (size_t i = 0; i < 3; ++i)
    for (size_t k = 0; k < loaded[i].samples.size() && k < 6; ++k) {
      const SampleRecord *a = &loaded[i].samples[k], *b = &loaded[i + 3].samples[k];
      if (truth.at(a->key).at("cue") == "0") std::swap(a, b);
      pairs.push_back({a, b});
    }
  REQUIRE(pairs.size() == 18);
  prep::RecipeConfig config;
  config.recipe = "flow_uv";
  config.size = 16;
  config.flow_size = 64;
  config.tvl1.nscales = 3;
  config.tvl1.warps = 3;
  const prep::Preprocessor pre(config);
  std::vector<double> v1(pairs.size()), v0(pairs.size());
  tbb::parallel_for(size_t(0), pairs.size(), [&](size_t i) {
    auto mean_v = [&](const SampleRecord* s) {
      auto r = pre.run(*s);
      CHECK_FALSE(r.face_fallback);
      return cv::mean(r.channel(1))[0];  // v: image down is positive
    };
    v1[i] = mean_v(pairs[i].first);
    v0[i] = mean_v(pairs[i].second);
  });
  double m1 = 0, m0 = 0;
  size_t larger = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    m1 += v1[i] / double(pairs.size()), m0 += v0[i] / double(pairs.size());
    larger += v1[i] > v0[i] + 0.05;
    if (verbose()) MESSAGE(pairs[i].first->key << ": mean v with the nod " << v1[i] << ", without " << v0[i]);
  }
  MESSAGE("mean vertical flow (16 x 16 grid px): cue = 1 " << m1 << ", cue = 0 " << m0);
  // 0.06 IOD at the apex; the crop's IOD is 0.4 x 64 px, so 1.5 crop px = 0.38 grid px where the face
  // is and the envelope is at its peak (SMIC's midpoint apex sees less of it).
  CHECK(m1 - m0 > 0.15);
  CHECK(std::abs(m0) < 0.1);
  CHECK(larger >= 17);
}
