// Registry of dataset adapters (one per corpus), by name. The spec layer validates `datasets[i].adapter`
// against it and `merx datasets list` prints it. Each adapter's reading code lives in
// framework/datasets/<name>/ beside its errata data file (dataset issue); load_dataset() (load.h) runs it.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "merx/errors.h"
#include <string>
#include <vector>

namespace merx {

namespace ds {
struct AdapterContext;  // framework/datasets/pipeline.h: what an adapter reads and fills
}

/// One dataset option an adapter accepts (`datasets[i].options.<name>` in a spec).
struct AdapterOption {
  std::string name;           // e.g. "frame_gaps"
  std::string type;           // "int" | "string" | "bool" | "object"
  std::string default_value;  // as text, for docs and `merx datasets list`
  std::string doc;
};

struct AdapterInfo {
  std::string name;         // spec value of `adapter`, e.g. "casme2"
  std::string corpus;       // human name, e.g. "CASME II"
  std::string annotations;  // "required" | "optional" | "none": whether `annotations` must name a file
  std::string description;  // what the adapter expects (layout and annotation file)

  std::vector<std::string> annotation_names;  // default annotation file names looked for under the root
  std::string frames;           // default clip-folder template relative to the root, e.g. "{subject}/{clip}"
  bool layout_verified = true;  // false: the folder layout is a guess (fact sheet GAP); see docs/datasets.md
  double fps = 0;               // frames per second of the recording
  bool grayscale = false;       // frames are single-channel
  bool codes_aus = true;        // the sheet has an AU column (else SampleRecord::aus is nullopt)
  bool codes_apex = true;       // the sheet has an apex column (else the apex is missing or estimated)
  bool apex_midpoint = false;   // a missing apex becomes onset + (offset - onset) / 2 (SMIC)
  bool repeated_clips = false;  // one clip name may carry several expressions (CAS(ME)^3: occurrence n)
  // What the adapter's samples carry: "frames" (every corpus adapter) or "flow_images" (precomputed
  // u/v/strain images, SampleRecord::input_image). A recipe reads one kind (RecipeInfo::input); the spec
  // validator refuses a spec that pairs a recipe with a dataset of the other kind.
  std::string input = "frames";
  std::vector<AdapterOption> options;  // adapter-specific options (the common ones are in load.h docs)
  std::function<void(ds::AdapterContext&)> read;  // reads the sheet / folders into clip rows
};

/// All adapters, sorted by name.
const std::vector<AdapterInfo>& dataset_adapters();

/// The adapter called `name`, or nullptr.
const AdapterInfo* find_adapter(const std::string& name);

/// Problems with a dataset's `options` object: unknown names (with a did-you-mean) and wrong types, each at
/// `<path>.<option>`. Used by the spec validator and by load_dataset().
std::vector<Problem> adapter_option_problems(const AdapterInfo& adapter, const nlohmann::json& options,
                                             const std::string& path);

/// Options every adapter accepts (frame_gaps, errata, frames, pattern, sheet, cropped).
const std::vector<AdapterOption>& common_adapter_options();

}  // namespace merx
