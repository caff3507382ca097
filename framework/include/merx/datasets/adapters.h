// Registry of dataset adapters (one per corpus), by name. The spec layer validates `datasets[i].adapter`
// against it and `merx datasets list` prints it. Each adapter's reading code lives in
// framework/datasets/<name>/ beside its errata data file (dataset issue).
#pragma once

#include <string>
#include <vector>

namespace merx {

struct AdapterInfo {
  std::string name;         // spec value of `adapter`, e.g. "casme2"
  std::string corpus;       // human name, e.g. "CASME II"
  std::string annotations;  // "required" | "optional" | "none": whether `annotations` must name a file
  std::string description;  // what the adapter expects (layout and annotation file)
};

/// All adapters, sorted by name.
const std::vector<AdapterInfo>& dataset_adapters();

/// The adapter called `name`, or nullptr.
const AdapterInfo* find_adapter(const std::string& name);

}  // namespace merx
