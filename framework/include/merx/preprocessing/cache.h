// Content-addressed feature cache: one file per (sample, recipe) under <root>/prep/<recipe>/<xx>/<key>.mxp.
// key = SHA-256 of { kRecipeVersion, every stage parameter (RecipeConfig::to_json), the face models (file
// name + size), the sample's identity (key, dataset, clip, indices, flags) and its frame files (name, size
// and mtime; or their SHA-256 with content_hash) }. Writes are atomic (temporary file + rename), so a
// concurrent writer or a kill never leaves a partial entry under the final name; an entry that fails its
// checks on read (magic, format number, sizes, checksum) is treated as a miss and rewritten. The entry
// format, field by field: docs/preprocessing.md "Entry format".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "merx/datasets/sample.h"
#include "merx/preprocessing/preprocess.h"

namespace merx::prep {

/// $MERX_CACHE_DIR, else $XDG_CACHE_HOME/merx, else $HOME/.cache/merx (else ./.merx-cache).
std::filesystem::path default_cache_dir();

/// The cache key (64 hex digits). Throws PrepError when a frame file cannot be stat'ed / read.
std::string cache_key(const SampleRecord& sample, const RecipeConfig& config, const FaceModels& models,
                      bool content_hash = false);

enum class CacheOutcome { Computed, Hit, Recomputed };  // Recomputed: a corrupt entry was replaced

class FeatureCache {
 public:
  explicit FeatureCache(std::filesystem::path root = default_cache_dir());
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path entry_path(const std::string& recipe, const std::string& key) const;

  /// nullopt when absent; `corrupt` (if given) is set when a file exists but fails its checks.
  std::optional<PrepResult> load(const std::string& recipe, const std::string& key,
                                 bool* corrupt = nullptr) const;
  /// Atomic write. `sample_key` (SampleRecord::key, e.g. "casme2/sub01/EP02_01f") goes into the header
  /// for people and tools reading the file; it is not checked on load. Throws std::runtime_error when
  /// the folder cannot be written.
  void store(const std::string& recipe, const std::string& key, const PrepResult& result,
             const std::string& sample_key = "") const;

  /// Hit -> the stored result (bit-identical); otherwise runs `prep` and stores the result. PrepError
  /// from the preprocessor propagates (nothing is stored).
  PrepResult get(const Preprocessor& prep, const SampleRecord& sample, CacheOutcome* outcome = nullptr,
                 bool content_hash = false) const;

 private:
  std::filesystem::path root_;
};

/// Statistics for `merx cache info`.
struct CacheStats {
  uint64_t entries = 0, bytes = 0, temporaries = 0;
  std::vector<std::pair<std::string, uint64_t>> per_recipe;  // recipe -> entries
};
CacheStats cache_stats(const std::filesystem::path& root);

/// `merx cache gc`: removes entries not used (read or written) for `older_than_days`, leftover temporary
/// files older than an hour, and entries that fail their checks. Returns {files removed, bytes freed}.
std::pair<uint64_t, uint64_t> cache_gc(const std::filesystem::path& root, double older_than_days);

}  // namespace merx::prep
