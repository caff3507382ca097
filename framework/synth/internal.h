// Internals of the demo corpus generator (framework/synth/): presets, the corpus plan, the face model
// (landmark mesh, AU templates) and the renderer. Not installed; the public entry is merx/synth/synth.h.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace merx::synth::detail {

namespace fs = std::filesystem;

// ---- random numbers: the same draws on every platform and standard library ----

/// mt19937_64 (fully specified by the standard) with our own uniform/normal transforms (the standard's
/// distributions are implementation-defined, which would break byte-identical output across toolchains).
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t bits() { return g_(); }
  double uniform() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  int integer(int a, int b) { return a + static_cast<int>(uniform() * (b - a + 1)); }  // a..b
  bool chance(double p) { return uniform() < p; }
  double normal();  // Box-Muller, N(0, 1)
  /// Index drawn with probability proportional to weights[i] (> 0 somewhere).
  size_t pick(const std::vector<double>& weights);

 private:
  std::mt19937_64 g_;
};

/// A seed derived from a text (SHA-256, platform-independent).
uint64_t derive_seed(const std::string& text);

// ---- the AU vocabulary ----

/// The AUs the generator animates (FACS numbers), in ground-truth column order.
const std::vector<int>& animated_aus();  // 1 2 4 5 6 7 9 10 12 14 15 17 25 26 45
/// OpenFace 2's intensity outputs (AU01_r ... AU45_r): the animated AUs plus 20 and 23.
const std::vector<int>& openface_aus();

struct AuActivation {
  int au = 0;
  char side = 0;         // 'R' (subject's right = image left), 'L', or 0 (both sides)
  double intensity = 0;  // apex intensity, 0-5 (FACS A..E ~ 1..5)
};

/// FACS intensity letter of a 0-5 value: A [0, 1.5), B [1.5, 2.5), C [2.5, 3.5), D [3.5, 4.5), E [4.5, 5].
char intensity_letter(double intensity);

// ---- presets: domains, class mixtures ----

struct Range {
  int lo = 0, hi = 0;  // inclusive
};

/// One way a class is expressed in a domain: an AU pattern with its share, native label and intensities.
struct Mixture {
  std::string pattern;      // pattern id, see patterns() in presets.cpp
  double weight = 1;        // relative share within the class
  std::string emotion;      // native label as the corpus writes it
  double lo = 1, hi = 5;    // apex intensity range of the pattern's main AU (0-5)
  int objective_class = 0;  // SAMM's Objective Classes column (MEGC2018 I..VII as 1..7)
};

/// The class of an AU pattern in the shared definition (docs/demo-corpus.md, "Classes per domain"):
/// negative | positive | surprise | others. The `shift` presets' true label.
const std::string& true_class(const std::string& pattern);

struct ClassSpec {
  std::string name;  // negative | positive | surprise | others
  int count = 0;     // clips
  std::vector<Mixture> mixtures;
};

struct DomainSpec {
  std::string name, adapter;  // casme2_like / casme2, ...
  int width = 0, height = 0;  // frame size, pixels
  double iod = 0;             // inter-ocular distance (eye centres), pixels
  double eye_y = 0.4;         // eye line height, fraction of the frame height
  bool gray = false;
  double noise = 0;                     // sensor noise, standard deviation in grey levels (0-255)
  double blur = 0;                      // optics blur, Gaussian sigma in pixels (0 = none)
  double contrast = 1, brightness = 0;  // lighting: v -> contrast * v + brightness, then the gradient
  double light_gradient = 0;            // side light: gain 1 - g .. 1 + g from the dark to the bright side
  std::array<double, 3> cast{1, 1, 1};  // colour cast, gains on B, G, R
  int fps = 0;                          // nominal frame rate (datasets.json passes it as the `fps` option)
  int subjects = 0;
  Range lead, rise, decay, tail;  // frames: neutral before, onset->apex, apex->offset, neutral after
  double blink_rate = 0;          // share of clips with a blink after the expression
  Range blink;                    // blink length, frames
  std::vector<ClassSpec> classes;
  // ---- the `shift` presets (docs/demo-corpus.md, "The `shift` preset"); unused elsewhere ----
  /// Pattern -> the class this domain's coders write for it where that is not the ClassSpec's name
  /// (`shift`: samm_like writes AU17 alone as Sadness = negative, smic_like writes 1+2+4 as surprise).
  std::map<std::string, std::string> coding;
  std::string cue_class;   // the class the nod is tied to (P = ShiftSpec::tie_strength); "" = none
  double label_noise = 0;  // P(written label replaced by another class of the domain)
  std::array<double, 7> morph_centre{};  // centre of the face-shape morph ranges, fractions of the bounds
  std::string counterfactual_of;         // a twin `<domain>_cf`: the domain it copies with the cue toggled
};

