// Presets (tiny, default; shift, shift_invariant, shift_tiny: the declared domain shift), the three domains,
// and the class -> AU-pattern mixtures that make the same class look different in each domain
// (docs/demo-corpus.md, "Classes per domain"). Class counts of `default` follow MEGC2019's composite (CASME
// II 88/32/25, SAMM 92/26/15, SMIC-HS 70/51/43, corpus-facts.md §5.3), plus the clips the megc3 mapping drops
// (CASME II others/fear/sadness, SAMM Other).
#include <cmath>
#include <map>

#include "merx/errors.h"
#include "merx/hash.h"
#include "synth/internal.h"

namespace merx::synth::detail {

double Rng::normal() {
  double u1 = uniform();
  while (u1 <= 0) u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

size_t Rng::pick(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double r = uniform() * total;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  return weights.size() - 1;
}

uint64_t derive_seed(const std::string& text) {
  return hash64(text);
}

const std::vector<int>& animated_aus() {
  static const std::vector<int> a = {1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 25, 26, 45};
  return a;
}

const std::vector<int>& openface_aus() {
  static const std::vector<int> a = {1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45};
  return a;
}

char intensity_letter(double v) {
  if (v < 1.5) return 'A';
  if (v < 2.5) return 'B';
  if (v < 3.5) return 'C';
  if (v < 4.5) return 'D';
  return 'E';
}

// Patterns: the AUs that move together, with their intensity relative to the drawn clip intensity. Side
// '?' = one side, drawn per clip (R or L). Class definitions (issue 5): positive = AU6+AU12 and its partial
// forms; surprise = AU1+AU2 with AU5 or AU26 (or neither: a weaker form); negative = AU4+AU7, AU9+AU10,
// AU14, AU15+AU17 and the sadness/fear forms; others = single AUs with no emotion.
const std::vector<PatternAu>& pattern(const std::string& id) {
  static const std::map<std::string, std::vector<PatternAu>> p = {
      {"6+12", {{6, 0, 0.75}, {12, 0, 1}}},
      {"12", {{12, 0, 1}}},
      {"U12", {{12, '?', 1}}},
      {"6+12+25", {{6, 0, 0.7}, {12, 0, 1}, {25, 0, 0.6}}},
      {"1+2+5", {{1, 0, 1}, {2, 0, 0.9}, {5, 0, 0.8}}},
      {"1+2+26", {{1, 0, 1}, {2, 0, 0.9}, {26, 0, 0.8}}},
      {"1+2", {{1, 0, 1}, {2, 0, 1}}},
      {"4+7", {{4, 0, 1}, {7, 0, 0.8}}},
      {"4", {{4, 0, 1}}},
      {"9+10", {{9, 0, 1}, {10, 0, 0.8}}},
      {"U14", {{14, '?', 1}}},
      {"14", {{14, 0, 1}}},
      {"15+17", {{15, 0, 1}, {17, 0, 0.8}}},
      {"1+4+15", {{1, 0, 0.6}, {4, 0, 0.8}, {15, 0, 1}}},
      {"1+2+4", {{1, 0, 1}, {2, 0, 0.7}, {4, 0, 0.9}}},
      {"17", {{17, 0, 1}}},
      {"7", {{7, 0, 1}}},
      {"1", {{1, 0, 1}}},
      {"25", {{25, 0, 1}}},
  };
  auto it = p.find(id);
  if (it == p.end()) throw std::logic_error("synth: unknown AU pattern " + id);
  return it->second;
}

const std::string& true_class(const std::string& id) {
  static const std::map<std::string, std::string> c = {
      {"6+12", "positive"},  {"12", "positive"},     {"U12", "positive"},   {"6+12+25", "positive"},
      {"1+2+5", "surprise"}, {"1+2+26", "surprise"}, {"1+2", "surprise"},   {"4+7", "negative"},
      {"4", "negative"},     {"9+10", "negative"},   {"U14", "negative"},   {"14", "negative"},
      {"15+17", "negative"}, {"1+4+15", "negative"}, {"1+2+4", "negative"}, {"17", "others"},
      {"7", "others"},       {"1", "others"},        {"25", "others"},
  };
  auto it = c.find(id);
  if (it == c.end()) throw std::logic_error("synth: unknown AU pattern " + id);
  return it->second;
}

namespace {

// Objective classes (Davison et al. 2018; corpus-facts.md §5.4): I happiness, II surprise, III anger,
// IV disgust, V sadness, VI fear, VII contempt / other.
// The mixtures differ on purpose (issue 5: the same class is expressed differently in each corpus): a
// pattern that is common for a class in one domain may look like another class elsewhere, as AU14
// (repression, one-sided) resembles a one-sided smile, or fear's AU1+AU2+AU4 resembles surprise.
//
// casme2_like: negatives mostly of the lower face (repression AU14 / AU15+AU17, disgust AU9+AU10), smiles
// without cheeks, surprise with widened eyes; clear intensities.
std::vector<ClassSpec> casme2_classes(int neg, int pos, int sur, int oth) {
  return {{"negative",
           neg,
           {{"U14", 0.35, "repression", 3, 5, 7},
            {"9+10", 0.30, "disgust", 3, 5, 4},
            {"15+17", 0.20, "repression", 3, 5, 5},
            {"4+7", 0.15, "disgust", 3, 5, 3}}},
          {"positive",
           pos,
           {{"12", 0.5, "happiness", 3, 5, 1},
            {"U12", 0.4, "happiness", 3, 5, 1},
            {"6+12", 0.1, "happiness", 3, 5, 1}}},
          {"surprise", sur, {{"1+2+5", 0.7, "surprise", 3, 5, 2}, {"1+2+26", 0.3, "surprise", 3, 5, 2}}},
          {"others",
           oth,
           {{"17", 0.3, "others", 2, 4, 7},
            {"7", 0.2, "others", 2, 4, 7},
            {"1", 0.2, "others", 2, 4, 7},
            {"1+2+4", 0.15, "fear", 2, 4, 6},
            {"1+4+15", 0.15, "sadness", 2, 4, 5}}}};
}

// samm_like: negatives of the upper face (anger AU4+AU7, fear AU1+AU2+AU4, sadness AU1+AU4+AU15), Duchenne
// smiles (AU6+AU12), surprise as brow raising alone; subtle intensities.
std::vector<ClassSpec> samm_classes(int neg, int pos, int sur, int oth) {
  return {
      {"negative",
       neg,
       {{"1+2+4", 0.30, "Fear", 1, 2.5, 6},
        {"4+7", 0.30, "Anger", 1, 2.5, 3},
        {"1+4+15", 0.20, "Sadness", 1, 2.5, 5},
        {"4", 0.10, "Anger", 1, 2.5, 3},
        {"U14", 0.10, "Contempt", 1, 2.5, 7}}},
      {"positive", pos, {{"6+12", 0.7, "Happiness", 1, 2.5, 1}, {"12", 0.3, "Happiness", 1, 2.5, 1}}},
      {"surprise", sur, {{"1+2", 0.8, "Surprise", 1, 2.5, 2}, {"1+2+5", 0.2, "Surprise", 1, 2.5, 2}}},
      {"others",
       oth,
       {{"17", 0.4, "Other", 1, 2.5, 7}, {"25", 0.3, "Other", 1, 2.5, 7}, {"7", 0.3, "Other", 1, 2.5, 7}}}};
}

// smic_like: sad and disgusted negatives (AU15+AU17, AU9+AU10, AU4), smiles with parted lips, surprise
// with a dropped jaw.
std::vector<ClassSpec> smic_classes(int neg, int pos, int sur) {
  return {{"negative",
           neg,
           {{"15+17", 0.4, "negative", 1.5, 4, 5},
            {"9+10", 0.3, "negative", 1.5, 4, 4},
            {"4", 0.3, "negative", 1.5, 4, 3}}},
          {"positive", pos, {{"6+12+25", 0.7, "positive", 2, 4.5, 1}, {"6+12", 0.3, "positive", 2, 4.5, 1}}},
          {"surprise", sur, {{"1+2+26", 0.8, "surprise", 2, 4.5, 2}, {"1+2+5", 0.2, "surprise", 2, 4.5, 2}}}};
}

// Acquisition, common to both presets (sizes and clip lengths differ).
DomainSpec casme2_like() {
  DomainSpec d;
  d.name = "casme2_like";
  d.adapter = "casme2";
  d.eye_y = 0.40;  // face crops: the face fills the frame
  d.noise = 1.2;
  d.contrast = 1.0;
  d.brightness = 8;  // bright, even studio light
  d.light_gradient = 0.03;
  d.fps = 60;
  d.blink_rate = 0.2;
  return d;
}

DomainSpec samm_like() {
  DomainSpec d;
  d.name = "samm_like";
  d.adapter = "samm";
  d.gray = true;
  d.eye_y = 0.42;
  d.noise = 1.6;
  d.contrast = 0.85;  // flatter, side-lit
  d.brightness = 20;
  d.light_gradient = 0.22;
  d.fps = 50;
  d.blink_rate = 0.2;
  return d;
}

DomainSpec smic_like() {
  DomainSpec d;
  d.name = "smic_like";
  d.adapter = "smic_hs";
  d.eye_y = 0.42;
  d.noise = 3.5;  // a noisier sensor
  d.blur = 0.6;
  d.contrast = 0.9;
  d.brightness = -12;  // dimmer
  d.light_gradient = 0.08;
  d.cast = {0.88, 1.0, 1.08};  // warm
  d.fps = 25;
  d.blink_rate = 0.15;
  return d;
}

// The `shift` presets' coding differences (docs/demo-corpus.md, "The `shift` preset", item 2): samm_like
// writes AU17 alone as Sadness (negative; true class others), smic_like writes the fear form 1+2+4 as
// surprise (true class negative). Everything else as in the other presets.
void recode_for_shift(DomainSpec& s, DomainSpec& m) {
  for (auto& cls : s.classes)
    for (auto& mix : cls.mixtures)
      if (mix.pattern == "17") mix.emotion = "Sadness", mix.objective_class = 5;
  s.coding["17"] = "negative";
  for (auto& cls : m.classes)
    if (cls.name == "negative") cls.mixtures.push_back({"1+2+4", 0.2, "surprise", 1.5, 4, 2});
  m.coding["1+2+4"] = "surprise";
}

// The shift of `shift` (docs/demo-corpus.md): the nod tied to negative in casme2_like and to positive in
// samm_like, independent of class in smic_like (`shift_invariant`: independent everywhere); label noise
// 0.05 / 0.10 / 0.15; each domain its own people and its own morph ranges.
void make_shift(Preset& p, DomainSpec& c, DomainSpec& s, DomainSpec& m, bool invariant) {
  ShiftSpec& k = p.shift;
  k.enabled = true;
  // The calibration knobs (docs/demo-corpus.md: only these may move, ERM only), as declared before any
  // run. The mixtures' own ranges (casme2_classes ...) stay those of `default`; intensity_scale moves them.
  k.noise_scale = 1.0;
  k.intensity_scale = 1.0;
  k.nod_amplitude = 0.06;
  k.tie_strength = 0.90;
  k.untied_rate = 0.10;
  k.independent_rate = 0.30;
  k.low_share = 0.20;
  k.low_lo = 0.5, k.low_hi = 1.0;
  c.label_noise = 0.05, s.label_noise = 0.10, m.label_noise = 0.15;
  // Structure (not calibrated).
  k.disjoint_identities = true;
  k.counterfactual_twins = true;
  p.seed_name = "shift";  // shift_invariant: the same draws as shift but for the cue
  if (p.name == "shift_tiny") p.seed_name = "shift_tiny";
  recode_for_shift(s, m);
  if (!invariant) c.cue_class = "negative", s.cue_class = "positive";
  c.morph_centre = {0.5, -0.5, 0.5, 0, 0.5, 0, -0.5};
  s.morph_centre = {-0.5, 0.5, -0.5, 0.5, -0.5, 0.5, 0};
  m.morph_centre = {0, 0, 0, -0.5, 0, -0.5, 0.5};
}

}  // namespace

Preset preset(const std::string& name) {
  Preset p;
  p.name = name;
  DomainSpec c = casme2_like(), s = samm_like(), m = smic_like();
  if (name == "tiny" || name == "shift_tiny") {
    p.video_stride = 40;
    p.video_faces = 2;
    c.width = 112, c.height = 112, c.iod = 44, c.subjects = 12;
    c.lead = {1, 2}, c.rise = {3, 4}, c.decay = {4, 6}, c.tail = {1, 2}, c.blink = {3, 4};
    c.classes = casme2_classes(18, 8, 8, 3);
    s.width = 160, s.height = 144, s.iod = 54, s.subjects = 12;
    s.lead = {1, 2}, s.rise = {3, 4}, s.decay = {4, 5}, s.tail = {1, 2}, s.blink = {3, 4};
    s.classes = samm_classes(19, 8, 7, 3);
    m.width = 128, m.height = 96, m.iod = 40, m.subjects = 12;
    m.lead = {1, 1}, m.rise = {2, 2}, m.decay = {4, 5}, m.tail = {1, 2}, m.blink = {2, 3};
    m.classes = smic_classes(16, 10, 9);
  } else if (name == "default" || name == "shift" || name == "shift_invariant") {
    p.video_stride = 10;
    p.video_faces = 4;
    c.width = 160, c.height = 160, c.iod = 62, c.subjects = 24;
    c.lead = {2, 3}, c.rise = {6, 9}, c.decay = {9, 15}, c.tail = {2, 4}, c.blink = {5, 7};
    c.classes = casme2_classes(88, 32, 25, 10);
    s.width = 224, s.height = 200, s.iod = 80, s.subjects = 28;
    s.lead = {2, 3}, s.rise = {5, 8}, s.decay = {8, 13}, s.tail = {2, 3}, s.blink = {4, 6};
    s.classes = samm_classes(92, 26, 15, 12);
    m.width = 144, m.height = 108, m.iod = 44, m.subjects = 16;
    m.lead = {1, 2}, m.rise = {2, 3}, m.decay = {5, 8}, m.tail = {1, 2}, m.blink = {2, 3};
    m.classes = smic_classes(70, 51, 43);
  } else {
    throw UserError("unknown preset `" + name + "` (tiny, default, shift, shift_invariant, shift_tiny)");
  }
  if (name.rfind("shift", 0) == 0) make_shift(p, c, s, m, name == "shift_invariant");
  p.domains = {c, s, m};
  return p;
}

}  // namespace merx::synth::detail
