// Loading one dataset of a spec into sample records (merx/datasets/sample.h): the adapter reads the
// official annotation file (or the folders, for SMIC), errata are applied, the label mapping / membership
// list selects and labels the clips, and every selected clip is validated against its frame folder.
//
// Validation (fails, never warns):
//   - onset <= apex <= offset (when an apex is present), onset and offset present and integral;
//   - the clip folder exists and holds image files; their numbers are unique (list_frames) and cover
//     onset..offset: first = onset, last = offset, and at most `frame_gaps` numbers inside are missing
//     (option, default 0; the missing numbers are recorded in SampleRecord::missing_frames);
//   - with LoadOptions::check_frame_files, every frame file in onset..offset is non-empty and not truncated;
//   - keys are unique (a repeated clip name within a subject is an error unless the corpus codes several
//     expressions per video, CAS(ME)^3: then the repeat gets occurrence 2, 3, ...);
//   - AU strings parse.
// Mode strict (default): every problem of every clip is collected and DatasetError is thrown listing all,
// each located "FILE, sheet 'S', row N" (Problem::path) with the clip and what is wrong (Problem::message).
// Mode lenient: the offending clips are dropped and returned in LoadResult::dropped with their reasons.
// Problems of the file as a whole (unreadable sheet, missing columns, unknown option) are UserErrors in both
// modes.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "merx/datasets/labels.h"
#include "merx/datasets/sample.h"
#include "merx/errors.h"

namespace merx {

/// One dataset as the spec names it (the dataset layer's view of spec/plan.h DatasetSpec).
struct DatasetSource {
  std::string name;                   // dataset name (spec); "" = the adapter name
  std::string adapter;                // a name of dataset_adapters()
  std::filesystem::path root;         // the corpus folder (see docs/datasets.md per adapter)
  std::filesystem::path annotations;  // annotation file; empty = the adapter's default (or none, SMIC)
  std::string annotations_sha256;     // SHA-256 hex of the annotation file; computed when empty
  nlohmann::json options = nlohmann::json::object();  // adapter options (docs/datasets.md)
};

enum class LoadMode { Strict, Lenient };

/// "strict" | "lenient" -> LoadMode; throws UserError otherwise.
LoadMode load_mode_from_string(const std::string& text);

struct LoadOptions {
  LoadMode mode = LoadMode::Strict;
  LabelMapping labels;                     // native by default
  const Membership* membership = nullptr;  // when set: exactly the listed clips, with the listed labels
  /// false: annotation sheets only — no frame folder is opened or validated (SampleRecord::frames,
  /// frame_numbers, missing_frames empty; *_index 0; onset/offset/apex from the sheet; clips whose range
  /// comes from their frame files (SMIC without a sheet) get onset = offset = 0). Everything else (errata,
  /// labels, membership, keys, frame-number texts, AU strings) is checked as usual. For class counts
  /// (`merx validate`, `merx plan`) without the frames.
  bool frames = true;
  /// true (with `frames`): every frame file a clip uses (onset..offset) is checked with frame_file_problem
  /// (merx/datasets/frames.h: empty, truncated JPEG/PNG/BMP, not an image; a few bytes read per file, nothing
  /// decoded), and each bad file is a problem of its clip naming the file. `merx datasets check` sets it;
  /// preprocessing reads only the onset and apex frames and would miss a bad frame in between.
  bool check_frame_files = false;
};

/// A clip left out, with the reason.
struct DroppedClip {
  std::string key;     // dataset/subject/clip[#n]
  std::string where;   // "FILE, sheet 'S', row N" or the clip folder
  std::string reason;  // every problem of the clip, "; "-joined
};

/// A clip of the membership list that the dataset does not have.
struct MissingListed {
  std::string subject, clip;  // as written in the list
  int line = 0;               // line in the membership file
};

struct LoadResult {
  std::string dataset;  // name
  std::string adapter;
  std::string annotations_sha256;             // "" when no annotation file was read
  std::vector<SampleRecord> samples;          // sheet order (SMIC: subject, emotion, clip order)
  std::vector<DroppedClip> dropped;           // lenient mode: clips dropped for problems
  std::vector<DroppedClip> excluded;          // clips left out by the label mapping / membership (not errors)
  std::vector<MissingListed> missing_listed;  // membership rows of this dataset with no clip
  std::vector<std::string> notes;             // e.g. which errata files were used

  /// Distinct global subjects, sorted.
  std::vector<std::string> subjects() const;
  /// Number of corrections (errata entries applied), over all samples.
  size_t corrections() const;
};

/// Strict-mode failure: every problem found (Problem::path = location, Problem::message = what).
class DatasetError : public ValidationError {
 public:
  using ValidationError::ValidationError;
};

/// Loads one dataset. Throws UserError for an unknown adapter, a bad option, an unreadable annotation file
/// or missing columns; DatasetError (strict) for clip problems.
LoadResult load_dataset(const DatasetSource& source, const LoadOptions& options = {});

/// The local subject ids of a dataset ("sub01", ...), sorted, as loso folds need them (the plan's
/// SubjectProvider). Reads the annotation file / folders only (no frame validation).
std::vector<std::string> dataset_subjects(const DatasetSource& source);

}  // namespace merx