/// The controlled domain shift of the `shift` presets. The calibration knobs (the only values calibration
/// may move, docs/demo-corpus.md) are plain fields here, applied when the plan is drawn (make_plan), plus
/// DomainSpec::label_noise and the mixtures' intensity ranges.
struct ShiftSpec {
  bool enabled = false;
  // calibration knobs
  double noise_scale = 1;             // sensor noise of every domain x this
  double intensity_scale = 1;         // every mixture's intensity range x this (clamped to 5)
  double nod_amplitude = 0.06;        // the nod's downward translation at the apex, fractions of the IOD
  double tie_strength = 0.90;         // P(cue | the domain's cue_class)
  double untied_rate = 0.10;          // P(cue | any other class) in a domain with a cue_class
  double independent_rate = 0.30;     // P(cue | any class) in a domain without one
  double low_share = 0.20;            // share of each domain's clips in the low-intensity tail
  double low_lo = 0.5, low_hi = 1.0;  // the tail's apex intensity range
  // structure
  bool disjoint_identities = true;   // each domain its own people (round-robin over the identities)
  bool counterfactual_twins = true;  // also write `<domain>_cf` with the cue toggled
};

struct Preset {
  std::string name;
  int video_stride = 25;  // frames of the source video looked at (every n-th) for neutral faces
  int video_faces = 2;    // base images taken from the video
  std::string seed_name;  // the name the plan's seeds derive from ("" = name): shift_invariant draws as shift
  std::vector<DomainSpec> domains;
  ShiftSpec shift;
};

/// Throws UserError for an unknown name.
Preset preset(const std::string& name);

/// The AUs of a pattern with their relative intensity (1 = the mixture's drawn intensity).
struct PatternAu {
  int au = 0;
  char side = 0;
  double factor = 1;
};
const std::vector<PatternAu>& pattern(const std::string& id);

// ---- the face sources ----

struct BaseFace {
  std::string identity;                // hopper | collins | video (one real person each)
  std::string label;                   // hopper, collins, video@12.4s
  std::string source;                  // file name
  cv::Mat image;                       // CV_8UC3 (BGR)
  std::vector<cv::Point2f> landmarks;  // 68, iBUG order, pixels of `image`
};

struct Sources {
  std::vector<BaseFace> faces;
  std::vector<std::string> used, missing;
  std::vector<std::pair<std::string, std::string>> sha256;  // (file name, hex) of the files read
};

/// Reads the sources present in `dir`, finds the faces (dlib HOG + 68 landmarks) and picks neutral frontal
/// frames from the video. Missing or faceless sources go to `missing`, the reason to `warn`.
Sources load_sources(const fs::path& dir, const Preset& preset,
                     const std::function<void(const std::string&)>& warn);

// ---- the plan: subjects and clips ----

struct SubjectPlan {
  size_t domain = 0;
  std::string id;   // as the corpus spells it: sub01 / 006 / s1
  int number = 0;   // 1, 6, ... (the sheets' Subject cell)
  size_t face = 0;  // index into Sources::faces
  bool mirror = false;
  double scale = 1;                     // face size factor (crop scale)
  double roll = 0;                      // degrees
  double dx = 0, dy = 0;                // face centre offset, fractions of the IOD
  std::array<double, 7> morph{};        // face-shape morph coefficients, see face_model.cpp
  std::array<double, 3> tone{1, 1, 1};  // skin tone gains B, G, R
  double gamma = 1;
  uint64_t seed = 0;
  size_t original = size_t(-1);  // a twin domain's subject: the index of the subject it copies
};

