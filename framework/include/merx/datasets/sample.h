// The sample record: one micro-expression clip as every later stage sees it (preprocessing, protocols,
// the store). Produced by the dataset adapters (merx/datasets/load.h); nothing here knows about tensors.
//
// Conventions
//   frames      absolute paths of the clip's image files, sorted by the frame number in the file name (the
//               last digit group: `img46.jpg` -> 46, `006_05562.jpg` -> 5562).
//   frame numbers  as written in the annotation sheet and in the file names (not 0-based, not relative to
//               the onset). `*_index` fields are 0-based positions in `frames`.
//   fps         frames per second of the recording (CASME II 200, SAMM 200, SMIC-HS 100, ...).
//   missing     std::nullopt means "the corpus does not provide it" (SMIC: no AUs, no apex) — never 0.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "merx/datasets/au.h"  // ActionUnit: number, side L/R/0, intensity A-E/0, uncertain

namespace merx {

/// One correction (or acknowledged known problem) applied to a clip at load time, from an errata file.
struct Correction {
  std::string kind = "set";  // "set": the value was replaced; "note": a known problem, nothing changed
  std::string field;         // onset | apex | offset | emotion | au | subject | clip
  std::string old_value;     // the sheet's text ("" when the cell was empty / the field absent)
  std::string new_value;     // "" when the erratum only acknowledges the problem (kind "note")
  std::string reason;        // why
  std::string source;        // where the fact comes from (paper, repository, audit)
  std::string errata_file;   // "builtin:casme2" or the path of an extra errata file
};

enum class ColorMode { Color, Grayscale };

struct SampleRecord {
  // ---- identity ----
  std::string key;             // "<dataset>/<subject>/<clip>", plus "#<occurrence>" from the 2nd repeat on
  std::string dataset;         // the dataset's name in the spec (defaults to the adapter name)
  std::string adapter;         // casme2, samm, smic_hs, ...
  std::string subject;         // local subject id as the frame folders spell it: "sub01", "006", "s1"
  std::string global_subject;  // "<dataset>/<subject>": unique across corpora (the loso fold id)
  std::string clip;            // clip name as in the sheet / folder: "EP02_01f", "006_1_2", "s1_ne_01"
  int occurrence = 1;          // 1, 2, ... when the same clip name repeats within a subject (CAS(ME)^3)

  // ---- frames ----
  std::filesystem::path folder;               // the folder the frames were listed from
  std::vector<std::filesystem::path> frames;  // onset..offset, sorted by frame number
  std::vector<int64_t> frame_numbers;         // the number in each file name, same order as `frames`
  std::vector<int64_t> missing_frames;  // numbers in onset..offset with no file (tolerated by `frame_gaps`)
  // Precomputed input (adapter flow_images): the clip's flow image, read as it is by the recipe
  // flow_images. Such a sample has no frames to align: `frames` holds this one file (so the feature cache
  // key hashes it like a frame), frame_numbers {0}, onset = offset = 0, apex nullopt (unknown, not
  // estimated: apex_missing stays false). Empty for every frame corpus.
  std::filesystem::path input_image;

  int64_t onset = 0;                 // frame number of the first frame of the expression
  std::optional<int64_t> apex;       // frame number of the apex; nullopt when missing
  int64_t offset = 0;                // frame number of the last frame
  size_t onset_index = 0;            // position of the onset frame in `frames` (always 0)
  std::optional<size_t> apex_index;  // position of the apex frame (the last frame numbered <= apex)
  size_t offset_index = 0;           // position of the offset frame (frames.size() - 1)
  bool apex_estimated = false;       // apex = onset + (offset - onset) / 2 (SMIC: the corpus codes no apex)
  bool apex_missing = false;         // no apex and no rule to estimate it here (preprocessing estimates it)

  // ---- corrections ----
  bool corrected = false;               // at least one erratum changed a value of this clip
  std::vector<Correction> corrections;  // every erratum applied (including "note" ones that change nothing)

  // ---- labels ----
  std::string emotion;               // native label, verbatim from the sheet / folder ("happiness", "Fear")
  std::optional<std::string> label;  // class after the label mapping (native: = emotion); nullopt = none
  // aus: nullopt when the corpus codes no AUs; empty when it codes AUs and lists none for this clip.
  // An AU string with `or` ("R14A or 17A") gives every AU of every alternative, those not common to all
  // alternatives marked uncertain; the alternative sets themselves are kept in au_alternatives.
  std::optional<std::vector<ActionUnit>> aus;
  std::vector<std::vector<ActionUnit>> au_alternatives;  // only when the AU string has `or`
  std::string au_text;  // the AU cell as written (after errata), "" when none

  // ---- acquisition ----
  double fps = 0;                      // frames per second
  ColorMode color = ColorMode::Color;  // SAMM and SMIC-NIR: Grayscale
  bool face_cropped = false;           // frames are already face crops (e.g. MEB's cropped copies)

  // ---- provenance ----
  std::string source_file;  // annotation file (or the frame folder for SMIC without a sheet)
  int source_row = 0;       // 1-based row in that file (0 when the clip comes from a folder)

  /// True when AU `number` is listed (any side, any intensity), false when it is not (in a corpus that
  /// codes AUs an unlisted AU is absent, intensity 0); nullopt when the corpus codes no AUs.
  std::optional<bool> has_au(int number) const;
};

}  // namespace merx