struct ClipPlan {
  size_t domain = 0, subject = 0;  // indices into Plan::subjects (global)
  std::string clip;                // clip name as the corpus spells it
  std::string cls;                 // negative | positive | surprise | others
  std::string emotion;             // native label
  std::string pattern;             // pattern id
  int objective_class = 0;
  // `shift` presets: cls / emotion above are the written label (after coding and label noise)
  std::string true_cls;  // the pattern's class in the shared definition
  bool label_noise = false, low_intensity = false;
  bool cue = false;                             // the nod at the apex
  double nod = 0;                               // its amplitude, fractions of the IOD (0 without the cue)
  int inducement = 0;                           // SAMM's Inducement Code
  std::vector<AuActivation> aus;                // with apex intensities
  int64_t onset = 0;                            // frame number of the first file (= the annotated onset)
  int lead = 0, rise = 0, decay = 0, tail = 0;  // frames, see DomainSpec
  int blink_start = -1, blink_len = 0;          // frame index within the clip; -1 = no blink
  double blink_intensity = 0;                   // 0-5 (5 = fully closed)
  // Nuisance: rigid head motion (linear drift over the clip plus a slow wobble) and illumination drift.
  double head_tx = 0, head_ty = 0;      // translation at the last frame, fractions of the IOD
  double head_rot = 0;                  // rotation at the last frame, degrees
  double wobble = 0, wobble_phase = 0;  // wobble amplitude (fraction of the IOD) and phase (radians)
  double drift = 0;                     // relative brightness change at the last frame
  uint64_t seed = 0;                    // sensor noise

  int frames() const { return lead + rise + decay + 1 + tail; }
  int64_t offset() const { return onset + frames() - 1; }
  int apex_index() const { return lead + rise; }  // expression starts at index `lead` (intensity 0)
  int64_t apex() const { return onset + apex_index(); }
  /// Expression envelope at frame index k, 0..1 (raised-cosine rise to the apex, slower decay).
  double envelope(int k) const;
  /// Blink closure at frame index k, 0..1.
  double blink_closure(int k) const;
};

struct Plan {
  Preset preset;
  uint64_t seed = 0;
  std::vector<SubjectPlan> subjects;
  std::vector<ClipPlan> clips;  // sorted by domain, subject, clip: the order of sheets and ground truth
};

/// Draws subjects and clips (single-threaded, from one generator seeded by preset and seed). For a `shift`
/// preset the plan's preset holds the effective domains (knobs applied) and the twin domains after the
/// three originals; `warn` gets a note when identities cannot be kept disjoint (too few sources).
Plan make_plan(const Preset& preset, uint64_t seed, const Sources& sources,
               const std::function<void(const std::string&)>& warn = {});

/// The AU string as a corpus writes it: casme2 "4+R14", samm "4B + R14A", smic "".
std::string au_text(const std::string& adapter, const std::vector<AuActivation>& aus);

// ---- the face model and the renderer ----

/// A subject's face in its domain's frame, ready to be animated: the source image (after crop, mirror,
/// tone and the domain's lighting), the mesh (68 landmarks + virtual points + border points) and its
/// Delaunay triangles, the neutral (morphed) mesh and the AU displacement fields.
class FaceModel {
 public:
  FaceModel(const BaseFace& face, const SubjectPlan& subject, const DomainSpec& domain);
  double iod() const { return iod_; }
  /// Renders frame k of a clip as CV_8UC1 (gray domains) or CV_8UC3. Deterministic given clip.seed.
  cv::Mat render(const ClipPlan& clip, int k, cv::RNG& noise) const;

 private:
  std::vector<cv::Point2f> mesh_at(const ClipPlan& clip, int k) const;

  const DomainSpec* domain_;
  cv::Mat source_;                            // CV_32FC1 or CV_32FC3, 0-255
  std::vector<cv::Point2f> src_;              // mesh in the source image
  std::vector<cv::Point2f> neutral_;          // mesh of the neutral (morphed) face
  std::vector<cv::Vec3i> triangles_;          // indices into the mesh
  std::vector<std::vector<cv::Point2f>> au_;  // per animated AU (index in animated_aus()): displacement
                                              // per mesh point at intensity 1 (pixels), both sides
  std::vector<float> side_;                   // per mesh point: -1 image left (subject's right), +1, 0
  std::vector<char> face_point_;              // 1 for points that move with the head (not the border)
  cv::Point2f centre_;                        // rotation centre of the rigid head motion
  double iod_ = 0;
  double eye_open_ = 0;  // mean upper-to-lower lid distance, pixels (blinks)
};

}  // namespace merx::synth::detail
